// io.jwt.*: decode, decode_verify and verify_* as OPA has them (topdown/tokens.go): keys from a PEM certificate, a
// PEM public key, a JWK or a JWK set; a key with a kid matching the token's is the only one tried; a key with an
// alg is tried only for tokens of that alg; an invalid signature is `false` (or [false, {}, {}]), a malformed token
// undefined.
import { createHmac, createPrivateKey, createPublicKey, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, X509Certificate, constants, type KeyObject } from 'node:crypto';
import { goJson } from './misc.js';
import { LRUCache } from 'lru-cache';
import { obj, str, type Builtin, type Builtins } from '../wasm/builtin.js';

interface Token {
  header: string;
  payload: string;
  signature: string;
}

interface Key {
  alg: string;
  kid: string;
  key: KeyObject | Buffer;
}

const ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA']);

function split(jwt: unknown): Token {
  const s = str(jwt);
  const parts = s.split('.');
  if (parts.length !== 3) throw new Error('encoded JWT must have 3 sections');
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

/** OPA's base64url.decode: padding optional, anything else refused. */
function base64UrlDecode(s: string): Buffer {
  let padded = s;
  if (!s.endsWith('=')) {
    const r = s.length % 4;
    if (r === 2) padded += '==';
    else if (r === 3) padded += '=';
    else if (r !== 0) throw new Error('illegal base64url string');
  }
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(padded) || padded.length % 4 !== 0) throw new Error('illegal base64url string');
  return Buffer.from(padded, 'base64url');
}

function jsonObject(bytes: Buffer | string): Record<string, unknown> {
  const v = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('decoded JSON type was not an Object');
  return v as Record<string, unknown>;
}

function decodeHeader(t: Token): Record<string, unknown> {
  const h = jsonObject(base64UrlDecode(t.header));
  if (h.enc !== undefined) throw new Error('JWT is a JWE object, which is not supported');
  return h;
}

