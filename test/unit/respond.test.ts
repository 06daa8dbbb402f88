import { describe, expect, it } from 'vitest';
import { headersToRemove, toCheckResponse, toValue } from '../../src/check/respond.js';
import { grpcCodeFor } from '../../src/core/denials.js';
import { DOCUMENTED_TRUSTED_HEADERS as TRUSTED_HEADERS } from '../support/documented.js';
import { ANONYMOUS, Denial, type Decision } from '../../src/core/types.js';
import type { Outcome } from '../../src/core/outcome.js';
import { encodeRemoveList } from '../../src/check/encode.js';

const tenant = { id: 'acme', name: 'Acme', tier: 'premium' as const, status: 'active' as const, upstream: null, billing_anchor_day: null, created_at: '', updated_at: '' };
const identity = { ...ANONYMOUS, kind: 'jwt' as const, subject: 'alice', tenant_id: 'acme' };
const outcome = (decision: Decision | Denial, o: Partial<Outcome> = {}): Outcome => ({
  decisionId: 'd-1', decision, identity, tenant, effective: null, hints: [], federation: null, targetTenant: null, request: null, policyRevision: 'rev1', ...o,
});

describe('toCheckResponse', () => {
  it.each([
    [400, 3], [401, 16], [403, 7], [413, 8], [429, 8], [503, 14], [404, 5], [418, 7], [502, 14],
  ])('maps HTTP %i to gRPC %i', (http, grpc) => {
    expect(grpcCodeFor(http)).toBe(grpc);
  });

  it('allow: trusted headers set with append false, the others removed, policy headers kept but never trusted ones', () => {
    const r = toCheckResponse(outcome({ allowed: true, headers: { 'x-extra': 'yes', 'x-tenant-id': 'evil' }, request_headers_to_remove: ['x-internal', 'x-extra'] })) as any;
    const set = Object.fromEntries(r.okResponse.headers.map((h: any) => [h.header.key, h.header.value]));
    expect(set).toEqual({
      'x-extra': 'yes',
      'x-tenant-id': 'acme',
      'x-tenant-tier': 'premium',
      'x-tenant-partition': 'TENANT#acme',
      'x-tenant-storage-prefix': 'tenant-acme/',
      'x-tenant-search-index': 'tenant-acme',
      'x-user-id': 'alice',
      'x-decision-id': 'd-1',
    });
    for (const h of r.okResponse.headers) expect(h.append).toEqual({ value: false });
    expect(r.okResponse.headersToRemove).toContain('x-internal');
    expect(r.okResponse.headersToRemove).not.toContain('x-extra');
    for (const name of Object.keys(set)) expect(r.okResponse.headersToRemove).not.toContain(name);
    for (const name of TRUSTED_HEADERS) expect(name in set || r.okResponse.headersToRemove.includes(name)).toBe(true);
    expect(r.status).toEqual({ code: 0, message: '' });
  });

  it('deny: status in `status`, JSON body, content-type, retry-after passed through, metadata', () => {
    const r = toCheckResponse(outcome({ allowed: false, http_status: 429, code: 'quota_exceeded', reason: 'slow down', headers: { 'retry-after': '3' } })) as any;
    expect(r.status).toEqual({ code: 8, message: 'slow down' });
    expect(r.deniedResponse.status).toEqual({ code: 429 });
    expect(JSON.parse(r.deniedResponse.body)).toEqual({ error: 'quota_exceeded', reason: 'slow down', decision_id: 'd-1' });
    expect(r.deniedResponse.headers.map((h: any) => [h.header.key, h.header.value, h.append.value])).toEqual([
      ['content-type', 'application/json', false],
      ['retry-after', '3', false],
    ]);
    expect(r.dynamicMetadata.fields.code).toEqual({ stringValue: 'quota_exceeded' });
    expect(r.okResponse).toBeUndefined();
  });

  it('deny without a status defaults to 403 and never sends an empty status', () => {
    const r = toCheckResponse(outcome({ allowed: false })) as any;
    expect(r.status.code).toBe(7);
    expect(r.deniedResponse.status.code).toBe(403);
  });

  it('401 carries www-authenticate', () => {
    const r = toCheckResponse(outcome(new Denial(401, 'invalid_token', 'bad'))) as any;
    expect(r.deniedResponse.headers.map((h: any) => h.header.key)).toEqual(['content-type', 'www-authenticate']);
  });

  it('encodes dynamic metadata as Struct values in camelCase form', () => {
    expect(toValue({ a: [1, 'x', true, null], b: { c: 2 } })).toEqual({
      structValue: {
        fields: {
          a: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'x' }, { boolValue: true }, { nullValue: 'NULL_VALUE' }] } },
          b: { structValue: { fields: { c: { numberValue: 2 } } } },
        },
      },
    });
  });
});

