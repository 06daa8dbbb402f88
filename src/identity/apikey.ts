// API key authentication: key id → what a check needs of the key (cached), the secret's hash compared in constant
// time, revocation and expiry checked on every use. Uses are reported at most once a minute per key and recorded
// for `last_used_at` off the hot path.
import { NO_SPANS, type Spans } from '../core/spans.js';
import { copyOf } from '../util/copy-of.js';
import { LRUCache } from 'lru-cache';
import { Denial, type Identity } from '../core/types.js';
import { parseKey, secretMatches, type ApiKeyRecord } from '../core/api-keys.js';
import { deny } from '../core/denials.js';
import { loadOnce } from '../util/shared.js';

const ABSENT = Symbol('absent');

// A key's last use is recorded at most once a minute: `last_used_at` is for "is this key still in use?", and a
// busy key would otherwise be rewritten every second. Kept on the cache entry: no other structure per key.
export const LAST_USE_RESOLUTION_MS = 60_000;

/** What a check needs of a key, kept instead of its record: the name, the dates as text and the rest of the
 *  row would cost ~300 bytes more per cached key (the scale scenario caches tens of thousands). */
interface CachedKey {
  secretHash: string;
  revoked: boolean;
  /** Epoch ms, or Infinity. */
  expires: number;
  identity: Identity;
  /** When this process last reported the key's use (epoch ms; 0: not yet). */
  reported: number;
}

/** Where the verifier reads keys by id (the store implements it): SQLite answers at once, PostgreSQL later. */
export interface ApiKeySource {
  get(id: string): ApiKeyRecord | undefined | Promise<ApiKeyRecord | undefined>;
}

export class ApiKeyVerifier {
  private readonly cache: LRUCache<string, CachedKey | typeof ABSENT>;
  private readonly pending = new Map<string, Promise<unknown>>();
  /** Moves on with every change (see ContextLoader). */
  private generation = 0;

  constructor(
    private readonly repo: ApiKeySource,
    cacheSize: number,
    private readonly onUse: (keyId: string) => void,
    private readonly spans: Spans = NO_SPANS,
  ) {
    this.cache = new LRUCache({ max: Math.max(cacheSize, 1) });
  }

  verify(key: string): Identity | Denial | Promise<Identity | Denial> {
    const parsed = parseKey(key);
    if (!parsed) return invalidKey('the API key is malformed');
    const entry = this.cache.get(parsed.id);
    if (entry !== undefined) return this.check(entry, parsed.secret);
    // The id copied: the one parsed is a slice of the header value, secret included, which a pending load (or an
    // absent key's cache entry) would keep in memory.
    const id = copyOf(parsed.id);
    const entryOf = loadOnce(this.pending, id, () => {
      const gen = this.generation;
      const rec = this.spans.around('tenantgate.store.api_key', () => this.repo.get(id));
      return rec instanceof Promise ? rec.then((r) => this.keep(id, r, gen)) : this.keep(id, rec, gen);
    });
    return entryOf instanceof Promise ? entryOf.then((e) => this.check(e, parsed.secret)) : this.check(entryOf, parsed.secret);
  }

  /** Caches the key, unless a change came in while the store was being asked (that answer may be stale). */
  private keep(id: string, rec: ApiKeyRecord | undefined, gen = this.generation): CachedKey | typeof ABSENT {
    const entry = rec ? cached(rec) : ABSENT;
    if (gen !== this.generation) return entry;
    this.cache.set(rec ? rec.id : id, entry);
    return entry;
  }

  private check(entry: CachedKey | typeof ABSENT, secret: string): Identity | Denial {
    if (entry === ABSENT || !secretMatches(entry.secretHash, secret)) return invalidKey('the API key is not valid');
    if (entry.revoked) return invalidKey('the API key has been revoked');
    const now = Date.now();
    if (entry.expires <= now) return invalidKey('the API key has expired');
    if (now - entry.reported >= LAST_USE_RESOLUTION_MS) {
      entry.reported = now;
      this.onUse(entry.identity.api_key_id!);
    }
    return entry.identity;
  }

  invalidate(): void {
    this.generation++;
    this.pending.clear();
    this.cache.clear();
  }

  /** A tenant changed (suspended, deleted): its keys' entries go. */
  invalidateTenant(tenantId: string): void {
    this.generation++;
    for (const [id, e] of this.cache.entries()) if (e !== ABSENT && e.identity.tenant_id === tenantId) this.cache.delete(id);
  }

  /** One key changed (revoked, rotated): only its entry goes. */
  invalidateKey(id: string): void {
    this.generation++;
    this.pending.delete(id);
    this.cache.delete(id);
  }
}

/** A copy of a string that is not a slice of a longer one (V8 slices strings of 13 characters or more). */

const NO_CLAIMS: Record<string, unknown> = Object.freeze({});
const NO_SCOPES = Object.freeze([]) as unknown as string[];

function cached(rec: ApiKeyRecord): CachedKey {
  return {
    secretHash: rec.secret_hash,
    revoked: rec.revoked_at !== null,
    expires: rec.expires_at ? Date.parse(rec.expires_at) : Infinity,
    reported: 0,
    identity: Object.freeze({
      kind: 'api_key',
      subject: rec.user_id,
      issuer: null,
      tenant_id: rec.tenant_id,
      claims: NO_CLAIMS,
      api_key_id: rec.id,
      api_key_tier: rec.tier,
      scopes: rec.scopes.length ? rec.scopes : NO_SCOPES,
    }) as Identity,
  };
}

function invalidKey(reason: string): Denial {
  return deny('invalid_api_key', reason);
}
