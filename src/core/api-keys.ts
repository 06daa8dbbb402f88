// API keys: the record, the key's format and how a secret is checked against its stored hash.
import type { Tier } from './tenants.js';
import { equalConstantTime, sha256Hex } from '../util/digest.js';

export const KEY_PREFIX = 'tgk';

export interface ApiKey {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  scopes: string[];
  tier: Tier | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_to: string | null;
  last_used_at: string | null;
}

export interface ApiKeyRecord extends ApiKey {
  /** SHA-256 of the secret, lowercase hex (stored as its 32 bytes). */
  secret_hash: string;
}

export const publicView = ({ secret_hash: _h, ...k }: ApiKeyRecord): ApiKey => k;

/** `tgk_<id>_<secret>`: the id is 16 hex characters, the secret 43 base64url characters. */
const KEY_FORMAT = /^tgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function parseKey(key: string): { id: string; secret: string } | null {
  const m = KEY_FORMAT.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export function secretMatches(secretHash: string, secret: string): boolean {
  return equalConstantTime(secretHash, sha256Hex(secret));
}
