// The data commands of the CLI: tenant, group, member, apikey, quota, usage, federation, audit. Each runs one
// operation of src/admin/dispatch.ts: on the store directly, or with --server through a running server's
// admin API (token from --token or TENANTGATE_ADMIN_TOKEN). Output: a line, or JSON with --json.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import type { Config } from '../core/config.js';
import { StoreError } from '../core/errors.js';
import { TIERS, type Tenant } from '../core/tenants.js';
import { ROLES, type Group, type Membership } from '../core/groups.js';
import type { FederationGrant } from '../core/federation.js';
import type { AuditEntry } from '../core/audit.js';
import type { UsageRow } from '../store/quotas.js';
import { LIMIT_FIELDS, TOKEN_LIMIT_FIELDS, type QuotaOverride, type LimitSet, type TokenOverride } from '../core/limits.js';
import { withLocalStore } from './local-store.js';
import { registerStateCommands } from './state-commands.js';
import { registerTenantPolicyCommands } from './tenant-policy-commands.js';
import { OPERATIONS, keyView } from '../admin/dispatch.js';
import { callAdmin } from '../admin/api.js';
import { CLIENT_TLS_OPTIONS, type ClientTlsFiles } from '../tls/client-tls.js';
import { positiveInt } from './command.js';

export type ConfigLoader = (opts: { config?: string }) => Config;
type Opts = { config?: string; server?: string; token?: string; json?: boolean } & ClientTlsFiles & Record<string, any>;
type KeyView = ReturnType<typeof keyView>;
type TokenRow = { tenant_id: string; subject: string; model: string; window: string; window_start: string; input_tokens: number; output_tokens: number; cost_usd: number; responses: number };

const tenantLine = (t: Tenant) => `${t.id.padEnd(20)} ${t.tier.padEnd(10)} ${t.status.padEnd(9)} ${t.name}${t.upstream ? `  → ${t.upstream}` : ''}`;
const limitLine = (l: LimitSet) => LIMIT_FIELDS.map((k) => `${k.replace('_', '-')}=${l[k] ?? '-'}`).join(' ');
const keyState = (k: KeyView) => (k.revoked_at ? 'revoked' : k.expires_at && Date.parse(k.expires_at) <= Date.now() ? 'expired' : k.rotated_to ? `rotated (valid until ${k.expires_at})` : 'active');

export function registerDataCommands(program: Command, configFrom: ConfigLoader): void {
  const kit = dataCommandKit(configFrom);
  registerTenantCommands(program, kit);
  registerGroupCommands(program, kit);
  registerMemberCommands(program, kit);
  registerApiKeyCommands(program, kit);
  registerQuotaAndUsageCommands(program, kit);
  registerFederationCommands(program, kit);
  registerAuditCommands(program, kit);
  registerStateCommands(program, kit);
  registerTenantPolicyCommands(program, kit);
}

/** What every data command shares: one operation, locally or through the admin API, and its output. */
function dataCommandKit(configFrom: ConfigLoader) {
  /** One operation, locally or through the admin API. */
  const run = async <T>(o: Opts, op: string, req: Record<string, unknown>): Promise<T> => {
    if (o.server) {
      const token = o.token ?? process.env.TENANTGATE_ADMIN_TOKEN;
      if (!token) throw new StoreError('--server needs the admin token: --token or TENANTGATE_ADMIN_TOKEN', 'invalid');
      return (await callAdmin(o.server, token, op, req, o)) as T;
    }
    const config = configFrom(o);
    // A JSON round trip, so local output is exactly what the admin API returns.
    return withLocalStore(config, `cli:${userInfo().username}`, async (admin) => JSON.parse(JSON.stringify((await OPERATIONS[op]!(admin, req, config)) ?? null)) as T);
  };
  const out = (o: Opts, value: unknown, human: () => string) => process.stdout.write((o.json ? JSON.stringify(value, null, 2) : human()) + '\n');
  const common = (c: Command) => {
    c.addOption(new Option('-c, --config <file>', 'config file (default: tenantgate.yaml if present)'))
      .option('--server <addr>', "a running server's admin API (host:port) instead of the store")
      .option('--token <token>', 'admin token for --server (default: $TENANTGATE_ADMIN_TOKEN)');
    for (const [flags, help] of CLIENT_TLS_OPTIONS) c.option(flags, `${help} (with --server)`);
    return c.option('--json', 'print JSON');
  };
  return { run, out, common };
}

type Kit = ReturnType<typeof dataCommandKit>;

