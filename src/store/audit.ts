// The audit log: who changed what, for which tenant, when, with the record before and after.
import type { Db } from './database.js';
import type { AuditEntry, AuditInput } from '../core/audit.js';

type Row = Omit<AuditEntry, 'before' | 'after'> & { before: string | null; after: string | null };

export class AuditLog {
  private readonly insert;
  private readonly all;
  private readonly ofTenant;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO audit_log (at, actor, action, tenant_id, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.all = db.prepare<[number], Row>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?');
    this.ofTenant = db.prepare<[string, number], Row>('SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY seq DESC LIMIT ?');
  }

  append(e: AuditInput): void {
    const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
    this.insert.run(e.at ?? new Date().toISOString(), e.actor, e.action, e.tenant_id, e.target, json(e.before), json(e.after));
  }

  /** Newest first. */
  list(o: { tenant?: string; limit?: number } = {}): AuditEntry[] {
    const limit = o.limit ?? 100;
    const rows = o.tenant ? this.ofTenant.all(o.tenant, limit) : this.all.all(limit);
    return rows.map((r) => ({ ...r, before: r.before ? JSON.parse(r.before) : null, after: r.after ? JSON.parse(r.after) : null }));
  }
}