function decodeToken(jwt: unknown): unknown[] {
  const t = split(jwt);
  const header = decodeHeader(t);
  const payloadText = base64UrlDecode(t.payload).toString('utf8');
  // A nested token (cty JWT) is decoded in turn; jwt.io-style quotes around it are dropped.
  if (header.cty === 'JWT') return decodeToken(payloadText.replace(/^["']+|["']+$/g, ''));
  return [header, jsonObject(payloadText), base64UrlDecode(t.signature).toString('hex')];
}

const decode: Builtin = ([jwt]) => decodeToken(jwt);

// Parsing a key set costs far more than a verification; policies pass the same few sets over and over.
const keyCache = new LRUCache<string, Key[]>({ max: 64 });

function keysOf(text: string): Key[] {
  let keys = keyCache.get(text);
  if (!keys) keyCache.set(text, (keys = parseKeys(text)));
  return keys;
}

function parseKeys(text: string): Key[] {
  const pem = /^-----BEGIN ([A-Z ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----\r?\n?/.exec(text.trimStart());
  if (pem) {
    if (text.trimStart().slice(pem[0].length).trim() !== '') throw new Error('extra data after a PEM certificate block');
    if (pem[1] === 'CERTIFICATE') return [{ alg: '', kid: '', key: new X509Certificate(pem[0]).publicKey }];
    if (pem[1] === 'PUBLIC KEY') return [{ alg: '', kid: '', key: createPublicKey(pem[0]) }];
    throw new Error('failed to extract a Key from the PEM certificate');
  }
  const parsed = JSON.parse(text) as { keys?: unknown[] } & Record<string, unknown>;
  const list = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
  const out: Key[] = [];
  for (const k of list as Record<string, unknown>[]) {
    const alg = typeof k.alg === 'string' ? k.alg : '';
    if (alg && !ALGS.has(alg)) continue;
    const key = k.kty === 'oct' ? Buffer.from(str(k.k), 'base64url') : createPublicKey({ key: k as never, format: 'jwk' });
    out.push({ alg, kid: typeof k.kid === 'string' ? k.kid : '', key });
  }
  return out;
}

const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Whether `signature` signs `data` under `alg` with `key`; false for a key of the wrong kind. */
function verifyWith(alg: string, key: KeyObject | Buffer, data: Buffer, signature: Buffer): boolean {
  try {
    const hash = HASHES[alg.slice(2)];
    if (alg.startsWith('HS')) {
      const secret = Buffer.isBuffer(key) ? key : undefined;
      if (!secret || !hash) return false;
      const mac = createHmac(hash, secret).update(data).digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    if (Buffer.isBuffer(key)) return false;
    if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, data, key, signature);
    if (!hash) return false;
    if (alg.startsWith('RS')) return key.asymmetricKeyType === 'rsa' && cryptoVerify(hash, data, key, signature);
    if (alg.startsWith('PS')) {
      return key.asymmetricKeyType === 'rsa' && cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
    }
    if (alg.startsWith('ES')) return key.asymmetricKeyType === 'ec' && cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
  return false;
}

/** OPA's key choice: the key whose kid matches the token's alone, else every key whose alg is unset or matches. */
function verifyWithKeys(keys: Key[], kid: string, alg: string, tokenAlg: string, t: Token, signature: Buffer): boolean {
  const data = Buffer.from(`${t.header}.${t.payload}`);
  if (kid) {
    const k = keys.find((x) => x.kid === kid);
    if (k) return verifyWith(alg, k.key, data, signature);
  }
  return keys.some((k) => (k.alg === '' || k.alg === tokenAlg) && verifyWith(alg, k.key, data, signature));
}

function verifier(alg: string): Builtin {
  return ([jwt, keyText]) => {
    const t = split(jwt);
    const keys = keysOf(str(keyText));
    const signature = base64UrlDecode(t.signature);
    const header = decodeHeader(t);
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const tokenAlg = typeof header.alg === 'string' ? header.alg : '';
    return verifyWithKeys(keys, kid, alg, tokenAlg, t, signature);
  };
}

function hmacVerifier(alg: string): Builtin {
  return ([jwt, secret]) => {
    const t = split(jwt);
    const s = str(secret);
    const signature = base64UrlDecode(t.signature);
    return verifyWith(alg, Buffer.from(s), Buffer.from(`${t.header}.${t.payload}`), signature);
  };
}

interface Constraints {
  keys?: Key[];
  secret?: string;
  alg?: string;
  iss?: string;
  aud?: string;
  time: number;
}

function constraintsOf(o: Record<string, unknown>, nowNs: () => bigint): Constraints {
  const c: Constraints = { time: -1 };
  for (const [k, v] of Object.entries(o)) {
    if (k === 'cert') c.keys = keysOf(str(v));
    else if (k === 'secret' || k === 'alg' || k === 'iss' || k === 'aud') c[k] = str(v);
    else if (k === 'time') {
      if (typeof v !== 'number' || v < 0) throw new Error('token time constraint: must be a non-negative number');
      c.time = v;
    } else throw new Error(`unknown token validation constraint: ${k}`);
  }
  if (c.time === -1) c.time = Number(nowNs());
  if ((c.keys ? 1 : 0) + (c.secret ? 1 : 0) !== 1) throw new Error('exactly one key constraint is needed');
  return c;
}

const UNVERIFIED = [false, {}, {}];

const decodeVerify: Builtin = ([jwt, constraints], ctx) => {
  const c = constraintsOf(obj(constraints), () => ctx.now());
  let token = split(jwt);
  let header: Record<string, unknown>;
  let payloadText: string;
  for (;;) {
    header = decodeHeader(token);
    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!alg || !critUnderstood(header)) return UNVERIFIED;
    if (c.alg && c.alg !== alg) return UNVERIFIED;
    const signature = base64UrlDecode(token.signature);
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const ok = c.keys
      ? verifyWithKeys(c.keys, kid, alg, alg, token, signature)
      : verifyWith(alg, Buffer.from(c.secret!), Buffer.from(`${token.header}.${token.payload}`), signature);
    if (!ok) return UNVERIFIED;
    payloadText = base64UrlDecode(token.payload).toString('utf8');
    if (typeof header.cty === 'string' && header.cty.toUpperCase() === 'JWT') {
      token = split(payloadText);
      continue;
    }
    break;
  }
  const payload = jsonObject(payloadText);
  if (c.iss && payload.iss !== c.iss) return UNVERIFIED;
  const aud = payload.aud;
  if (aud !== undefined) {
    const matches = typeof aud === 'string' ? aud === c.aud : Array.isArray(aud) && aud.some((a) => a === c.aud);
    if (!matches) return UNVERIFIED;
  } else if (c.aud) return UNVERIFIED;
  const seconds = c.time / 1e9;
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number') throw new Error('exp value must be a number');
    if (!(seconds < payload.exp)) return UNVERIFIED;
  }
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== 'number') throw new Error('nbf value must be a number');
    if (seconds < payload.nbf) return UNVERIFIED;
  }
  return [true, header, payload];
};

const KNOWN_HEADERS = new Set(['alg', 'kid', 'typ', 'cty', 'crit']);

/** RFC 7515 4.1.11: a critical header parameter that is not understood makes the token invalid. */
function critUnderstood(header: Record<string, unknown>): boolean {
  const crit = header.crit;
  if (crit === undefined) return true;
  if (!Array.isArray(crit)) throw new Error('crit must be a list');
  return crit.every((c) => typeof c === 'string' && (KNOWN_HEADERS.has(c) || header[c] === undefined));
}

/** OPA's JWS signing: the first key of a JWK (set), the header's alg, and a JSON payload unless typ says otherwise. */
function encodeSign(headerText: string, payload: string, jwkText: string): string {
  const parsed = JSON.parse(jwkText) as { keys?: unknown[] } & Record<string, unknown>;
  const jwk = (Array.isArray(parsed.keys) ? parsed.keys[0] : parsed) as Record<string, unknown> | undefined;
  if (!jwk) throw new Error('no keys found in JWK set');
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALGS.has(alg)) throw new Error('missing or invalid alg header');
  if ((typeof header.typ !== 'string' || header.typ === 'JWT') && !isJson(payload)) throw new Error('type is JWT but payload is not JSON');
  const input = `${Buffer.from(headerText).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const hash = HASHES[alg.slice(2)];
  let sig: Buffer;
  if (alg.startsWith('HS')) sig = createHmac(hash!, hmacSecret(jwk)).update(input).digest();
  else {
    const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    const type = key.asymmetricKeyType;
    // A key of another kind than the alg is refused, as jwx refuses it.
    if (alg === 'EdDSA' ? type !== 'ed25519' : alg.startsWith('ES') ? type !== 'ec' : type !== 'rsa') throw new Error('the key does not fit the algorithm');
    if (alg === 'EdDSA') sig = cryptoSign(null, Buffer.from(input), key);
    else if (alg.startsWith('PS')) sig = cryptoSign(hash!, Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
    else if (alg.startsWith('ES')) sig = cryptoSign(hash!, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    else sig = cryptoSign(hash!, Buffer.from(input), key);
  }
  return `${input}.${sig.toString('base64url')}`;
}

/** The HMAC secret jwx takes from a key: an oct key's bytes, or an Ed25519 key's own bytes (its []byte type). */
function hmacSecret(jwk: Record<string, unknown>): Buffer {
  if (jwk.kty === 'oct') return Buffer.from(str(jwk.k), 'base64url');
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const x = Buffer.from(str(jwk.x), 'base64url');
    return typeof jwk.d === 'string' ? Buffer.concat([Buffer.from(jwk.d, 'base64url'), x]) : x;
  }
  throw new Error('the key does not fit the algorithm');
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

export const jwtBuiltins: Builtins = {
  'io.jwt.encode_sign_raw': ([h, p, k]) => encodeSign(str(h), str(p), str(k)),
  'io.jwt.encode_sign': ([h, p, k]) => encodeSign(goJson(obj(h)), goJson(p), goJson(k)),
  'io.jwt.decode': decode,
  'io.jwt.decode_verify': decodeVerify,
  'io.jwt.verify_hs256': hmacVerifier('HS256'),
  'io.jwt.verify_hs384': hmacVerifier('HS384'),
  'io.jwt.verify_hs512': hmacVerifier('HS512'),
  ...Object.fromEntries(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'].map((a) => [`io.jwt.verify_${a.toLowerCase()}`, verifier(a)])),
  'io.jwt.verify_eddsa': verifier('EdDSA'),
};
