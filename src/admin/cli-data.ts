// The data commands of the CLI: tenant, group, member, apikey, federation, audit. Each opens the store, runs one
// audited operation (src/admin/operations.ts) and prints a line, or JSON with --json.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { openDatabase } from '../store/database.js';
import { StoreError, TIERS, type Tenant, type Tier } from '../store/tenants.js';
import { ROLES, type MembershipRole } from '../store/groups.js';
import type { ApiKey } from '../store/apikeys.js';
import { Admin } from './operations.js';
import type { LimitSet } from '../quota/limits.js';

export type ConfigLoader = (opts: { config?: string }) => Config;

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(s: string): number {
  const m = DURATION.exec(s.trim()) ?? /^(\d+)()$/.exec(s.trim());
  if (!m) throw new ConfigError(`invalid duration "${s}" (use e.g. 90s, 15m, 1h, 7d)`);
  return Number(m[1]) * (UNIT[m[2] || 's'] ?? 1);
}

/** "7d" (from now) or an ISO 8601 time. */
export function parseExpiry(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (DURATION.test(s.trim())) return new Date(Date.now() + parseDuration(s) * 1000).toISOString();
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new StoreError(`invalid expiry "${s}": use ISO 8601 (2027-01-31T00:00:00Z) or a duration (7d)`, 'invalid');
  return new Date(t).toISOString();
}

function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n');
}

const actor = () => `cli:${userInfo().username}`;
const tenantLine = (t: Tenant) => `${t.id.padEnd(20)} ${t.tier.padEnd(10)} ${t.status.padEnd(9)} ${t.name}${t.upstream ? `  → ${t.upstream}` : ''}`;
const keyView = (k: ApiKey) => ({
  id: k.id,
  user: k.user_id,
  name: k.name,
  scopes: k.scopes,
  tier: k.tier,
  created_at: k.created_at,
  expires_at: k.expires_at,
  revoked_at: k.revoked_at,
  rotated_to: k.rotated_to,
  last_used_at: k.last_used_at,
});
const limitLine = (l: LimitSet) =>
  (['per_minute', 'per_day', 'per_month', 'burst', 'rate'] as const).map((k) => `${k.replace('_', '-')}=${l[k] ?? '-'}`).join(' ');
const keyState = (k: ApiKey) => (k.revoked_at ? 'revoked' : k.expires_at && Date.parse(k.expires_at) <= Date.now() ? 'expired' : k.rotated_to ? `rotated (valid until ${k.expires_at})` : 'active');

