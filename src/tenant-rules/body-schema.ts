// Request-body validation for tenant rules: a JSON Schema per rule, compiled once with Ajv when the rules are
// loaded. A tenant's schema is compiled into code in the server, so only a safe subset of keywords is accepted:
// no $ref (remote or otherwise), no pattern or format (a tenant's regular expression could take a check's CPU).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';

const SUBSCHEMA_MAPS = new Set(['properties']);
const SUBSCHEMAS = new Set(['items', 'additionalProperties', 'not']);
const SUBSCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf']);
const PLAIN = new Set([
  'type', 'required', 'enum', 'const', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'multipleOf', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties', 'title', 'description',
]);

/** The problems of a tenant's schema: keywords outside the subset, by where they are. */
export function schemaProblems(schema: unknown, at = ''): string[] {
  if (typeof schema === 'boolean') return [];
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [`${at || '(schema)'}: a schema must be an object`];
  const out: string[] = [];
  for (const [k, v] of Object.entries(schema)) {
    const here = at ? `${at}.${k}` : k;
    if (SUBSCHEMA_MAPS.has(k)) {
      if (typeof v !== 'object' || v === null) out.push(`${here}: must be an object of schemas`);
      else for (const [p, s] of Object.entries(v)) out.push(...schemaProblems(s, `${here}.${p}`));
    } else if (SUBSCHEMAS.has(k)) out.push(...schemaProblems(v, here));
    else if (SUBSCHEMA_LISTS.has(k)) {
      if (!Array.isArray(v)) out.push(`${here}: must be a list of schemas`);
      else v.forEach((s, i) => out.push(...schemaProblems(s, `${here}.${i}`)));
    } else if (!PLAIN.has(k)) out.push(`${here}: the keyword "${k}" is not supported in tenant rules (supported: ${[...PLAIN, ...SUBSCHEMA_MAPS, ...SUBSCHEMAS, ...SUBSCHEMA_LISTS].join(', ')})`);
  }
  return out;
}

// Unknown keywords are errors (strictSchema), but a schema need not declare what it requires nor spell out types;
// the first error only (it names the field).
const OPTIONS = { strictSchema: true, strictRequired: false, strictTypes: false, strictTuples: false, allErrors: false, allowUnionTypes: true } as const;

export type BodyValidator = ValidateFunction;

// Validators by their schema's text: tenants with the same schema share one function (compiled once, and kept hot
// by all of their requests), and reloading a tenant's rules does not compile it again.
const compiled = new LRUCache<string, BodyValidator>({ max: 1000 });

/** Compiles a checked schema; throws with Ajv's message when it is not a valid schema. */
export function compileBodySchema(schema: Record<string, unknown>): BodyValidator {
  const text = JSON.stringify(schema);
  const known = compiled.get(text);
  if (known) return known;
  const problems = schemaProblems(schema);
  if (problems.length) throw new Error(problems.join('; '));
  // An Ajv of its own: an Ajv keeps what it compiled (its code's scope grows with every schema), which tenants'
  // changes would make grow without end. This one goes with the validator (a millisecond, once per schema).
  const validate = new Ajv(OPTIONS).compile(schema);
  compiled.set(text, validate);
  return validate;
}

/** The first failure in words, naming the field: "body field /messages/0/role: must be equal to one of ...". */
export function describeFailure(errors: readonly ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'the request body does not match the schema';
  if (e.keyword === 'required') return `body field ${e.instancePath}/${String((e.params as { missingProperty: string }).missingProperty)} is required`;
  if (e.keyword === 'additionalProperties') return `body field ${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)} is not allowed`;
  const allowed = e.keyword === 'enum' ? `: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}` : '';
  return `body field ${e.instancePath || '(the body)'} ${e.message ?? 'is invalid'}${allowed}`;
}