describe('encodeCheckResponse', () => {
  it('encodes byte for byte as proto-loader does, for allows, denials and metadata', async () => {
    const { encodeCheckResponse } = await import('../../src/check/encode.js');
    const { authServiceDefinition } = await import('../../src/check/protos.js');
    const serialize = authServiceDefinition().Check!.responseSerialize;
    const cases = [
      toCheckResponse(outcome({ allowed: true })),
      toCheckResponse(outcome({ allowed: true, headers: { 'x-extra': 'é' }, request_headers_to_remove: ['x-internal'], response_headers_to_add: { ratelimit: '"t";r=1;t=2' }, dynamic_metadata: { n: 1.5, l: [true, null, 'x'], o: { a: 1 } } })),
      toCheckResponse(outcome(new Denial(401, 'invalid_token', 'bad'))),
      toCheckResponse(outcome({ allowed: false, http_status: 429, code: 'quota_exceeded', reason: 'slow', headers: { 'retry-after': '3' } })),
      toCheckResponse(outcome({ allowed: true }, { tenant: null })),
    ];
    for (const c of cases) {
      expect(Buffer.from(encodeCheckResponse(c)).toString('hex')).toBe(serialize(c).toString('hex'));
      // Twice: the second time from the caches.
      expect(Buffer.from(encodeCheckResponse(c)).toString('hex')).toBe(serialize(c).toString('hex'));
    }
  });
});

describe('encodeAllowed (cached per caller)', () => {
  it('shares one encoded removal list among callers with the same headers (the templates keep it, not a copy)', () => {
    const names = ['x-tenant-id', 'x-user-id', 'x-decision-id'];
    const list = headersToRemove([...names], undefined);
    expect(headersToRemove([...names], undefined)).toBe(list);
    expect(encodeRemoveList(headersToRemove([...names], undefined))).toBe(encodeRemoveList(list));
  });

  const effective = (headers: Record<string, string>) =>
    ({ groups: ['admin'], headers, permissions: [], data_access_level: 'internal', allowed_levels: [], routing_strategy: 'cost', preferred_providers: [], limits: {}, primary_group: 'admin', valid_until: Infinity }) as any;

  const TAGS = Object.freeze({ 'x-cost-center': 'cc-42', 'x-region': 'eu' });

  it('gives the bytes of the general path, from the cache too, and follows a change of tenant, context, revision, provider or tenant headers', async () => {
    const { encodeCheckResponse } = await import('../../src/check/encode.js');
    const { encodeAllowed } = await import('../../src/check/allow-template.js');
    const general = (o: Outcome) => Buffer.from(encodeCheckResponse(toCheckResponse(o))).toString('hex');
    const fast = (o: Outcome) => Buffer.from(encodeAllowed(o, o.decision as Decision)!).toString('hex');
    const caller = { ...identity, api_key_id: null };
    const ctx = effective({ 'x-user-groups': 'admin', 'x-data-access-level': 'internal' });
    const base = (id: string, o: Partial<Outcome> = {}, d: Decision = { allowed: true }) => outcome(d, { identity: caller, effective: ctx, decisionId: id, ...o });
    // Each variant differs from the base in one thing, and the base follows it again.
    const cases: Outcome[] = [
      base('a-1'),
      base('a-2'),
      base('a-3', {}, { allowed: true, response_headers_to_add: { ratelimit: '"t";r=9;t=1', 'ratelimit-policy': '"t";q=10;w=1' } }),
      base('a-3b', {}, { allowed: true, response_headers_to_add: { 'x-note': 'caf\u00e9\r\nx-evil: 1', 'x-long': 'v'.repeat(300) } }),
      base('a-4', { policyRevision: 'rev2' }),
      base('a-5'),
      base('a-6', {}, { allowed: true, upstream_provider: 'bedrock' }),
      base('a-7'),
      base('a-8', { effective: effective({ 'x-user-groups': 'viewer' }) }),
      base('a-9'),
      base('a-10', { tenant: { ...tenant, tier: 'basic' } }),
      base('a-11'),
      // A tenant rule's headers (tenant-rules/rule-set.ts), then another rule combination's, then none again.
      base('a-12', { tenantHeaders: TAGS }),
      base('a-13', { tenantHeaders: TAGS }),
      base('a-14', { tenantHeaders: { 'x-acme': '2', 'x-tenant-id': 'not-trusted-from-a-rule' } }),
      base('a-15'),
    ];
    const seen = new Set<string>();
    for (const o of cases) {
      expect(fast(o)).toBe(general(o));
      seen.add(fast(o));
    }
    expect(seen.size).toBe(cases.length);
    // Anything beyond the common shape goes the general way.
    expect(encodeAllowed(outcome({ allowed: true, headers: { 'x-extra': '1' } }, { effective: ctx }), { allowed: true, headers: { 'x-extra': '1' } })).toBeUndefined();
    expect(encodeAllowed(outcome({ allowed: true }), { allowed: true })).toBeUndefined();
  });
});

