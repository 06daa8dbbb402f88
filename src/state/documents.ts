// The desired-state documents of `tenantgate apply` / `export`: one YAML file per tenant (its record, groups,
// members, API keys by user and name, quota overrides) and one for the federation grants. Each document is checked
// whole before anything is written; an error names its file, line and field.
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { z } from 'zod';
import { groupSchema } from '../core/groups.js';
import { LIMIT_FIELDS } from '../core/limits.js';
import { TENANT_ID_PATTERN, TIERS } from '../core/tenants.js';
import { tenantRuleList } from '../core/tenant-rules.js';

const limit = z.number().positive().nullable().optional();
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time');

export const tenantDoc = z
  .object({
    kind: z.literal('Tenant'),
    id: z.string().regex(TENANT_ID_PATTERN, `must match ${TENANT_ID_PATTERN.source}`),
    name: z.string().min(1),
    tier: z.enum(TIERS),
    status: z.enum(['active', 'suspended']).default('active'),
    upstream: z.string().nullable().default(null),
    billing_anchor_day: z.number().int().min(1).max(28).nullable().default(null),
    groups: z.array(groupSchema).default([]),
    members: z.array(z.object({ user: z.string().min(1), group: z.string().min(1), role: z.enum(['member', 'admin', 'owner']).default('member'), expires_at: iso.nullable().default(null) }).strict()).default([]),
    // Keys by user and name: a file never holds a secret; a key it names that is missing is made (its secret shown once).
    api_keys: z.array(z.object({ user: z.string().min(1), name: z.string().min(1), scopes: z.array(z.string()).default([]), tier: z.enum(TIERS).nullable().default(null), expires_at: iso.nullable().default(null) }).strict()).default([]),
    quotas: z.array(z.object({ scope: z.enum(['tenant', 'group', 'key']), id: z.string().min(1), ...Object.fromEntries(LIMIT_FIELDS.map((f) => [f, limit])) }).strict()).default([]),
    // The tenant's own rules and Rego (docs/tenant-rules.md); null: none.
    tenant_rules: z
      .object({
        rules: tenantRuleList.default([]),
        rego: z.object({ module: z.string().min(1), tests: z.array(z.object({ name: z.string().min(1), text: z.string() }).strict()).min(1) }).strict().nullable().default(null),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

export const grantsDoc = z
  .object({
    kind: z.literal('FederationGrants'),
    grants: z.array(z.object({ source: z.string().min(1), target: z.string().min(1), resource_type: z.string().min(1), resource_id: z.string().nullable().default(null), access: z.enum(['read', 'write']), expires_at: iso }).strict()).default([]),
  })
  .strict();

export type TenantDoc = z.output<typeof tenantDoc>;
export type GrantsDoc = z.output<typeof grantsDoc>;
export type KeyDoc = TenantDoc['api_keys'][number];

export interface DesiredState {
  tenants: TenantDoc[];
  grants: GrantsDoc['grants'];
}

/** A document that is not valid: where, and what is wrong. */
export class StateError extends Error {
  override name = 'StateError';
}

/** The documents of the given files (name → text), all checked; throws a StateError listing every problem. */
export function parseState(files: { file: string; text: string }[]): DesiredState {
  const state: DesiredState = { tenants: [], grants: [] };
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const { file, text } of files) {
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
      const where = (path: (string | number)[]) => `${file}:${lineOf(doc, lines, path)}`;
      if (doc.errors.length) {
        problems.push(`${file}:${lines.linePos(doc.errors[0]!.pos[0]).line}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
        continue;
      }
      const value = doc.toJS() as { kind?: unknown } | null;
      if (value === null) continue;
      const schema = value.kind === 'Tenant' ? tenantDoc : value.kind === 'FederationGrants' ? grantsDoc : undefined;
      if (!schema) {
        problems.push(`${where(['kind'])}: kind must be Tenant or FederationGrants`);
        continue;
      }
      const r = schema.safeParse(value);
      if (!r.success) {
        for (const i of r.error.issues) problems.push(`${where(i.path as (string | number)[])}: ${i.path.join('.') || '(document)'}: ${i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : i.message}`);
        continue;
      }
      if (r.data.kind === 'FederationGrants') state.grants.push(...r.data.grants);
      else {
        const t = r.data;
        if (seen.has(t.id)) problems.push(`${where(['id'])}: tenant ${t.id} is also in ${seen.get(t.id)}`);
        seen.set(t.id, file);
        problems.push(...crossChecks(t).map((m) => `${where(['id'])}: ${m}`));
        state.tenants.push(t);
      }
    }
  }
  if (problems.length) throw new StateError(problems.join('\n'));
  return state;
}

/** What one tenant's document must agree with itself on. */
function crossChecks(t: TenantDoc): string[] {
  const out: string[] = [];
  const groups = new Set(['admin', 'analyst', 'viewer', ...t.groups.map((g) => g.id)]);
  for (const m of t.members) if (!groups.has(m.group)) out.push(`member ${m.user} names group ${m.group}, which tenant ${t.id} does not have`);
  const keys = new Set<string>();
  for (const k of t.api_keys) {
    const id = `${k.user}/${k.name}`;
    if (keys.has(id)) out.push(`API key ${id} is named twice`);
    keys.add(id);
  }
  for (const q of t.quotas) if (q.scope === 'group' && !groups.has(q.id)) out.push(`a quota names group ${q.id}, which tenant ${t.id} does not have`);
  return out;
}

/** The line of the node at `path` in the document (the nearest one that exists). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}
