// The decision cache's key: the context's objects by identity, the rest by its JSON. Equal keys must mean equal
// projected inputs (else one caller would get another's decision).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecisionKeys } from '../../src/policy/decision-key.js';
import { project, type Projection } from '../../src/policy/deps.js';

const PROJECTION: Projection = { identity: { kind: true, tenant_id: true }, tenant: { id: true }, effective: true, parsed_path: true, attributes: { request: { http: { method: true } } } };
const STABLE = ['identity', 'tenant', 'groups', 'effective', 'target_tenant'];

describe('DecisionKeys', () => {
  const alice = Object.freeze({ kind: 'jwt', tenant_id: 'acme', subject: 'alice' });
  const acme = Object.freeze({ id: 'acme' });
  const ctx = Object.freeze({ level: 'internal' });
  const input = (o: Record<string, unknown> = {}) => ({ identity: alice, tenant: acme, effective: ctx, parsed_path: ['v1', 'items'], attributes: { request: { http: { method: 'GET', id: 'r-1' } } }, ...o });

  it('gives the same key for the same objects and the same request, whatever the policy does not read', () => {
    const k = new DecisionKeys(PROJECTION, STABLE);
    expect(k.key(input())).toBe(k.key(input({ attributes: { request: { http: { method: 'GET', id: 'r-2' } } } })));
  });

  it('differs when the request differs where the policy reads, or when a context differs where it reads', () => {
    const k = new DecisionKeys(PROJECTION, STABLE);
    const base = k.key(input());
    expect(k.key(input({ parsed_path: ['v1', 'admin'] }))).not.toBe(base);
    expect(k.key(input({ attributes: { request: { http: { method: 'DELETE' } } } }))).not.toBe(base);
    // Equal content in another object (an identity verified again, with the JWT cache off): the same key.
    expect(k.key(input({ identity: { ...alice } }))).toBe(base);
    expect(k.key(input({ identity: { ...alice, subject: 'bob' } }))).toBe(base); // not read
    expect(k.key(input({ identity: { ...alice, tenant_id: 'globex' } }))).not.toBe(base);
    expect(k.key(input({ identity: Object.freeze({ kind: 'api_key', tenant_id: 'acme' }) }))).not.toBe(base);
    expect(k.key(input({ tenant: null }))).not.toBe(base);
    expect(k.key(input({ tenant: undefined }))).not.toBe(k.key(input({ tenant: null })));
  });

  it('keys a projection with no stable part by the values at its leaves alone', () => {
    const k = new DecisionKeys({ parsed_path: true }, STABLE);
    expect(k.key({ parsed_path: ['a'], identity: alice })).toBe('[1,["a"]]');
  });

  it('keeps content ids apart when their table forgets (never one id for two contents)', () => {
    const k = new DecisionKeys(PROJECTION, STABLE);
    const first = k.key(input());
    // More distinct identities than the table keeps: the first one's content is forgotten, then seen again.
    for (let i = 0; i < 10_050; i++) k.key(input({ identity: { kind: 'jwt', tenant_id: `t-${i}` } }));
    expect(k.key(input())).toBe(first); // the same object: its id is kept with it
    // A copy now gets a new id (a miss), never one another content has.
    const again = k.key(input({ identity: { ...alice } }));
    expect(again).not.toBe(k.key(input({ identity: { kind: 'jwt', tenant_id: 't-10049' } })));
    expect(k.key(input({ identity: { kind: 'jwt', tenant_id: 't-0' } }))).not.toBe(first);
    expect(k.key(input({ identity: { kind: 'jwt', tenant_id: 't-0' } }))).not.toBe(again);
  });

  it('never gives two inputs with different projected JSON the same key (property)', () => {
    // Shared objects and fresh copies, with content the projection reads and content it does not.
    const pool = [alice, Object.freeze({ kind: 'jwt', tenant_id: 'globex' }), Object.freeze({ kind: 'anonymous', tenant_id: null }), null];
    const tenants = [acme, Object.freeze({ id: 'globex' }), null];
    const contexts = [ctx, Object.freeze({ level: 'public' }), null];
    const arb = fc.record({
      identity: fc.oneof(fc.constantFrom(...pool), fc.record({ kind: fc.constantFrom('jwt', 'api_key'), tenant_id: fc.constantFrom('acme', 'globex', null), subject: fc.string() }, { requiredKeys: [] })),
      tenant: fc.constantFrom(...tenants),
      effective: fc.constantFrom(...contexts),
      parsed_path: fc.array(fc.constantFrom('v1', 'items', 'admin', '"', '\u0000'), { maxLength: 3 }),
      // Where project() keeps a value whole or leaves a key out: null against missing, a string or an array on
      // the way to a leaf, "__proto__" as data.
      attributes: fc.oneof(
        fc.record({ request: fc.oneof(fc.record({ http: fc.oneof(fc.record({ method: fc.constantFrom('GET', 'POST', null), id: fc.string() }, { requiredKeys: ['id'] }), fc.constant(null), fc.constant('GET')) }), fc.constant([1]), fc.constant({})) }, { requiredKeys: [] }),
        fc.constant(null),
        fc.constant('x'),
        fc.constant(JSON.parse('{"__proto__": {"http": {"method": "GET"}}}')),
      ),
    });
    const k = new DecisionKeys(PROJECTION, STABLE);
    const seen = new Map<string, string>();
    fc.assert(
      fc.property(arb, (i) => {
        const key = k.key(i);
        const json = JSON.stringify(project(i, PROJECTION));
        const before = seen.get(key);
        if (before !== undefined) expect(json).toBe(before);
        seen.set(key, json);
      }),
      { numRuns: 3000 },
    );
  });
});
