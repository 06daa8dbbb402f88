// Quota limit overrides (per tenant, group or API key) and the persisted usage counters.
import type { Db } from './database.js';
import { StoreError } from '../core/errors.js';
import { mergeTokenLimits, type LimitSet, type QuotaOverride, type QuotaScope, type TokenLimitChange, type TokenLimits, type TokenOverride } from '../core/limits.js';
import { checkLimits, mergeLimits } from '../core/validate.js';
import type { UsageDelta, UsageSource } from '../quota/limiter.js';
import type { OverrideSource } from '../quota/service.js';

export type { UsageRow } from '../core/admin-store.js';
import type { TokenDelta, TokenUsageRow, UsageRow } from '../core/admin-store.js';

export class QuotaRepository implements UsageSource, OverrideSource {
  private readonly getStmt;
  private readonly ofTenant;
  private readonly upsert;
  private readonly loadStmt;
  private readonly addStmt;
  private readonly reportStmt;
  private readonly addTokensStmt;
  private readonly tokenReportStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string, string, string], QuotaOverride>('SELECT * FROM quota_overrides WHERE tenant_id = ? AND scope = ? AND scope_id = ?');
    this.ofTenant = db.prepare<[string], QuotaOverride>('SELECT * FROM quota_overrides WHERE tenant_id = ? ORDER BY scope, scope_id');
    this.upsert = db.prepare(
      `INSERT INTO quota_overrides (tenant_id, scope, scope_id, per_minute, per_day, per_month, burst, rate, updated_at)
       VALUES (@tenant_id, @scope, @scope_id, @per_minute, @per_day, @per_month, @burst, @rate, @updated_at)
       ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET per_minute = excluded.per_minute, per_day = excluded.per_day,
         per_month = excluded.per_month, burst = excluded.burst, rate = excluded.rate, updated_at = excluded.updated_at`,
    );
    this.loadStmt = db.prepare<[string, string, string, string], { count: number }>(
      'SELECT count FROM quota_usage WHERE tenant_id = ? AND subject = ? AND window = ? AND window_start = ?',
    );
    this.addStmt = db.prepare(
      `INSERT INTO quota_usage (tenant_id, subject, window, window_start, count) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, subject, window, window_start) DO UPDATE SET count = count + excluded.count`,
    );
    this.reportStmt = db.prepare<[string, string, string], UsageRow>(
      'SELECT * FROM quota_usage WHERE tenant_id = ? AND window_start >= ? AND window_start < ? ORDER BY window, window_start, subject',
    );
    this.addTokensStmt = db.prepare(
      `INSERT INTO token_usage (tenant_id, subject, model, window, window_start, input_tokens, output_tokens, cost_nano_usd, responses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, subject, model, window, window_start) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens, cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd, responses = responses + excluded.responses`,
    );
    this.tokenReportStmt = db.prepare<[string, string, string], TokenUsageRow>(
      'SELECT * FROM token_usage WHERE tenant_id = ? AND window_start >= ? AND window_start < ? ORDER BY window, window_start, subject, model',
    );
  }

  /** Adds a batch of token counts (inside the caller's transaction). */
  addTokens(deltas: TokenDelta[]): void {
    for (const d of deltas) this.addTokensStmt.run(d.tenant, d.subject, d.model, d.window, new Date(d.start).toISOString(), d.input, d.output, d.costNanoUsd, d.responses);
  }

  tokenUsage(tenantId: string, from: string, to: string): TokenUsageRow[] {
    return this.tokenReportStmt.all(tenantId, from, to);
  }

  get(tenantId: string, scope: QuotaScope, scopeId: string): QuotaOverride | undefined {
    return this.getStmt.get(tenantId, scope, scopeId);
  }

  list(tenantId: string): QuotaOverride[] {
    return this.ofTenant.all(tenantId);
  }

  /** Sets the given fields (others keep their value; null clears one). */
  set(tenantId: string, scope: QuotaScope, scopeId: string, change: LimitSet): QuotaOverride {
    checkLimits(change);
    this.requireScope(tenantId, scope, scopeId);
    const before = this.get(tenantId, scope, scopeId);
    this.upsert.run({ tenant_id: tenantId, scope, scope_id: scopeId, updated_at: new Date().toISOString(), ...mergeLimits(before, change) });
    return this.get(tenantId, scope, scopeId)!;
  }

  /** The tenant, and the group or key an override is for, must exist. */
  private requireScope(tenantId: string, scope: QuotaScope, scopeId: string): void {
    if (!this.db.prepare('SELECT 1 FROM tenants WHERE id = ?').get(tenantId)) throw new StoreError(`unknown tenant ${tenantId}`, 'not_found');
    if (scope === 'group' && !this.db.prepare('SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?').get(tenantId, scopeId)) {
      throw new StoreError(`unknown group ${scopeId} in tenant ${tenantId}`, 'not_found');
    }
    if (scope === 'key' && !this.db.prepare('SELECT 1 FROM api_keys WHERE tenant_id = ? AND id = ?').get(tenantId, scopeId)) {
      throw new StoreError(`unknown API key ${scopeId} in tenant ${tenantId}`, 'not_found');
    }
  }

  /** OverrideSource: the token budget overrides of a tenant. */
  tokens(tenantId: string): TokenOverride[] {
    return this.tokenOverrides(tenantId);
  }

  tokenOverrides(tenantId: string): TokenOverride[] {
    return this.db.prepare<[string], TokenOverrideRow>('SELECT * FROM token_overrides WHERE tenant_id = ? ORDER BY scope, scope_id').all(tenantId).map(tokenOverrideFromRow);
  }

  tokenOverride(tenantId: string, scope: QuotaScope, scopeId: string): TokenOverride | undefined {
    const r = this.db.prepare<[string, string, string], TokenOverrideRow>('SELECT * FROM token_overrides WHERE tenant_id = ? AND scope = ? AND scope_id = ?').get(tenantId, scope, scopeId);
    return r && tokenOverrideFromRow(r);
  }

  /** Sets the given token budgets of a scope (others keep theirs; null clears one; none left removes the row). */
  setTokenLimits(tenantId: string, scope: QuotaScope, scopeId: string, change: TokenLimitChange): TokenOverride {
    this.requireScope(tenantId, scope, scopeId);
    const before = this.tokenOverride(tenantId, scope, scopeId);
    let limits: TokenLimits;
    try {
      limits = mergeTokenLimits(before?.limits, change);
    } catch (err) {
      throw new StoreError((err as Error).message, 'invalid');
    }
    const updated_at = new Date().toISOString();
    if (Object.keys(limits).length === 0) this.db.prepare('DELETE FROM token_overrides WHERE tenant_id = ? AND scope = ? AND scope_id = ?').run(tenantId, scope, scopeId);
    else {
      this.db
        .prepare('INSERT INTO token_overrides (tenant_id, scope, scope_id, limits, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET limits = excluded.limits, updated_at = excluded.updated_at')
        .run(tenantId, scope, scopeId, JSON.stringify(limits), updated_at);
    }
    return { tenant_id: tenantId, scope, scope_id: scopeId, limits, updated_at };
  }

  load(tenant: string, subject: string, window: 'day' | 'month', start: number): number {
    return this.loadStmt.get(tenant, subject, window, new Date(start).toISOString())?.count ?? 0;
  }

  /** One transaction for the whole batch. */
  addUsage(deltas: UsageDelta[]): void {
    if (!deltas.length) return;
    this.db.transaction(() => {
      for (const d of deltas) this.addStmt.run(d.tenant, d.subject, d.window, new Date(d.start).toISOString(), d.count);
    })();
  }

  usage(tenantId: string, from: string, to: string): UsageRow[] {
    return this.reportStmt.all(tenantId, from, to);
  }
}

export interface TokenOverrideRow {
  tenant_id: string;
  scope: QuotaScope;
  scope_id: string;
  limits: string;
  updated_at: string;
}

export const tokenOverrideFromRow = (r: TokenOverrideRow): TokenOverride => ({ ...r, limits: JSON.parse(r.limits) as TokenLimits });