describe('encodeDenied (fixed parts kept per kind of denial)', () => {
  it('gives the bytes of the general path for every shape of denial, from the kept parts too', async () => {
    const { encodeCheckResponse } = await import('../../src/check/encode.js');
    const { encodeDenied } = await import('../../src/check/deny-template.js');
    const { deny } = await import('../../src/core/denials.js');
    const general = (o: Outcome) => Buffer.from(encodeCheckResponse(toCheckResponse(o))).toString('hex');
    const fast = (o: Outcome) => Buffer.from(encodeDenied(o, o.decision)!).toString('hex');
    const limited = { 'retry-after': '3', ratelimit: '"tenant";r=0;t=3', 'ratelimit-policy': '"tenant";q=10;w=1' };
    const cases: Outcome[] = [
      outcome(deny('quota_exceeded', 'quota exceeded: the tenant rate', limited), { decisionId: 'q-1' }),
      outcome(deny('quota_exceeded', 'quota exceeded: the tenant rate', { ...limited, 'retry-after': '12' }), { decisionId: 'q-2' }),
      outcome(deny('unauthenticated', 'no credential'), { tenant: null, identity: ANONYMOUS }),
      outcome(deny('invalid_token', 'the token has expired'), { tenant: null }),
      outcome(deny('tenant_suspended', 'the tenant is suspended')),
      // The same reason under another status, and under another code: parts kept apart.
      outcome({ allowed: false, http_status: 429, code: 'tenant_suspended', reason: 'the tenant is suspended' }),
      outcome({ allowed: false, http_status: 403, code: 'suspended', reason: 'the tenant is suspended' }),
      // A header the fixed part sets, sent again: left out as the general path leaves it out.
      outcome(deny('bad_request', 'caf\u00e9 \u2014 "quoted" \\ \n', { 'content-type': 'text/plain', 'www-authenticate': 'x', 'x-note': 'caf\u00e9\r\nx-evil: 1' })),
      outcome({ allowed: false }, { decisionId: 'p-1' }),
      outcome({ allowed: false, http_status: 418, code: 'teapot', reason: 'r'.repeat(300), headers: { 'x-why': 'v'.repeat(200) } }, { policyRevision: 'r'.repeat(130) }),
      outcome({ allowed: false, http_status: 401, code: 'custom' }, { tenant: { ...tenant, id: 't\u00e9nant' } }),
      outcome({ allowed: false, http_status: -1, code: 'odd', reason: '' }, { decisionId: 'd\u00e9-\u{1F600}' }),
    ];
    const seen = new Set<string>();
    for (const o of [...cases, ...cases]) {
      expect(fast(o)).toBe(general(o));
      seen.add(fast(o));
    }
    expect(seen.size).toBe(cases.length);
    // A policy's denial with metadata of its own goes the general way.
    expect(encodeDenied(outcome({ allowed: false, dynamic_metadata: { why: 1 } }), { allowed: false, dynamic_metadata: { why: 1 } })).toBeUndefined();
  });
});