// tenant create, list, show, update, suspend, activate, delete
function registerTenantCommands(program: Command, { run, out, common }: Kit): void {
  const tenant = program.command('tenant').description('manage tenants');
  common(tenant.command('create <id>').description('create a tenant (with its default groups: admin, analyst, viewer)'))
    .requiredOption('-n, --name <name>', 'display name')
    .addOption(new Option('-t, --tier <tier>', 'tier').choices(TIERS).default('free'))
    .option('--upstream <cluster>', 'a dedicated upstream (silo tenant): sent as x-tenant-upstream')
    .action(async (id: string, o: Opts) => {
      const t = await run<Tenant>(o, 'CreateTenant', { id, name: o.name, tier: o.tier, upstream: o.upstream });
      out(o, t, () => `created tenant ${t.id} (${t.tier})`);
    });
  common(tenant.command('list').description('list every tenant')).action(async (o: Opts) => {
    const list = await run<Tenant[]>(o, 'ListTenants', {});
    out(o, list, () => list.map(tenantLine).join('\n') || '(no tenants)');
  });
  common(tenant.command('get <id>').description('show one tenant')).action(async (id: string, o: Opts) => {
    const t = await run<Tenant>(o, 'GetTenant', { id });
    out(o, t, () => tenantLine(t));
  });
  for (const [name, op, what] of [['suspend', 'SuspendTenant', 'suspend a tenant: its requests are denied tenant_suspended'], ['resume', 'ResumeTenant', 'resume a suspended tenant']] as const) {
    common(tenant.command(`${name} <id>`).description(what)).action(async (id: string, o: Opts) => {
      const t = await run<Tenant>(o, op, { id });
      out(o, t, () => `tenant ${t.id} is ${t.status}`);
    });
  }
  common(tenant.command('update <id>').description("change a tenant's tier, upstream or billing anchor day"))
    .addOption(new Option('-t, --tier <tier>', 'tier').choices(TIERS))
    .option('--upstream <cluster>', 'dedicated upstream; "" for none (pooled)')
    .option('--billing-anchor-day <day>', 'day of the month (1-28) the monthly quota restarts; 0 for the 1st')
    .action(async (id: string, o: Opts) => {
      const req: Record<string, unknown> = { id, tier: o.tier, upstream: o.upstream };
      if (o.billingAnchorDay !== undefined) {
        const d = Number(o.billingAnchorDay);
        if (!Number.isInteger(d)) throw new StoreError(`invalid billing anchor day "${o.billingAnchorDay}"`, 'invalid');
        req.billing_anchor_day = d;
      }
      const t = await run<Tenant & { changed: boolean }>(o, 'UpdateTenant', req);
      const state = `tier ${t.tier}, upstream ${t.upstream ?? 'none (pooled)'}, billing anchor day ${t.billing_anchor_day ?? '1 (default)'}`;
      out(o, t, () => (t.changed ? `updated tenant ${t.id}: ${state}` : `tenant ${t.id} unchanged: ${state}`));
    });
  common(tenant.command('delete <id>').description('delete a tenant and everything that belongs to it (one transaction, audited)')).action(async (id: string, o: Opts) => {
    const r = await run<{ deleted: string }>(o, 'DeleteTenant', { id });
    out(o, r, () => `deleted tenant ${r.deleted} and all its data`);
  });
}

