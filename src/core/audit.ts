// The audit log's entries: who changed what, for which tenant, when, with the record before and after.
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  tenant_id: string | null;
  target: string | null;
  before: unknown;
  after: unknown;
}

export type AuditInput = Omit<AuditEntry, 'seq' | 'at'> & { at?: string };
