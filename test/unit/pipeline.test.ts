// The pipeline through its phases' interfaces, with fakes: the order of the phases, what ends the pipeline, and
// that a phase that throws is a 503 logged once per interval, not once per request.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { CheckPipeline, type PipelineDeps } from '../../src/check/pipeline.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { parseConfig } from '../../src/core/config.js';
import { ANONYMOUS, Denial, type Identity } from '../../src/core/types.js';
import { TenantResolver } from '../../src/tenancy/resolve.js';
import { TenancyPhase } from '../../src/tenancy/tenancy.js';
import type { ContextLoader } from '../../src/tenancy/context.js';
import { RepeatedLog } from '../../src/telemetry/repeated-log.js';
import { createLogger } from '../../src/telemetry/logger.js';

const config = parseConfig({});
const alice: Identity = { ...ANONYMOUS, kind: 'jwt', subject: 'alice', tenant_id: 'acme' };
const acme = { id: 'acme', name: 'Acme', tier: 'premium', status: 'active', upstream: null };

function pipeline(over: { evaluate?: () => unknown; readsBody?: boolean } = {}) {
  const lines: { msg: string }[] = [];
  const sink = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb(); } });
  const seen: string[] = [];
  const deps = {
    config,
    jwt: { cached: () => { seen.push('identify'); return alice; }, verify: async () => alice },
    apiKeys: { verify: () => new Denial(401, 'invalid_api_key', 'no') },
    federation: { verify: async () => null },
    tenancy: new TenancyPhase(new TenantResolver(config.tenancy), { tenant: () => { seen.push('tenant'); return acme; }, user: () => { seen.push('context'); return null; } } as unknown as ContextLoader),
    policy: {
      revision: 'r1',
      readsBody: over.readsBody ?? true,
      evaluate: (input: unknown) => {
        seen.push('policy');
        return over.evaluate ? over.evaluate() : { allowed: true, input };
      },
    },
    log: new RepeatedLog(createLogger('info', sink as never)),
  } as unknown as PipelineDeps;
  return { p: new CheckPipeline(deps), lines, seen };
}

const request = (body?: string) =>
  buildCheckRequest({ method: 'POST', path: '/api/v1/items', headers: [['authorization', 'Bearer a.b.c'], ['content-type', 'application/json']], body });

describe('CheckPipeline', () => {
  it('runs the phases in order and hands the policy the parsed body', async () => {
    const { p, seen } = pipeline();
    const o = await p.check(request('{"a":1}'));
    expect(seen).toEqual(['identify', 'tenant', 'context', 'policy']);
    expect(o.decision.allowed).toBe(true);
    expect((o.policyInput as { parsed_body: unknown }).parsed_body).toEqual({ a: 1 });
  });

  it('does not parse the body when the policy does not read it', async () => {
    const { p } = pipeline({ readsBody: false });
    const o = await p.check(request('['.repeat(100) + ']'.repeat(100)));
    expect(o.decision.allowed).toBe(true);
    expect((o.policyInput as { parsed_body: unknown }).parsed_body).toBeNull();
  });

  it('a refused body ends the pipeline before the tenant is resolved', async () => {
    const { p, seen } = pipeline();
    const o = await p.check(request('{"k":1,"k":2}'));
    expect(o.decision).toMatchObject({ http_status: 400, code: 'bad_request' });
    expect(seen).toEqual(['identify']);
  });

  it('a phase that throws is a 503 internal_error, logged once per interval with the count of the rest', async () => {
    const { p, lines } = pipeline({ evaluate: () => { throw new RangeError('Maximum call stack size exceeded'); } });
    for (let i = 0; i < 50; i++) {
      const o = await p.check(request());
      expect(o.decision).toMatchObject({ http_status: 503, code: 'internal_error' });
    }
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.msg === 'check failed')).toHaveLength(1);
  });
});
