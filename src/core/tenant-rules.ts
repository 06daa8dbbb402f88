// A tenant's own rules, on top of the platform's policy: the document a tenant admin uploads, checked whole before it
// is stored. Rules only narrow: they deny, add headers for the upstream and add tighter quota limits; nothing in
// them can allow what the platform's policy denied (the phase runs only after it allowed).
import { z } from 'zod';
import { StoreError } from './errors.js';
import { TRUSTED_HEADERS } from './upstream-headers.js';
import { LIMIT_FIELDS } from './limits.js';

/** Headers no tenant may set: tenantgate's trusted ones, credentials, and what Envoy or HTTP itself owns. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set<string>([
  ...TRUSTED_HEADERS,
  'authorization',
  'cookie',
  'x-api-key',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
]);

/** Why a tenant may not set this header, or null when it may (RFC 9110 token names, lower-case). */
export function reservedHeader(name: string): string | null {
  const n = name.toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(n)) return `"${name}" is not a header name`;
  if (RESERVED_HEADERS.has(n)) return `"${n}" is set by tenantgate or the proxy, never by a tenant rule`;
  if (n.startsWith('x-tenant') || n.startsWith('x-envoy-') || n.startsWith('x-tenantgate')) return `"${n}" is in a prefix tenantgate or Envoy reserves (x-tenant*, x-envoy-*, x-tenantgate*)`;
  return null;
}

const ruleName = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be lower-case letters, digits, "_", "." or "-" (at most 64)');
// Exact paths, or prefixes ending in "*" (as the platform's routes in policies/data.json).
const route = z.string().regex(/^\/[^*?#\s]*\*?$/, 'must be a path starting with "/", exact or ending in "*"');
const method = z.string().regex(/^[A-Z]{1,16}$/, 'must be an upper-case HTTP method');
const headerValue = z.string().max(1024).regex(/^[\x20-\x7e]*$/, 'must be visible ASCII');
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');
const positive = z.number().positive();

const ruleSchema = z
  .object({
    name: ruleName,
    description: z.string().max(500).optional(),
    // Where the rule applies: every listed dimension must match (none listed: every request of the tenant).
    match: z
      .object({
        routes: z.array(route).min(1).max(100).optional(),
        methods: z.array(method).min(1).optional(),
        // Users in any of these groups of the tenant (a team, a role).
        groups: z.array(z.string().min(1).max(64)).min(1).optional(),
      })
      .strict()
      .default({}),
    // Conditions: a request the rule applies to is denied unless each holds.
    deny: z.literal(true).optional(),
    allow_routes: z.array(route).min(1).max(100).optional(),
    allow_methods: z.array(method).min(1).optional(),
    models: z.object({ allow: z.array(z.string().min(1)).min(1).optional(), deny: z.array(z.string().min(1)).min(1).optional() }).strict().optional(),
    source_ips: z.object({ allow: z.array(z.string().min(1)).min(1).max(1000).optional(), deny: z.array(z.string().min(1)).min(1).max(1000).optional() }).strict().optional(),
    schedule: z
      .object({ time_zone: z.string().min(1), days: z.array(z.enum(DAYS)).min(1).optional(), from: clock.optional(), to: clock.optional() })
      .strict()
      .refine((s) => (s.from === undefined) === (s.to === undefined), { message: 'give both from and to, or neither' })
      .optional(),
    body_schema: z.record(z.string(), z.unknown()).optional(),
    reason: z.string().max(500).optional(),
    // Effects on an allowed request the rule applies to.
    headers: z.record(z.string(), headerValue).optional(),
    quota: z.object(Object.fromEntries(LIMIT_FIELDS.map((f) => [f, positive.optional()])) as Record<(typeof LIMIT_FIELDS)[number], z.ZodOptional<z.ZodNumber>>).strict().optional(),
  })
  .strict();

const CONDITIONS = ['deny', 'allow_routes', 'allow_methods', 'models', 'source_ips', 'schedule', 'body_schema', 'headers', 'quota'] as const;

/** A tenant's list of rules: names unique, headers a tenant may set, each rule denying or adding something. */
export const tenantRuleList = z
  .array(ruleSchema)
  .max(200)
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((rule, i) => {
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${rule.name}" is used twice` });
      seen.add(rule.name);
      for (const h of Object.keys(rule.headers ?? {})) {
        const why = reservedHeader(h);
        if (why) ctx.addIssue({ code: 'custom', path: [i, 'headers'], message: why });
      }
      if (!CONDITIONS.some((k) => rule[k] !== undefined)) ctx.addIssue({ code: 'custom', path: [i], message: `"${rule.name}" neither denies nor adds anything (give one of ${CONDITIONS.join(', ')})` });
    });
  });

export const tenantRulesSchema = z.object({ rules: tenantRuleList.default([]) }).strict();

export type TenantRule = z.output<typeof ruleSchema>;
export type Weekday = (typeof DAYS)[number];
export const WEEKDAYS = DAYS;

/** A tenant's own Rego: the module and its tests, as uploaded. */
export interface TenantRegoSource {
  module: string;
  tests: { name: string; text: string }[];
}

/** What is stored for a tenant: its rules, its Rego (source, and the WASM it compiled to), who changed it last. */
export interface TenantPolicy {
  tenant_id: string;
  rules: TenantRule[];
  rego: TenantRegoSource | null;
  /** The compiled module (instrumented with the evaluation budget), when there is Rego. */
  wasm: Uint8Array | null;
  /** The parts of the input the module reads (opa deps), JSON; null: all of it. */
  projection: string | null;
  revision: number;
  updated_at: string;
  updated_by: string;
}

/** What an upload gives the store: the checked rules and, for Rego, what it compiled to. */
export type TenantPolicyInput = Pick<TenantPolicy, 'rules' | 'rego' | 'wasm' | 'projection'>;

/** The policy as the admin API shows it: no WASM bytes. */
export function policyView(p: TenantPolicy): Omit<TenantPolicy, 'wasm'> & { compiled: boolean } {
  const { wasm, ...rest } = p;
  return { ...rest, compiled: wasm !== null };
}

/** Checks a rules document; throws a StoreError naming every problem. */
export function parseTenantRules(doc: unknown): TenantRule[] {
  const r = tenantRulesSchema.safeParse(doc ?? {});
  if (!r.success) throw new StoreError(`invalid tenant rules: ${r.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : i.message}`).join('; ')}`, 'invalid');
  return r.data.rules;
}