export function registerDataCommands(program: Command, configFrom: ConfigLoader): void {
  const cfg = () => new Option('-c, --config <file>', 'config file (default: tenantgate.yaml if present)');
  const withAdmin = <T>(opts: { config?: string }, fn: (a: Admin) => T): T => {
    const config = configFrom(opts);
    const db = openDatabase(config.store.path);
    try {
      return fn(new Admin(db, config, actor()));
    } finally {
      db.close();
    }
  };
  const withAdminAsync = async <T>(opts: { config?: string }, fn: (a: Admin) => Promise<T>): Promise<T> => {
    const config = configFrom(opts);
    const db = openDatabase(config.store.path);
    try {
      return await fn(new Admin(db, config, actor()));
    } finally {
      db.close();
    }
  };

  // tenant
  const tenant = program.command('tenant').description('manage tenants');
  tenant
    .command('create <id>')
    .description('create a tenant (with its default groups: admin, analyst, viewer)')
    .addOption(cfg())
    .requiredOption('-n, --name <name>', 'display name')
    .addOption(new Option('-t, --tier <tier>', 'tier').choices(TIERS).default('free'))
    .option('--upstream <cluster>', 'a dedicated upstream (silo tenant): sent as x-tenant-upstream')
    .option('--json', 'print JSON')
    .action((id: string, o) => {
      const t = withAdmin(o, (a) => a.tenantCreate({ id, name: o.name, tier: o.tier as Tier, upstream: o.upstream }));
      print(o.json, t, () => `created tenant ${t.id} (${t.tier})`);
    });
  tenant
    .command('list')
    .addOption(cfg())
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => a.tenants.list());
      print(o.json, list, () => list.map(tenantLine).join('\n') || '(no tenants)');
    });
  tenant
    .command('get <id>')
    .addOption(cfg())
    .option('--json', 'print JSON')
    .action((id: string, o) => {
      const t = withAdmin(o, (a) => a.tenants.get(id));
      if (!t) throw new StoreError(`unknown tenant ${id}`, 'not_found');
      print(o.json, t, () => tenantLine(t));
    });
  for (const [name, status] of [['suspend', 'suspended'], ['resume', 'active']] as const) {
    tenant
      .command(`${name} <id>`)
      .addOption(cfg())
      .option('--json', 'print JSON')
      .action((id: string, o) => {
        const t = withAdmin(o, (a) => a.tenantSetStatus(id, status));
        print(o.json, t, () => `tenant ${t.id} is ${t.status}`);
      });
  }
  tenant
    .command('update <id>')
    .description("change a tenant's tier or upstream")
    .addOption(cfg())
    .addOption(new Option('-t, --tier <tier>', 'tier').choices(TIERS))
    .option('--upstream <cluster>', 'dedicated upstream; "" for none (pooled)')
    .option('--billing-anchor-day <day>', 'day of the month (1-28) the monthly quota restarts; "" for the 1st')
    .option('--json', 'print JSON')
    .action((id: string, o) => {
      const change: { tier?: Tier; upstream?: string | null; billing_anchor_day?: number | null } = {};
      if (o.billingAnchorDay !== undefined) change.billing_anchor_day = o.billingAnchorDay === '' ? null : Number(o.billingAnchorDay);
      if (o.tier) change.tier = o.tier;
      if (o.upstream !== undefined) change.upstream = o.upstream === '' ? null : o.upstream;
      const t = withAdmin(o, (a) => a.tenantUpdate(id, change));
      print(o.json, t, () => tenantLine(t));
    });
  tenant
    .command('delete <id>')
    .description('delete a tenant and everything that belongs to it (one transaction, audited)')
    .addOption(cfg())
    .option('--json', 'print JSON')
    .action((id: string, o) => {
      const t = withAdmin(o, (a) => a.tenantDelete(id));
      print(o.json, { deleted: t.id }, () => `deleted tenant ${t.id} and all its data`);
    });

  // group
  const group = program.command('group').description("manage a tenant's groups");
  group
    .command('apply')
    .description('create or update a group from a YAML or JSON document')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('-f, --file <file>', 'group document (- for stdin)')
    .option('--json', 'print JSON')
    .action((o) => {
      const text = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
      let doc: unknown;
      try {
        doc = parseYaml(text);
      } catch (err) {
        throw new StoreError(`${o.file} is not valid YAML/JSON: ${(err as Error).message}`, 'invalid');
      }
      const { group: g, created } = withAdmin(o, (a) => a.groupApply(o.tenant, doc));
      print(o.json, g, () => `${created ? 'created' : 'updated'} group ${g.id} in tenant ${o.tenant}`);
    });
  group
    .command('list')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => a.groups.list(o.tenant));
      print(o.json, list, () => list.map((g) => `${g.id.padEnd(20)} ${g.type.padEnd(7)} ${g.data_access_level.padEnd(13)} ${g.active ? '' : '(inactive) '}${g.name}`).join('\n') || '(no groups)');
    });
  group
    .command('get')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <group>', 'group id')
    .option('--json', 'print JSON')
    .action((o) => {
      const g = withAdmin(o, (a) => {
        a.groups.list(o.tenant); // unknown tenant → clear error
        return a.groups.get(o.tenant, o.id);
      });
      if (!g) throw new StoreError(`unknown group ${o.id} in tenant ${o.tenant}`, 'not_found');
      print(o.json, g, () => JSON.stringify(g, null, 2));
    });
  group
    .command('delete')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <group>', 'group id')
    .option('--json', 'print JSON')
    .action((o) => {
      const g = withAdmin(o, (a) => a.groupDelete(o.tenant, o.id));
      print(o.json, { deleted: g.id }, () => `deleted group ${g.id} (and its memberships) from tenant ${o.tenant}`);
    });

  // member
  const member = program.command('member').description('manage group memberships');
  member
    .command('add')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'user id (the token subject)')
    .requiredOption('--group <group>', 'group id')
    .addOption(new Option('--role <role>', 'role in the group').choices(ROLES).default('member'))
    .option('--expires <time>', 'ISO 8601 time or a duration (30d); an expired membership counts as absent')
    .option('--json', 'print JSON')
    .action((o) => {
      const m = withAdmin(o, (a) => a.memberAdd({ tenant_id: o.tenant, user_id: o.user, group_id: o.group, role: o.role as MembershipRole, expires_at: parseExpiry(o.expires) ?? null }));
      print(o.json, m, () => `${m.user_id} is ${m.role} of ${m.group_id} in ${m.tenant_id}${m.expires_at ? ` until ${m.expires_at}` : ''}`);
    });
  member
    .command('remove')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'user id')
    .requiredOption('--group <group>', 'group id')
    .option('--json', 'print JSON')
    .action((o) => {
      const m = withAdmin(o, (a) => a.memberRemove(o.tenant, o.user, o.group));
      print(o.json, { removed: m }, () => `removed ${m.user_id} from ${m.group_id} in ${m.tenant_id}`);
    });
  member
    .command('list')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--user <user>', 'only this user')
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => a.groups.memberships(o.tenant, o.user));
      print(o.json, list, () => list.map((m) => `${m.user_id.padEnd(24)} ${m.group_id.padEnd(16)} ${m.role.padEnd(7)} ${m.expires_at ?? ''}`).join('\n') || '(no memberships)');
    });

  // apikey
  const apikey = program.command('apikey').description('manage API keys (only a hash is stored)');
  apikey
    .command('create')
    .description('create a key and print it once')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--user <user>', 'the user the key acts as')
    .option('--name <name>', 'a label')
    .addOption(new Option('--tier <tier>', 'quota tier of this key').choices(TIERS))
    .option('--scopes <scopes>', 'comma-separated action:resource scopes the key is limited to')
    .option('--expires <time>', 'ISO 8601 time or a duration (90d)')
    .option('--json', 'print JSON')
    .action((o) => {
      const scopes = o.scopes ? String(o.scopes).split(',').map((s) => s.trim()).filter(Boolean) : [];
      const { record, key } = withAdmin(o, (a) => a.apiKeyCreate({ tenant_id: o.tenant, user_id: o.user, name: o.name, scopes, tier: o.tier, expires_at: parseExpiry(o.expires) ?? null }));
      print(o.json, { ...keyView(record), key }, () => `created API key ${record.id} for ${record.user_id} in ${record.tenant_id}; it is shown only now:\n${key}`);
    });
  apikey
    .command('list')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => {
        a.groups.list(o.tenant);
        return a.apiKeys.list(o.tenant);
      });
      print(o.json, list.map(keyView), () => list.map((k) => `${k.id}  ${k.user_id.padEnd(24)} ${keyState(k).padEnd(10)} ${k.name}`).join('\n') || '(no API keys)');
    });
  apikey
    .command('revoke')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <key-id>', 'key id')
    .option('--json', 'print JSON')
    .action((o) => {
      const k = withAdmin(o, (a) => a.apiKeyRevoke(o.tenant, o.id));
      print(o.json, keyView(k), () => `revoked API key ${k.id}`);
    });
  apikey
    .command('rotate')
    .description('issue a replacement key; the old one keeps working for the grace period')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--id <key-id>', 'key id')
    .option('--grace <duration>', 'how long the old key keeps working', '24h')
    .option('--json', 'print JSON')
    .action((o) => {
      const r = withAdmin(o, (a) => a.apiKeyRotate(o.tenant, o.id, parseDuration(o.grace)));
      print(o.json, { id: r.record.id, key: r.key, replaces: r.old.id, old_expires_at: r.old.expires_at }, () => `new API key ${r.record.id} (shown only now):\n${r.key}\nthe old key ${r.old.id} works until ${r.old.expires_at}`);
    });

  // federation
  const federation = program.command('federation').description('cross-tenant access grants');
  federation
    .command('grant')
    .description('let tenant SOURCE access resources of tenant TARGET; prints the federation token')
    .addOption(cfg())
    .requiredOption('--source <id>', 'the tenant that gets access')
    .requiredOption('--target <id>', 'the tenant whose resources are shared')
    .requiredOption('--resource-type <type>', 'resource type ("*" for all)')
    .option('--resource-id <id>', 'one resource (default: all of the type)')
    .addOption(new Option('--access <access>', 'read: GET/HEAD/OPTIONS; write: other methods').choices(['read', 'write']).makeOptionMandatory())
    .requiredOption('--expires <time>', 'ISO 8601 time or a duration (30d)')
    .option('--json', 'print JSON')
    .action(async (o) => {
      const { grant, token } = await withAdminAsync(o, (a) =>
        a.federationGrant({ source: o.source, target: o.target, resource_type: o.resourceType, resource_id: o.resourceId ?? null, access: o.access, expires_at: parseExpiry(o.expires)! }),
      );
      print(o.json, { ...grant, token }, () => `granted ${grant.id}: ${grant.source_tenant} may ${grant.access} ${grant.target_tenant}'s ${grant.resource_type}${grant.resource_id ? `/${grant.resource_id}` : ''} until ${grant.expires_at}\nfederation token (send as x-federation-token):\n${token}`);
    });
  federation
    .command('revoke')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'either tenant of the grant')
    .requiredOption('--id <grant>', 'grant id')
    .option('--json', 'print JSON')
    .action((o) => {
      const g = withAdmin(o, (a) => a.federationRevoke(o.tenant, o.id));
      print(o.json, g, () => `revoked grant ${g.id}`);
    });
  federation
    .command('list')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant (as source or target)')
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => {
        a.groups.list(o.tenant);
        return a.federation.list(o.tenant);
      });
      print(o.json, list, () => list.map((g) => `${g.id}  ${g.source_tenant} → ${g.target_tenant}  ${g.access} ${g.resource_type}${g.resource_id ? `/${g.resource_id}` : ''}  until ${g.expires_at}${g.revoked_at ? ' (revoked)' : ''}`).join('\n') || '(no grants)');
    });

  // quota
  const quota = program.command('quota').description('quota limits per tenant, group or API key');
  const scopeOf = (o: { tenant: string; key?: string; group?: string }): { scope: 'tenant' | 'group' | 'key'; id: string } => {
    if (o.key && o.group) throw new StoreError('name either --key or --group, not both', 'invalid');
    return o.key ? { scope: 'key', id: o.key } : o.group ? { scope: 'group', id: o.group } : { scope: 'tenant', id: o.tenant };
  };
  const num = (v: string | undefined, name: string): number | null | undefined => {
    if (v === undefined) return undefined;
    if (v === '' || v === 'none') return null;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new StoreError(`invalid --${name} "${v}": a positive number (or "none" to clear)`, 'invalid');
    return n;
  };
  quota
    .command('set')
    .description('set limits (unnamed ones keep their value; "none" clears one)')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--key <key-id>', 'for one API key')
    .option('--group <group>', 'for one group (its members)')
    .option('--per-minute <n>', 'requests per minute')
    .option('--per-day <n>', 'requests per day (UTC)')
    .option('--per-month <n>', 'requests per calendar month (UTC, from the billing anchor day)')
    .option('--burst <n>', 'token bucket capacity')
    .option('--rate <n>', 'token bucket refill, requests per second')
    .option('--json', 'print JSON')
    .action((o) => {
      const { scope, id } = scopeOf(o);
      const change: LimitSet = {};
      for (const [flag, field] of [['perMinute', 'per_minute'], ['perDay', 'per_day'], ['perMonth', 'per_month'], ['burst', 'burst'], ['rate', 'rate']] as const) {
        const v = num(o[flag], field.replace('_', '-'));
        if (v !== undefined) change[field] = v;
      }
      if (Object.keys(change).length === 0) throw new StoreError('name at least one limit: --per-minute, --per-day, --per-month, --burst or --rate', 'invalid');
      const r = withAdmin(o, (a) => a.quotaSet(o.tenant, scope, id, change));
      print(o.json, r, () => `${scope} ${id}: ${limitLine(r)}`);
    });
  quota
    .command('get')
    .description('show the limits set for a tenant, group or key (and the tier defaults)')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--key <key-id>', 'one API key')
    .option('--group <group>', 'one group')
    .option('--json', 'print JSON')
    .action((o) => {
      const config = configFrom(o);
      const { scope, id } = scopeOf(o);
      const r = withAdmin(o, (a) => {
        const t = a.tenants.get(o.tenant);
        if (!t) throw new StoreError(`unknown tenant ${o.tenant}`, 'not_found');
        return { tenant: t.id, tier: t.tier, scope, id, override: a.quotas.get(o.tenant, scope, id) ?? null, tier_defaults: config.tiers[t.tier], all_overrides: a.quotas.list(o.tenant) };
      });
      print(o.json, r, () => [`tier ${r.tier} defaults: ${JSON.stringify(r.tier_defaults)}`, `${scope} ${id}: ${r.override ? limitLine(r.override) : '(no override)'}`].join('\n'));
    });

  // usage
  program
    .command('usage')
    .description('usage for billing')
    .command('show')
    .addOption(cfg())
    .requiredOption('--tenant <id>', 'tenant')
    .option('--from <date>', 'first window start (ISO 8601)', '1970-01-01')
    .option('--to <date>', 'windows starting before this (ISO 8601)', '9999-12-31')
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .action((o) => {
      const from = parseExpiry(o.from)!;
      const to = parseExpiry(o.to)!;
      const rows = withAdmin(o, (a) => {
        if (!a.tenants.get(o.tenant)) throw new StoreError(`unknown tenant ${o.tenant}`, 'not_found');
        return a.quotas.usage(o.tenant, from, to);
      });
      // The tenant's own totals are the "*" subject (every request of the tenant counts there).
      const totals = { day: rows.filter((r) => r.window === 'day' && r.subject === '*'), month: rows.filter((r) => r.window === 'month' && r.subject === '*') };
      if (o.csv) {
        process.stdout.write('tenant,subject,window,window_start,count\n' + rows.map((r) => [r.tenant_id, r.subject, r.window, r.window_start, r.count].join(',')).join('\n') + (rows.length ? '\n' : ''));
        return;
      }
      print(o.json, { tenant: o.tenant, rows, totals }, () =>
        rows.map((r) => `${r.window.padEnd(6)} ${r.window_start.slice(0, 10)}  ${(r.subject === '*' ? '(tenant)' : r.subject).padEnd(30)} ${r.count}`).join('\n') || '(no usage)',
      );
    });

  // audit
  program
    .command('audit')
    .description('the audit log')
    .command('list')
    .addOption(cfg())
    .option('--tenant <id>', 'only this tenant')
    .option('--limit <n>', 'newest N entries', '100')
    .option('--json', 'print JSON')
    .action((o) => {
      const list = withAdmin(o, (a) => a.audit.list({ tenant: o.tenant, limit: Number(o.limit) }));
      print(o.json, list, () => list.map((e) => `${e.at}  ${e.actor.padEnd(20)} ${e.action.padEnd(18)} ${e.tenant_id ?? '-'}  ${e.target ?? ''}`).join('\n') || '(empty)');
    });
}
