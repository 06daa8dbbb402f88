// API keys: shown once, stored as a key id (for lookup) and a SHA-256 of the secret (compared in constant time).
// The secret is 256 random bits, so a fast hash is the right tool; a password hash would only slow the hot path.
import { randomBytes } from 'node:crypto';
import type { Db } from './database.js';
import { StoreError } from '../core/errors.js';
import type { Tier } from '../core/tenants.js';
import { checkScopes, checkTier, checkUser, isoExpiry } from '../core/validate.js';
import type { ApiKeySource } from '../identity/apikey.js';
import { sha256Bytes } from '../util/digest.js';
import { KEY_PREFIX, publicView, type ApiKey, type ApiKeyRecord } from '../core/api-keys.js';

type Row = Omit<ApiKeyRecord, 'scopes'> & { scopes: string };
// Field by field, as groups.ts does: a literal rather than a spread of the row, which copies it on V8's generic path.
const fromRow = (r: Row): ApiKeyRecord => ({
  id: r.id,
  tenant_id: r.tenant_id,
  user_id: r.user_id,
  name: r.name,
  scopes: JSON.parse(r.scopes),
  tier: r.tier,
  created_at: r.created_at,
  expires_at: r.expires_at,
  revoked_at: r.revoked_at,
  rotated_to: r.rotated_to,
  last_used_at: r.last_used_at,
  secret_hash: r.secret_hash,
});
// The hash as hex from SQLite itself: a BLOB column would come back as a Buffer (an ArrayBuffer per row).
const COLUMNS = 'id, tenant_id, user_id, name, lower(hex(secret_hash)) AS secret_hash, scopes, tier, created_at, expires_at, revoked_at, rotated_to, last_used_at';

export class ApiKeyRepository implements ApiKeySource {
  private readonly byId;
  private readonly ofTenant;
  private readonly insert;
  private readonly revokeStmt;
  private readonly rotateStmt;
  private readonly touchStmt;
  private readonly touchSlice;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`);
    this.ofTenant = db.prepare<[string], Row>(`SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`);
    this.insert = db.prepare(
      `INSERT INTO api_keys (id, tenant_id, user_id, name, secret_hash, scopes, tier, created_at, expires_at)
       VALUES (@id, @tenant_id, @user_id, @name, @secret_hash, @scopes, @tier, @created_at, @expires_at)`,
    );
    this.revokeStmt = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.rotateStmt = db.prepare('UPDATE api_keys SET rotated_to = ?, expires_at = ? WHERE id = ?');
    this.touchStmt = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
    this.touchSlice = db.transaction((ids: readonly string[], from: number, at: string, until: number): number => {
      let i = from;
      do this.touchStmt.run(at, ids[i++]);
      while (i < ids.length && performance.now() < until);
      return i;
    });
  }

  get(id: string): ApiKeyRecord | undefined {
    const r = this.byId.get(id);
    return r && fromRow(r);
  }

  list(tenantId: string): ApiKey[] {
    return this.ofTenant.all(tenantId).map((r) => publicView(fromRow(r)));
  }

  /** Returns the record and the full key; the key is never stored and cannot be shown again. */
  create(o: { tenant_id: string; user_id: string; name?: string; scopes?: string[]; tier?: Tier | null; expires_at?: string | null }): { record: ApiKey; key: string } {
    if (!this.db.prepare('SELECT 1 FROM tenants WHERE id = ?').get(o.tenant_id)) throw new StoreError(`unknown tenant ${o.tenant_id}`, 'not_found');
    checkUser(o.user_id);
    const scopes = o.scopes ?? [];
    checkScopes(scopes);
    if (o.tier) checkTier(o.tier);
    const expires = isoExpiry(o.expires_at);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    this.insert.run({
      id,
      tenant_id: o.tenant_id,
      user_id: o.user_id,
      name: o.name ?? '',
      secret_hash: sha256Bytes(secret),
      scopes: JSON.stringify(scopes),
      tier: o.tier ?? null,
      created_at: new Date().toISOString(),
      expires_at: expires,
    });
    return { record: publicView(this.get(id)!), key: `${KEY_PREFIX}_${id}_${secret}` };
  }

  private owned(tenantId: string, id: string): ApiKeyRecord {
    const k = this.get(id);
    if (!k || k.tenant_id !== tenantId) throw new StoreError(`unknown API key ${id} in tenant ${tenantId}`, 'not_found');
    return k;
  }

  revoke(tenantId: string, id: string): ApiKey {
    const k = this.owned(tenantId, id);
    if (k.revoked_at) throw new StoreError(`API key ${id} is already revoked`, 'conflict');
    this.revokeStmt.run(new Date().toISOString(), id);
    return publicView(this.get(id)!);
  }

  /** A new key with the same owner and scopes; the old one keeps working for `graceSeconds`, then expires. */
  rotate(tenantId: string, id: string, graceSeconds: number): { old: ApiKey; record: ApiKey; key: string } {
    return this.db.transaction(() => {
      const k = this.owned(tenantId, id);
      if (k.revoked_at) throw new StoreError(`API key ${id} is revoked`, 'conflict');
      const created = this.create({ tenant_id: k.tenant_id, user_id: k.user_id, name: k.name, scopes: k.scopes, tier: k.tier, expires_at: k.expires_at });
      const graceEnd = new Date(Date.now() + graceSeconds * 1000);
      const expires = k.expires_at && Date.parse(k.expires_at) < graceEnd.getTime() ? k.expires_at : graceEnd.toISOString();
      this.rotateStmt.run(created.record.id, expires, id);
      return { old: publicView(this.get(id)!), ...created };
    }).immediate(); // reads first, then writes: see Admin.change
  }

  /**
   * Records the last use of ids[from...] in one transaction until `budgetMs` has passed (one row at least), and
   * returns where it stopped: the server writes in slices this short with checks answered in between.
   */
  touchFor(ids: readonly string[], from: number, at: string, budgetMs: number): number {
    return this.touchSlice(ids, from, at, performance.now() + budgetMs);
  }
}
