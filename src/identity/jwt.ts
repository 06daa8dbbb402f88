// JWT verification with jose: JWKS (file or URL) or an HS shared secret from the environment, per issuer.
// Verified identities are cached by token until the token expires; failures are never cached.
import { NO_SPANS, type Spans } from '../core/spans.js';
import { copyOf } from '../util/copy-of.js';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import * as jose from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config, IssuerConfig } from '../core/config.js';
import { Denial, type Identity } from '../core/types.js';
import { readClaim } from '../core/claims.js';
import { invalidToken, malformed } from './credentials.js';
import { deny } from '../core/denials.js';

type KeyInput = Parameters<typeof jose.jwtVerify>[1];

interface IssuerVerifier {
  issuer: string;
  key: KeyInput;
  options: jose.JWTVerifyOptions;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const SYMMETRIC = ['HS256'];
// A token without exp is cached at most this long, so a revoked key stops working soon after a reload.
const MAX_CACHE_MS = 10 * 60 * 1000;

export class JwtVerifier {
  private readonly issuers = new Map<string, IssuerVerifier>();
  private readonly cache: LRUCache<string, Identity> | undefined;

  constructor(
    private readonly cfg: Config['auth']['jwt'],
    env: NodeJS.ProcessEnv = process.env,
    spans: Spans = NO_SPANS,
  ) {
    for (const iss of cfg.issuers) this.issuers.set(iss.issuer, buildIssuer(iss, cfg, env, spans));
    if (cfg.cache_size > 0) this.cache = new LRUCache<string, Identity>({ max: cfg.cache_size, ttl: MAX_CACHE_MS });
  }

  get configured(): boolean {
    return this.issuers.size > 0;
  }

  readonly stats = { hits: 0, misses: 0 };

  /** Synchronous cache hit, or undefined: lets the pipeline skip a promise for the common case. */
  cached(token: string): Identity | undefined {
    const hit = this.cache?.get(token);
    if (hit) this.stats.hits++;
    return hit;
  }

  async verify(token: string): Promise<Identity | Denial> {
    const hit = this.cache?.get(token);
    if (hit) return hit;
    const refused = malformed(token);
    if (refused) return refused;
    this.stats.misses++;
    let claims: jose.JWTPayload;
    try {
      claims = jose.decodeJwt(token);
    } catch {
      return invalidToken('the bearer token is malformed');
    }
    const iss = claims.iss;
    const verifier = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
    if (!verifier) return invalidToken('the token was not issued by a trusted issuer');
    // An expired token is refused before its signature is checked: clients resend expired tokens until they
    // refresh, and the answer (401 invalid_token) is the same whether or not the signature is good.
    if (typeof claims.exp === 'number' && (claims.exp + this.cfg.clock_tolerance_seconds) * 1000 <= Date.now()) {
      return invalidToken('the token has expired');
    }
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, verifier.key as never, verifier.options));
    } catch (err) {
      return verifyError(err);
    }
    // jose checks iat only against a maximum age; a token "issued" in the future is refused here, as its nbf would be.
    if (typeof payload.iat === 'number' && (payload.iat - this.cfg.clock_tolerance_seconds) * 1000 > Date.now()) {
      return invalidToken('the token was issued in the future');
    }
    const identity = this.toIdentity(payload);
    if (identity instanceof Denial) return identity;
    if (this.cache) {
      const ms = typeof payload.exp === 'number' ? payload.exp * 1000 - Date.now() : MAX_CACHE_MS;
      // A copy: the token is a slice of the decoded request, which the cache would keep alive whole.
      if (ms > 0) this.cache.set(copyOf(token), identity, { ttl: Math.min(ms, MAX_CACHE_MS) });
    }
    return identity;
  }

  private toIdentity(claims: jose.JWTPayload): Identity | Denial {
    const tenant = readClaim(claims, this.cfg.tenant_claim);
    // A number is not read as a tenant id: {"tenant_id": 42} must not become tenant "42".
    if (tenant !== undefined && tenant !== null && typeof tenant !== 'string') {
      return invalidToken(`the token's "${this.cfg.tenant_claim}" claim must be a string`);
    }
    const subject = readClaim(claims, this.cfg.user_claim);
    const scope = claims['scope'] ?? claims['scp'];
    const groups = this.cfg.groups_claim ? readClaim(claims, this.cfg.groups_claim) : undefined;
    return Object.freeze({
      kind: 'jwt',
      subject: typeof subject === 'string' ? subject : null,
      issuer: claims.iss ?? null,
      // Kept raw here; the tenancy phase validates its presence and syntax.
      tenant_id: typeof tenant === 'string' ? tenant : null,
      claims: claims as Record<string, unknown>,
      api_key_id: null,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : Array.isArray(scope) ? scope.map(String) : [],
      claim_groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : typeof groups === 'string' ? groups.split(/[\s,]+/).filter(Boolean) : [],
    }) as Identity;
  }
}

