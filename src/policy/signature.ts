// OPA bundle signatures (https://www.openpolicyagent.org/docs/management-bundles#signing): `.signatures.json`
// holds one JWT, signed with the configured key, that lists every file of the bundle with its digest. A bundle is
// used only if the JWT verifies, its scope matches, and every file (and no other) has the digest it lists. Data
// files (data.json, .manifest) are digested as OPA does: canonical JSON, keys sorted, numbers as written.
import { createHash, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import { goJsonString } from '../util/go-text.js';

export interface VerificationConfig {
  key_file: string;
  key_id: string;
  algorithm: string;
  scope?: string;
}

export interface BundleVerifier {
  keyId: string;
  algorithm: string;
  key: KeyObject;
  scope: string;
}

/** The verifier of a config, its key read once (a PEM public key, or the secret itself for HS256/384/512). */
export function bundleVerifier(c: VerificationConfig): BundleVerifier {
  const text = readFileSync(c.key_file);
  const key = c.algorithm.startsWith('HS') ? createSecretKey(text) : createPublicKey(text);
  return { keyId: c.key_id, algorithm: c.algorithm, key, scope: c.scope ?? '' };
}

const HASHES: Record<string, string> = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', 'SHA-512-224': 'sha512-224', 'SHA-512-256': 'sha512-256' };

/** Throws, saying why, unless the bundle's files are exactly those its signature lists, with their digests. */
export async function verifyBundle(files: ReadonlyMap<string, Buffer>, v: BundleVerifier): Promise<void> {
  const sigFile = files.get('.signatures.json');
  if (!sigFile) throw new Error('bundle missing .signatures.json file');
  const { signatures } = JSON.parse(sigFile.toString('utf8')) as { signatures?: unknown };
  if (!Array.isArray(signatures) || signatures.length !== 1 || typeof signatures[0] !== 'string') {
    throw new Error('.signatures.json: expected exactly one JWT');
  }
  const token = signatures[0];
  const header = jose.decodeProtectedHeader(token);
  const claims = jose.decodeJwt(token) as { files?: { name: string; hash: string; algorithm: string }[]; keyid?: string; scope?: string };
  const keyId = header.kid ?? claims.keyid ?? '';
  if (keyId !== v.keyId) throw new Error(`the bundle is signed with key "${keyId}", not the configured "${v.keyId}"`);
  try {
    await jose.compactVerify(token, v.key, { algorithms: [v.algorithm] });
  } catch (err) {
    throw new Error(`failed to verify the bundle signature: ${(err as Error).message}`);
  }
  if ((claims.scope ?? '') !== v.scope) throw new Error('scope mismatch');
  const listed = new Map((claims.files ?? []).map((f) => [f.name.replace(/^\/+/, ''), f]));
  for (const [name, bytes] of files) {
    if (name === '.signatures.json') continue;
    const f = listed.get(name);
    if (!f) throw new Error(`file ${name} not included in bundle signature`);
    const alg = HASHES[f.algorithm];
    if (!alg) throw new Error(`unsupported hashing algorithm: ${f.algorithm}`);
    const digest = createHash(alg).update(isStructured(name) ? canonicalJson(bytes.toString('utf8')) : bytes).digest('hex');
    if (digest !== f.hash.toLowerCase()) throw new Error(`${name}: digest mismatch (want: ${f.hash}, got: ${digest})`);
    listed.delete(name);
  }
  if (listed.size) throw new Error(`file(s) ${[...listed.keys()].join(', ')} specified in bundle signatures but not found in the target bundle`);
}

const isStructured = (name: string) => {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base === 'data.json' || base === 'data.yaml' || base === 'data.yml' || base === '.manifest';
};

/** JSON text as OPA digests it: objects with sorted keys, no spaces, numbers exactly as written. */
export function canonicalJson(text: string): string {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const str = (): string => {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
    if (!m) throw new Error('invalid JSON in a bundle data file');
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (): string => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, string][] = [];
      ws();
      if (text[i] === '}') return i++, '{}';
      for (;;) {
        ws();
        const k = str();
        ws();
        i++; // ':'
        entries.push([k, value()]);
        ws();
        if (text[i++] === '}') break;
      }
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      return `{${entries.map(([k, v]) => `${goJsonString(k, false)}:${v}`).join(',')}}`;
    }
    if (c === '[') {
      i++;
      const items: string[] = [];
      ws();
      if (text[i] === ']') return i++, '[]';
      for (;;) {
        items.push(value());
        ws();
        if (text[i++] === ']') break;
      }
      return `[${items.join(',')}]`;
    }
    if (c === '"') return goJsonString(str(), false);
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!m) throw new Error('invalid JSON in a bundle data file');
    i += m[0].length;
    return m[0];
  };
  return value();
}