// a tenant's groups
function registerGroupCommands(program: Command, { run, out, common }: Kit): void {
  const group = program.command('group').description("manage a tenant's groups");
  common(group.command('apply').description('create or update a group from a YAML or JSON document'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('-f, --file <file>', 'group document (- for stdin)')
    .action(async (o: Opts) => {
      const document = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      const r = await run<{ group: Group; created: boolean }>(o, 'ApplyGroup', { tenant: o.tenant, document });
      out(o, r.group, () => `${r.created ? 'created' : 'updated'} group ${r.group.id} in tenant ${o.tenant}`);
    });
  common(group.command('list').description("list a tenant's groups"))
    .requiredOption('--tenant <id>', 'tenant')
    .action(async (o: Opts) => {
      const list = await run<Group[]>(o, 'ListGroups', { tenant: o.tenant });
      out(o, list, () => list.map((g) => `${g.id.padEnd(20)} ${g.type.padEnd(7)} ${g.data_access_level.padEnd(13)} ${g.active ? '' : '(inactive) '}${g.name}`).join('\n') || '(no groups)');
    });
  common(group.command('get').description('show one group'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <group>', 'group id')
    .action(async (o: Opts) => {
      const g = await run<Group>(o, 'GetGroup', { tenant: o.tenant, id: o.id });
      out(o, g, () => JSON.stringify(g, null, 2));
    });
  common(group.command('delete').description('delete a group and its memberships'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <group>', 'group id')
    .action(async (o: Opts) => {
      const r = await run<{ deleted: string }>(o, 'DeleteGroup', { tenant: o.tenant, id: o.id });
      out(o, r, () => `deleted group ${r.deleted} (and its memberships) from tenant ${o.tenant}`);
    });
}

// group memberships
function registerMemberCommands(program: Command, { run, out, common }: Kit): void {
  const member = program.command('member').description('manage group memberships');
  common(member.command('add').description('add a user to a group (an expired membership counts as absent)'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'user id (the token subject)')
    .requiredOption('--group <group>', 'group id')
    .addOption(new Option('--role <role>', 'role in the group').choices(ROLES).default('member'))
    .option('--expires <time>', 'ISO 8601 time or a duration (30d); an expired membership counts as absent')
    .action(async (o: Opts) => {
      const m = await run<Membership>(o, 'AddMember', { tenant: o.tenant, user: o.user, group: o.group, role: o.role, expires: o.expires });
      out(o, m, () => `${m.user_id} is ${m.role} of ${m.group_id} in ${m.tenant_id}${m.expires_at ? ` until ${m.expires_at}` : ''}`);
    });
  common(member.command('remove').description('remove a user from a group'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'user id')
    .requiredOption('--group <group>', 'group id')
    .action(async (o: Opts) => {
      const r = await run<{ removed: Membership }>(o, 'RemoveMember', { tenant: o.tenant, user: o.user, group: o.group });
      out(o, r, () => `removed ${r.removed.user_id} from ${r.removed.group_id} in ${r.removed.tenant_id}`);
    });
  common(member.command('list').description("list a tenant's memberships, or one user's"))
    .requiredOption('--tenant <id>', 'tenant')
    .option('--user <user>', 'only this user')
    .action(async (o: Opts) => {
      const list = await run<Membership[]>(o, 'ListMembers', { tenant: o.tenant, user: o.user });
      out(o, list, () => list.map((m) => `${m.user_id.padEnd(24)} ${m.group_id.padEnd(16)} ${m.role.padEnd(7)} ${m.expires_at ?? ''}`).join('\n') || '(no memberships)');
    });
}

// API keys
function registerApiKeyCommands(program: Command, { run, out, common }: Kit): void {
  const apikey = program.command('apikey').description('manage API keys (only a hash is stored)');
  common(apikey.command('create').description('create a key and print it once'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'the user the key acts as')
    .option('--name <name>', 'a label')
    .addOption(new Option('--tier <tier>', 'quota tier of this key').choices(TIERS))
    .option('--scopes <scopes>', 'comma-separated action:resource scopes the key is limited to')
    .option('--expires <time>', 'ISO 8601 time or a duration (90d)')
    .action(async (o: Opts) => {
      const scopes = o.scopes ? String(o.scopes).split(',').map((x) => x.trim()).filter(Boolean) : [];
      const k = await run<KeyView & { key: string }>(o, 'CreateApiKey', { tenant: o.tenant, user: o.user, name: o.name, tier: o.tier, scopes, expires: o.expires });
      out(o, k, () => `created API key ${k.id} for ${k.user} in ${k.tenant}; it is shown only now:\n${k.key}`);
    });
  common(apikey.command('list').description("list a tenant's keys (never their secrets)"))
    .requiredOption('--tenant <id>', 'tenant')
    .action(async (o: Opts) => {
      const list = await run<KeyView[]>(o, 'ListApiKeys', { tenant: o.tenant });
      out(o, list, () => list.map((k) => `${k.id}  ${k.user.padEnd(24)} ${keyState(k).padEnd(10)} ${k.name}`).join('\n') || '(no API keys)');
    });
  common(apikey.command('revoke').description('revoke a key (applies within a second)'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <key-id>', 'key id')
    .action(async (o: Opts) => {
      const k = await run<KeyView>(o, 'RevokeApiKey', { tenant: o.tenant, id: o.id });
      out(o, k, () => `revoked API key ${k.id}`);
    });
  common(apikey.command('rotate').description('issue a replacement key; the old one keeps working for the grace period'))
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <key-id>', 'key id')
    .option('--grace <duration>', 'how long the old key keeps working', '24h')
    .action(async (o: Opts) => {
      const r = await run<KeyView & { key: string; replaces: string; old_expires_at: string }>(o, 'RotateApiKey', { tenant: o.tenant, id: o.id, grace: o.grace });
      out(o, r, () => `new API key ${r.id} (shown only now):\n${r.key}\nthe old key ${r.replaces} works until ${r.old_expires_at}`);
    });
}

// quota limits and the usage report
function registerQuotaAndUsageCommands(program: Command, { run, out, common }: Kit): void {
  const quota = program.command('quota').description('quota limits per tenant, group or API key');
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined || v === 'none') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new StoreError(`invalid --${name} "${v}": a positive number (or "none" to clear)`, 'invalid');
    return n;
  };
  common(quota.command('set').description('set limits (unnamed ones keep their value; "none" clears one)'))
    .requiredOption('--tenant <id>', 'tenant')
    .option('--key <key-id>', 'for one API key')
    .option('--group <group>', 'for one group (its members)')
    .option('--per-minute <n>', 'requests per minute')
    .option('--per-day <n>', 'requests per day (UTC)')
    .option('--per-month <n>', 'requests per calendar month (UTC, from the billing anchor day)')
    .option('--burst <n>', 'token bucket capacity')
    .option('--rate <n>', 'token bucket refill, requests per second')
    .action(async (o: Opts) => {
      const req: Record<string, unknown> = { tenant: o.tenant, key: o.key, group: o.group, clear: [] as string[] };
      for (const field of LIMIT_FIELDS) {
        // commander names --per-minute perMinute.
        const flag = field.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
        if (o[flag] === 'none') (req.clear as string[]).push(field);
        else req[field] = num(o[flag], field.replace('_', '-'));
      }
      const r = await run<QuotaOverride>(o, 'SetQuota', req);
      out(o, r, () => `${r.scope} ${r.scope_id}: ${limitLine(r)}`);
    });
  registerTokenLimitsCommand(quota, common, run, out, num);
  common(quota.command('get').description('show the limits set for a tenant, group or key (and the tier defaults)'))
    .requiredOption('--tenant <id>', 'tenant')
    .option('--key <key-id>', 'one API key')
    .option('--group <group>', 'one group')
    .action(async (o: Opts) => {
      const r = await run<{ tier: string; scope: string; id: string; override: QuotaOverride | null; tier_defaults: unknown }>(o, 'GetQuota', { tenant: o.tenant, key: o.key, group: o.group });
      out(o, r, () => [`tier ${r.tier} defaults: ${JSON.stringify(r.tier_defaults)}`, `${r.scope} ${r.id}: ${r.override ? limitLine(r.override) : '(no override)'}`].join('\n'));
    });
  common(program.command('usage').description('usage for billing').command('show').description('usage per tenant, key or user and window (day, month), with the totals'))
    .requiredOption('--tenant <id>', 'tenant')
    .option('--from <time>', 'first window start: ISO 8601, or a duration ago (7d)')
    .option('--to <time>', 'windows starting before this: ISO 8601, or a duration ago')
    .option('--csv', 'print CSV')
    .option('--tokens', 'with --csv: the LLM tokens and cost per subject, model and window instead of the requests')
    .action(async (o: Opts) => {
      const r = await run<{ rows: UsageRow[]; tokens: TokenRow[] }>(o, 'ShowUsage', { tenant: o.tenant, from: o.from, to: o.to });
      if (o.csv && o.tokens) {
        const cols = ['tenant_id', 'subject', 'model', 'window', 'window_start', 'input_tokens', 'output_tokens', 'cost_usd', 'responses'] as const;
        process.stdout.write(`${cols.join(',')}\n` + r.tokens.map((x) => cols.map((c) => x[c]).join(',')).join('\n') + (r.tokens.length ? '\n' : ''));
        return;
      }
      if (o.csv) {
        process.stdout.write('tenant,subject,window,window_start,count\n' + r.rows.map((x) => [x.tenant_id, x.subject, x.window, x.window_start, x.count].join(',')).join('\n') + (r.rows.length ? '\n' : ''));
        return;
      }
      const tokens = r.tokens.map((x) => `${x.window.padEnd(6)} ${x.window_start.slice(0, 10)}  ${x.subject.padEnd(30)} ${(x.model || '-').padEnd(24)} in ${x.input_tokens} out ${x.output_tokens} $${x.cost_usd.toFixed(6)} (${x.responses} responses)`);
      out(o, r, () => (r.rows.map((x) => `${x.window.padEnd(6)} ${x.window_start.slice(0, 10)}  ${(x.subject === '*' ? '(tenant)' : x.subject).padEnd(30)} ${x.count}`).join('\n') || '(no usage)') + (tokens.length ? `\ntokens:\n${tokens.join('\n')}` : ''));
    });
}

/** quota tokens: a tenant's, group's or key's LLM token budgets over its tier's. */
function registerTokenLimitsCommand(quota: Command, common: Kit['common'], run: Kit['run'], out: Kit['out'], num: (v: string | undefined, name: string) => number | undefined): void {
  const tokens = common(quota.command('tokens').description('set LLM token budgets over the tier\'s (unnamed ones keep their value; "none" clears one)'))
    .requiredOption('--tenant <id>', 'tenant')
    .option('--key <key-id>', 'for one API key')
    .option('--group <group>', 'for one group (its members)');
  for (const f of TOKEN_LIMIT_FIELDS) tokens.option(`--${f.replace(/_/g, '-')} <n>`, f === 'cost_per_month' ? 'US dollars per calendar month' : f.replace(/_/g, ' '));
  tokens.action(async (o: Opts) => {
    const req: Record<string, unknown> = { tenant: o.tenant, key: o.key, group: o.group, clear: [] as string[] };
    for (const field of TOKEN_LIMIT_FIELDS) {
      const flag = field.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
      if (o[flag] === 'none') (req.clear as string[]).push(field);
      else req[field] = num(o[flag], field.replace(/_/g, '-'));
    }
    const r = await run<TokenOverride>(o, 'SetTokenLimits', req);
    out(o, r, () => `${r.scope} ${r.scope_id}: ${Object.entries(r.limits).map(([k, v]) => `${k.replace(/_/g, '-')}=${v}`).join(' ') || '(none)'}`);
  });
}

// cross-tenant grants
function registerFederationCommands(program: Command, { run, out, common }: Kit): void {
  const federation = program.command('federation').description('cross-tenant access grants');
  common(federation.command('grant').description('let tenant SOURCE access resources of tenant TARGET; prints the federation token'))
    .requiredOption('--source <id>', 'the tenant that gets access')
    .requiredOption('--target <id>', 'the tenant whose resources are shared')
    .requiredOption('--resource-type <type>', 'resource type ("*" for all)')
    .option('--resource-id <id>', 'one resource (default: all of the type)')
    .addOption(new Option('--access <access>', 'read: GET/HEAD/OPTIONS; write: other methods').choices(['read', 'write']).makeOptionMandatory())
    .requiredOption('--expires <time>', 'ISO 8601 time or a duration (30d)')
    .action(async (o: Opts) => {
      const g = await run<FederationGrant & { token: string }>(o, 'GrantFederation', {
        source: o.source, target: o.target, resource_type: o.resourceType, resource_id: o.resourceId, access: o.access, expires: o.expires,
      });
      out(o, g, () => `granted ${g.id}: ${g.source_tenant} may ${g.access} ${g.target_tenant}'s ${g.resource_type}${g.resource_id ? `/${g.resource_id}` : ''} until ${g.expires_at}\nfederation token (send as x-federation-token):\n${g.token}`);
    });
  common(federation.command('revoke').description('revoke a grant (either tenant may)'))
    .requiredOption('--tenant <id>', 'either tenant of the grant')
    .requiredOption('--id <grant>', 'grant id')
    .action(async (o: Opts) => {
      const g = await run<FederationGrant>(o, 'RevokeFederation', { tenant: o.tenant, id: o.id });
      out(o, g, () => `revoked grant ${g.id}`);
    });
  common(federation.command('list').description("list a tenant's grants, as source or target"))
    .requiredOption('--tenant <id>', 'tenant (as source or target)')
    .action(async (o: Opts) => {
      const list = await run<FederationGrant[]>(o, 'ListFederation', { tenant: o.tenant });
      out(o, list, () => list.map((g) => `${g.id}  ${g.source_tenant} → ${g.target_tenant}  ${g.access} ${g.resource_type}${g.resource_id ? `/${g.resource_id}` : ''}  until ${g.expires_at}${g.revoked_at ? ' (revoked)' : ''}`).join('\n') || '(no grants)');
    });
}

// the audit log
function registerAuditCommands(program: Command, { run, out, common }: Kit): void {
  common(program.command('audit').description('the audit log').command('list').description('the newest entries: who changed what, when, with before and after'))
    .option('--tenant <id>', 'only this tenant')
    .option('--limit <n>', 'newest N entries', positiveInt, 100)
    .action(async (o: Opts) => {
      const list = await run<AuditEntry[]>(o, 'ListAudit', { tenant: o.tenant, limit: o.limit });
      out(o, list, () => list.map((e) => `${e.at}  ${e.actor.padEnd(20)} ${e.action.padEnd(18)} ${e.tenant_id ?? '-'}  ${e.target ?? ''}`).join('\n') || '(empty)');
    });
}