function buildIssuer(iss: IssuerConfig, cfg: Config['auth']['jwt'], env: NodeJS.ProcessEnv, spans: Spans): IssuerVerifier {
  const options: jose.JWTVerifyOptions = {
    issuer: iss.issuer,
    clockTolerance: cfg.clock_tolerance_seconds,
    requiredClaims: cfg.require_exp ? ['exp'] : [],
  };
  if (iss.audiences) options.audience = iss.audiences;
  let key: KeyInput;
  if (iss.secret_env) {
    const secret = env[iss.secret_env];
    if (!secret) throw new Error(`auth.jwt.issuers[${iss.issuer}].secret_env: environment variable ${iss.secret_env} is not set`);
    key = new TextEncoder().encode(secret);
    options.algorithms = iss.algorithms ?? SYMMETRIC;
  } else if (iss.jwks_file) {
    let jwks: jose.JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(iss.jwks_file, 'utf8')) as jose.JSONWebKeySet;
      key = jose.createLocalJWKSet(jwks);
    } catch (err) {
      throw new Error(`auth.jwt.issuers[${iss.issuer}].jwks_file: cannot load ${iss.jwks_file}: ${(err as Error).message}`);
    }
    options.algorithms = iss.algorithms ?? ASYMMETRIC;
  } else {
    // jose refetches on an unknown kid, at most once per cooldown, and caches the set in between.
    const fetcher = iss.jwks_ca_file ? fetchTrusting(readFileSync(iss.jwks_ca_file)) : undefined;
    // Traced, each fetch is a child span of the check that needed the keys.
    const traced = spans.enabled ? (url: string, init: { signal: AbortSignal; headers: Headers }) => spans.around('tenantgate.jwks.fetch', () => (fetcher ?? fetch)(url, init)) : fetcher;
    key = jose.createRemoteJWKSet(new URL(iss.jwks_url!), {
      cooldownDuration: iss.jwks_cooldown_seconds * 1000,
      timeoutDuration: 2000,
      ...(traced ? { [jose.customFetch]: traced } : {}),
    });
    options.algorithms = iss.algorithms ?? ASYMMETRIC;
  }
  return { issuer: iss.issuer, key, options };
}

function verifyError(err: unknown): Denial {
  const e = err as { code?: string; claim?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return invalidToken('the token has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return invalidToken(e.claim === 'nbf' ? 'the token is not valid yet' : `the token's "${e.claim ?? 'claims'}" claim is not accepted`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('the token signature is not valid');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalidToken('no trusted key matches the token');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return invalidToken('the token algorithm is not allowed');
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return jwksUnavailable();
    case 'ERR_JOSE_GENERIC':
      // jose's error for a non-200 answer from the JWKS endpoint.
      return /JSON Web Key Set/.test(String((err as Error).message)) ? jwksUnavailable() : invalidToken('the token is not valid');
    case undefined:
      // Not a JOSE error: the key set could not be fetched (network). Our failure, not the caller's: fail closed.
      return jwksUnavailable();
    default:
      return invalidToken('the token is not valid');
  }
}

function jwksUnavailable(): Denial {
  return deny('jwks_unavailable', 'the identity provider keys are not available');
}

/**
 * A fetch for jose that trusts the given CA (a JWKS server with a private CA). Node's global fetch takes no CA
 * option without undici's Agent, which Node does not export; https.request does.
 */
function fetchTrusting(ca: Buffer): (url: string, init: { signal: AbortSignal; headers: Headers }) => Promise<Response> {
  return (url, init) =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(url, { ca, headers: Object.fromEntries(init.headers), signal: init.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 502 })));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}
