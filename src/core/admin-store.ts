// What the admin operations (the CLI, the admin API) need of a store, whatever the engine: SQLite answers at once,
// PostgreSQL with promises, and the operations await either. Every change runs in one transaction with its audit
// entry.
import type { Tenant, TenantStatus, Tier } from './tenants.js';
import type { Group, Membership, MembershipRole } from './groups.js';
import type { ApiKey } from './api-keys.js';
import type { FederationGrant } from './federation.js';
import type { AuditEntry } from './audit.js';
import type { LimitSet, QuotaOverride, QuotaScope, TokenLimitChange, TokenOverride } from './limits.js';
import type { TenantPolicy, TenantPolicyInput } from './tenant-rules.js';

export type Awaitable<T> = T | Promise<T>;

export interface UsageRow {
  tenant_id: string;
  subject: string;
  window: 'day' | 'month';
  window_start: string;
  count: number;
}

/** LLM tokens a tenant's responses used, per subject ("key:<id>", "user:<id>"), model and window. */
export interface TokenUsageRow {
  tenant_id: string;
  subject: string;
  model: string;
  window: 'day' | 'month';
  window_start: string;
  input_tokens: number;
  output_tokens: number;
  cost_nano_usd: number;
  responses: number;
}

/** What is added to those rows: one batch of a server's counts (genai/meter.ts). */
export interface TokenDelta {
  tenant: string;
  subject: string;
  model: string;
  window: 'day' | 'month';
  start: number;
  input: number;
  output: number;
  costNanoUsd: number;
  responses: number;
}

export interface KeyInput {
  tenant_id: string;
  user_id: string;
  name?: string;
  scopes?: string[];
  tier?: Tier | null;
  expires_at?: string | null;
}

export interface GrantInput {
  source: string;
  target: string;
  resource_type: string;
  resource_id?: string | null;
  access: string;
  expires_at: string;
}

export interface MemberInput {
  tenant_id: string;
  user_id: string;
  group_id: string;
  role?: MembershipRole;
  expires_at?: string | null;
}

export interface TenantChange {
  upstream?: string | null;
  tier?: Tier;
  billing_anchor_day?: number | null;
}

export interface AdminStore {
  readonly tenants: { get(id: string): Awaitable<Tenant | undefined>; list(): Awaitable<Tenant[]> };
  readonly groups: {
    get(tenantId: string, id: string): Awaitable<Group | undefined>;
    list(tenantId: string): Awaitable<Group[]>;
    memberships(tenantId: string, userId?: string): Awaitable<Membership[]>;
  };
  readonly apiKeys: { list(tenantId: string): Awaitable<ApiKey[]> };
  readonly federation: { list(tenantId: string): Awaitable<FederationGrant[]> };
  readonly quotas: {
    get(tenantId: string, scope: QuotaScope, scopeId: string): Awaitable<QuotaOverride | undefined>;
    list(tenantId: string): Awaitable<QuotaOverride[]>;
    usage(tenantId: string, from: string, to: string): Awaitable<UsageRow[]>;
    tokenUsage(tenantId: string, from: string, to: string): Awaitable<TokenUsageRow[]>;
    tokenOverrides(tenantId: string): Awaitable<TokenOverride[]>;
  };
  readonly audit: { list(o?: { tenant?: string; limit?: number }): Awaitable<AuditEntry[]> };
  readonly tenantPolicies: { get(tenantId: string): Awaitable<TenantPolicy | undefined> };

  tenantCreate(o: { id: string; name: string; tier: Tier; status?: TenantStatus; upstream?: string | null }): Awaitable<Tenant>;
  tenantSetStatus(id: string, status: TenantStatus): Awaitable<Tenant>;
  tenantUpdate(id: string, change: TenantChange): Awaitable<{ tenant: Tenant; changed: boolean }>;
  tenantDelete(id: string): Awaitable<Tenant>;
  groupApply(tenantId: string, doc: unknown): Awaitable<{ group: Group; created: boolean }>;
  groupDelete(tenantId: string, id: string): Awaitable<Group>;
  memberAdd(o: MemberInput): Awaitable<Membership>;
  memberRemove(tenantId: string, userId: string, groupId: string): Awaitable<Membership>;
  apiKeyCreate(o: KeyInput): Awaitable<{ record: ApiKey; key: string }>;
  apiKeyRevoke(tenantId: string, id: string): Awaitable<ApiKey>;
  apiKeyRotate(tenantId: string, id: string, graceSeconds: number): Awaitable<{ old: ApiKey; record: ApiKey; key: string }>;
  quotaSet(tenantId: string, scope: QuotaScope, scopeId: string, change: LimitSet): Awaitable<QuotaOverride>;
  tokenLimitsSet(tenantId: string, scope: QuotaScope, scopeId: string, change: TokenLimitChange): Awaitable<TokenOverride>;
  federationGrant(o: GrantInput): Promise<{ grant: FederationGrant; token: string }>;
  federationRevoke(tenantId: string, id: string): Awaitable<FederationGrant>;
  /** Replaces the tenant's own rules and Rego (already checked and compiled: tenant-rules/upload.ts). */
  tenantPolicySet(tenantId: string, p: TenantPolicyInput): Awaitable<TenantPolicy>;
  tenantPolicyDelete(tenantId: string): Awaitable<TenantPolicy>;
  /** Runs fn's operations in one transaction: all are committed, or none (apply). */
  atomically<T>(fn: (a: AdminStore) => Promise<T>): Promise<T>;
}

/** What one change touched, so that every replica drops exactly the cache entries it affects. */
export type StoreChange =
  | { kind: 'tenant'; tenant: string }
  | { kind: 'user'; tenant: string; user: string }
  | { kind: 'key'; tenant: string; key: string }
  | { kind: 'quota'; tenant: string }
  | { kind: 'grant'; tenant: string }
  | { kind: 'rules'; tenant: string };
