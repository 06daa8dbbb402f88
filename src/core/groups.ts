// Groups and memberships: access levels, roles, routing strategies, and the group document (validated with zod,
// so the CLI, the admin API and the tests share one definition of what a group may hold).
import { z } from 'zod';
import { StoreError } from './errors.js';

export const LEVELS = ['public', 'internal', 'confidential'] as const;
export type DataAccessLevel = (typeof LEVELS)[number];
export const ROLES = ['member', 'admin', 'owner'] as const;
export type MembershipRole = (typeof ROLES)[number];
export const STRATEGIES = ['cost', 'performance', 'compliance'] as const;
export type RoutingStrategy = (typeof STRATEGIES)[number];

const name = z.string().regex(/^(\*|[a-z0-9][a-z0-9_.-]{0,63})$/, 'must be "*" or lower-case letters, digits, "_", "." or "-"');
const idPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const positiveInt = z.number().int().positive();

export const groupSchema = z
  .object({
    id: z.string().regex(idPattern, 'must be lower-case letters, digits, "_" or "-" (at most 64)'),
    name: z.string().min(1),
    description: z.string().default(''),
    type: z.enum(['team', 'role', 'region', 'tier']),
    permissions: z.array(z.object({ resource: name, actions: z.array(name).min(1) }).strict()).default([]),
    data_access_level: z.enum(LEVELS).default('public'),
    // Row-level rules: field → allowed values; all fields of one group must match (AND), groups combine with OR.
    data_access_rules: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be a field name'), z.array(z.union([z.string(), z.number(), z.boolean()])).min(1)).default({}),
    resource_limits: z
      .object({
        requests_per_minute: positiveInt.optional(),
        requests_per_day: positiveInt.optional(),
        max_tokens_per_request: positiveInt.optional(),
        allowed_providers: z.array(z.string().min(1)).optional(),
        allowed_models: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .default({}),
    routing: z
      .object({ strategy: z.enum(STRATEGIES).optional(), preferred_providers: z.array(z.string().min(1)).optional() })
      .strict()
      .default({}),
    active: z.boolean().default(true),
  })
  .strict();

export type GroupInput = z.input<typeof groupSchema>;
export type GroupDoc = z.output<typeof groupSchema>;
export interface Group extends GroupDoc {
  tenant_id: string;
  created_at: string;
  updated_at: string;
}

export interface Membership {
  tenant_id: string;
  user_id: string;
  group_id: string;
  role: MembershipRole;
  joined_at: string;
  expires_at: string | null;
}

/** The groups every new tenant starts with (editable afterwards). */
export const DEFAULT_GROUPS: GroupInput[] = [
  { id: 'admin', name: 'Administrators', type: 'role', permissions: [{ resource: '*', actions: ['*'] }], data_access_level: 'confidential' },
  { id: 'analyst', name: 'Analysts', type: 'role', permissions: [{ resource: '*', actions: ['read', 'query'] }], data_access_level: 'internal' },
  { id: 'viewer', name: 'Viewers', type: 'role', permissions: [{ resource: '*', actions: ['read'] }], data_access_level: 'public' },
];

export function parseGroup(doc: unknown): GroupDoc {
  const r = groupSchema.safeParse(doc);
  if (!r.success) throw new StoreError(`invalid group: ${r.error.issues.map((i) => describeIssue(doc, i)).join('; ')}`, 'invalid');
  return r.data;
}

type Issue = z.core.$ZodIssue;

/** One problem with a document, in words: what is missing and what it takes, or what is wrong with a value. */
function describeIssue(doc: unknown, i: Issue): string {
  const at = i.path.join('.') || '(group)';
  if (i.code === 'unrecognized_keys') return `${at}: unknown key ${i.keys.join(', ')}`;
  const value = i.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), doc);
  const accepts = i.code === 'invalid_value' ? `one of ${i.values.join(', ')}` : i.code === 'invalid_type' ? `a${/^[aeiou]/.test(i.expected) ? 'n' : ''} ${i.expected}` : undefined;
  if (value === undefined && accepts) return `${at} is missing: it is required (${accepts})`;
  if (i.code === 'invalid_value') return `${at}: ${JSON.stringify(value)} is not ${accepts}`;
  if (i.code === 'invalid_type') return `${at}: ${JSON.stringify(value)} is not ${accepts}`;
  return `${at}: ${i.message}`;
}

/** A group as stored: the JSON fields still text (a context loader parses them only when it builds a context). */
export type GroupRow = Omit<Group, 'permissions' | 'data_access_rules' | 'resource_limits' | 'routing' | 'active'> & {
  permissions: string;
  data_access_rules: string;
  resource_limits: string;
  routing: string;
  active: number;
};

/** A group of a user's as stored, with the user's role and membership expiry. */
export type MemberGroupRow = GroupRow & { role: MembershipRole; membership_expires_at: string | null };

/** A group of a user's, parsed, with the user's role and membership expiry. */
export type MemberGroup = Group & { role: MembershipRole; membership_expires_at: string | null };
