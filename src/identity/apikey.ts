// API key authentication: key id → record (cached), secret compared in constant time, revocation and expiry
// checked on every use. Uses are recorded for `last_used_at` off the hot path.
import { LRUCache } from 'lru-cache';
import { Denial, type Identity } from '../check/types.js';
import { parseKey, secretMatches, type ApiKeyRecord, type ApiKeyRepository } from '../store/apikeys.js';

const ABSENT = Symbol('absent');

export class ApiKeyVerifier {
  private readonly cache: LRUCache<string, ApiKeyRecord | typeof ABSENT>;
  private readonly identities = new WeakMap<ApiKeyRecord, Identity>();

  constructor(
    private readonly repo: ApiKeyRepository,
    cacheSize: number,
    private readonly onUse: (keyId: string) => void,
  ) {
    this.cache = new LRUCache({ max: Math.max(cacheSize, 1) });
  }

  verify(key: string): Identity | Denial {
    const parsed = parseKey(key);
    if (!parsed) return invalidKey('the API key is malformed');
    let rec = this.cache.get(parsed.id);
    if (rec === undefined) {
      rec = this.repo.get(parsed.id) ?? ABSENT;
      this.cache.set(parsed.id, rec);
    }
    if (rec === ABSENT || !secretMatches(rec, parsed.secret)) return invalidKey('the API key is not valid');
    if (rec.revoked_at) return invalidKey('the API key has been revoked');
    if (rec.expires_at && Date.parse(rec.expires_at) <= Date.now()) return invalidKey('the API key has expired');
    this.onUse(rec.id);
    let id = this.identities.get(rec);
    if (!id) {
      id = Object.freeze({
        kind: 'api_key',
        subject: rec.user_id,
        issuer: null,
        tenant_id: rec.tenant_id,
        claims: {},
        api_key_id: rec.id,
        api_key_tier: rec.tier,
        scopes: rec.scopes,
      }) as Identity;
      this.identities.set(rec, id);
    }
    return id;
  }

  invalidate(): void {
    this.cache.clear();
  }
}

function invalidKey(reason: string): Denial {
  return new Denial(401, 'invalid_api_key', reason);
}
