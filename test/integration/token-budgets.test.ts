// LLM token budgets through the real server, on the local quota store: a check reserves its max_tokens and an
// estimate of its input; a budget used up mid-minute denies the next reservation that does not fit (429, the
// RateLimit fields naming the token limit); the response's usage, through a real ExternalProcessor stream, settles it
// and gives back what was not used; a reservation nothing settles is released when its time is up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bearer, mint, startTestServer, waitFor, type TestServer } from '../support/server.js';
import type { EnvoyResult } from '../support/envoy.js';
import { completionBody, extProcClient, processed } from '../support/ext-proc.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { callAdmin } from '../../src/admin/api.js';

// A frozen clock, moved by the tests: the minute window and the reservations' expiry are the tests' to control. In
// the future: the usage flusher forgets counters whose window ended by the real clock.
let now = Date.UTC(2031, 0, 1, 0, 0, 5);
const ADMIN = 'token-budgets-admin-token-0123456789';
let t: TestServer;
let proc: ReturnType<typeof extProcClient>;

beforeAll(async () => {
  t = await startTestServer({
    clock: () => now,
    env: { TENANTGATE_ADMIN_TOKEN: ADMIN },
    config: {
      server: { admin_address: '127.0.0.1:0', http_address: '127.0.0.1:0' },
      decision_log: { enabled: true, output: 'decisions.log', include_headers: false, include_input: false },
      tiers: { premium: { tokens_per_minute: 1000, cost_per_month: 0.001 }, basic: { input_tokens_per_minute: 100 } },
      genai: { ext_proc_address: '127.0.0.1:0', models: { 'gpt-4o-mini': { input_per_million: 0.15, output_per_million: 0.6 } }, reservation_ttl_seconds: 2, bytes_per_input_token: 4 },
    },
  });
  t.admin((a) => {
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'admin' });
    a.memberAdd({ tenant_id: 'globex', user_id: 'bob', group_id: 'admin' });
  });
  proc = extProcClient(t.server.extProcAddress!);
});
afterAll(async () => {
  proc?.close();
  await t?.close();
});

/** 100 bytes of body: 25 input tokens reserved. */
const chat = (maxTokens: number) => {
  const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: maxTokens, messages: [{ role: 'user', content: 'x' }] });
  return body + ' '.repeat(100 - body.length);
};
const ask = async (tenant: string, user: string, body: string | undefined = chat(600), method = 'POST'): Promise<EnvoyResult> =>
  t.envoy({ method, path: method === 'POST' ? '/api/v1/chat/completions' : '/api/v1/items', headers: [bearer(await mint({ tenant, sub: user })), ['content-type', 'application/json']], body });
const ok = (r: EnvoyResult): Record<string, string> => {
  if (r.outcome !== 'upstream') throw new Error(`expected an allow: ${r.outcome === 'denied' ? r.body : r.outcome}`);
  return Object.fromEntries([...Object.entries(r.headers).map(([k, v]) => [k, v[0]!]), ...r.responseHeadersToAdd.map((h) => [h.header!.key, h.header!.value])]);
};
const denied = (r: EnvoyResult) => {
  if (r.outcome !== 'denied') throw new Error(`expected a denial, got ${r.outcome}`);
  return { status: r.status, ...(JSON.parse(r.body) as { error: string; reason: string }), ratelimit: r.headers.ratelimit?.[0] };
};
const settle = (headers: Record<string, string>, input: number, output: number) => processed(proc, headers, 'application/json', [completionBody('gpt-4o-mini', input, output)]);

describe('token budgets', () => {
  it('reserve at the check, deny what does not fit, give back at settlement', async () => {
    const first = ok(await ask('acme', 'alice'));
    // 25 input + 600 output reserved of 1,000 a minute.
    expect(first.ratelimit).toContain('"tenant-tokens-minute";r=375');
    expect(first['ratelimit-policy']).toContain('"tenant-tokens-minute";q=1000;w=60');
    const second = denied(await ask('acme', 'alice'));
    expect(second).toMatchObject({ status: 429, error: 'quota_exceeded', reason: 'quota exceeded: the tenant-tokens-minute limit of 1000 tokens per minute' });
    expect(second.ratelimit).toContain('"tenant-tokens-minute";r=375');
    // The response used 20 + 30: 575 come back, and the next reservation fits.
    await settle(first, 20, 30);
    const third = ok(await ask('acme', 'alice'));
    expect(third.ratelimit).toContain(`"tenant-tokens-minute";r=${1000 - 50 - 625}`);
    // A settlement of a decision no one reserved for changes nothing.
    await settle({ ...third, 'x-decision-id': 'no-such-decision' }, 1, 1);
    expect(denied(await ask('acme', 'alice')).error).toBe('quota_exceeded');
    // Requests that are not LLM calls neither reserve nor are held back by the budget.
    ok(await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(await mint({ tenant: 'acme', sub: 'alice' }))] }));
    // Another tenant's budget is its own (basic: 100 input tokens a minute).
    ok(await ask('globex', 'bob', chat(5000)));
  });

  it('a streamed response settles its reservation too (its last event carries the usage)', async () => {
    now += 60_000;
    const left = (h: Record<string, string>) => Number(/"tenant-input-tokens-minute";r=(\d+)/.exec(h.ratelimit!)![1]);
    const g = ok(await ask('globex', 'bob', chat(10)));
    expect(left(g)).toBe(75);
    const events = [{ model: 'gpt-4o-mini', choices: [{ delta: { content: 'hi' } }] }, { model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 7, completion_tokens: 2 } }];
    const sse = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
    await processed(proc, g, 'text/event-stream', [sse.slice(0, 30), sse.slice(30, 90), sse.slice(90)]);
    expect(left(ok(await ask('globex', 'bob', chat(10))))).toBe(100 - 7 - 25);
  });

  it('a reservation nothing settles is released when its time is up', async () => {
    now += 60_000; // a new minute
    const held = ok(await ask('acme', 'alice', chat(900)));
    expect(held.ratelimit).toContain('"tenant-tokens-minute";r=75');
    expect(denied(await ask('acme', 'alice', chat(100))).error).toBe('quota_exceeded');
    now += 2_500; // past reservation_ttl_seconds
    await new Promise((r) => setTimeout(r, 1200)); // the sweep runs every second
    expect(ok(await ask('acme', 'alice', chat(100))).ratelimit).toContain(`"tenant-tokens-minute";r=${1000 - 125}`);
  });

  it('the monthly cost budget, at the model price; usage over the reservation is charged at settlement', async () => {
    now += 60_000;
    const left = (h: Record<string, string>) => Number(/"tenant-cost-month";r=(\d+)/.exec(h.ratelimit!)![1]);
    // $0.001 a month (1,000,000 nano-dollars): 25 input at 0.15 and 600 output at 0.6 $/M is 363,750 reserved.
    const a = ok(await ask('acme', 'alice'));
    // The response used more than reserved (a model may): 1,000 output tokens, 603,750 in all.
    await settle(a, 25, 1000);
    now += 60_000;
    const b = ok(await ask('acme', 'alice', chat(100)));
    expect(left(b)).toBe(left(a) + 363_750 - 603_750 - 63_750);
    now += 60_000;
    expect(denied(await ask('acme', 'alice'))).toMatchObject({ status: 429, reason: 'quota exceeded: the tenant-cost-month budget of $0.001 per month' });
  });
});

describe('the usage report (for gateways without ext_proc)', () => {
  const left = (h: Record<string, string>) => Number(/"tenant-input-tokens-minute";r=(\d+)/.exec(h.ratelimit!)![1]);
  const post = (body: unknown, token: string | null = ADMIN) =>
    fetch(`http://${t.server.httpAddress}/usage`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it("settles by decision id over the admin API and over HTTP, as the reservation's owner, once", async () => {
    now += 60_000;
    const a = ok(await ask('globex', 'bob'));
    expect(left(a)).toBe(75);
    const u = await callAdmin(t.server.adminAddress!, ADMIN, 'ReportUsage', { decision_id: a['x-decision-id'], input_tokens: 10, output_tokens: 20 });
    expect(u).toMatchObject({ decision_id: a['x-decision-id'], tenant: 'globex', user: 'bob', model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 20, cost_usd: (10 * 0.15 + 20 * 0.6) / 1e6 });
    await expect(callAdmin(t.server.adminAddress!, ADMIN, 'ReportUsage', { decision_id: a['x-decision-id'], input_tokens: 10, output_tokens: 20 })).rejects.toThrow(/no reservation is held for decision/);
    const b = ok(await ask('globex', 'bob'));
    expect(left(b)).toBe(100 - 10 - 25);
    const r = await post({ decision_id: b['x-decision-id'], input_tokens: 5, output_tokens: 1, model: 'gpt-4o-mini' });
    expect([r.status, await r.json()]).toEqual([200, { settled: true, usage: expect.objectContaining({ tenant: 'globex', input_tokens: 5 }) }]);
    expect(left(ok(await ask('globex', 'bob')))).toBe(100 - 10 - 5 - 25);
  });

  it('refuses a report without the admin token, or that is not one', async () => {
    expect((await post({ decision_id: 'x', input_tokens: 1, output_tokens: 1 }, null)).status).toBe(401);
    expect((await post({ decision_id: 'x', input_tokens: 1, output_tokens: 1 }, 'wrong')).status).toBe(401);
    for (const [body, status] of [['not json', 400], [[1], 400], [{ decision_id: 'x', input_tokens: -1, output_tokens: 1 }, 400], [{ decision_id: '', input_tokens: 1, output_tokens: 1 }, 400], [{ decision_id: 'no-such', input_tokens: 1, output_tokens: 1 }, 404]] as const) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(await r.json()).toMatchObject({ error: expect.any(String), reason: expect.any(String) });
    }
    expect((await fetch(`http://${t.server.httpAddress}/usage`)).status).toBe(405);
  });
});

describe('budgets per tenant, group and key (overrides over the tier)', () => {
  it("stacks the tenant's override and the caller's (its key's, else its groups' largest): the strictest wins", async () => {
    now += 60_000;
    await t.change((a) => a.tenantCreate({ id: 'overco', name: 'Overco', tier: 'free' }));
    t.admin((a) => {
      a.memberAdd({ tenant_id: 'overco', user_id: 'ann', group_id: 'admin' });
      a.memberAdd({ tenant_id: 'overco', user_id: 'ben', group_id: 'analyst' });
    });
    // The free tier has no token budgets: nothing is reserved.
    expect(ok(await ask('overco', 'ann')).ratelimit).not.toContain('tokens');
    await t.change((a) => a.tokenLimitsSet('overco', 'tenant', 'overco', { tokens_per_minute: 300 }));
    expect(ok(await ask('overco', 'ann', chat(200))).ratelimit).toContain('"tenant-tokens-minute";r=75');
    expect(denied(await ask('overco', 'ann', chat(200)))).toMatchObject({ status: 429, reason: 'quota exceeded: the tenant-tokens-minute limit of 300 tokens per minute' });
    now += 60_000;
    // The analysts' group: 100 a minute each; ann (admin) keeps the tenant's 300.
    await t.change((a) => a.tokenLimitsSet('overco', 'group', 'analyst', { tokens_per_minute: 100 }));
    const ben = ok(await ask('overco', 'ben', chat(50)));
    expect(ben.ratelimit).toContain('"user-tokens-minute";r=25');
    expect(denied(await ask('overco', 'ben', chat(50))).reason).toBe('quota exceeded: the user-tokens-minute limit of 100 tokens per minute');
    expect(ok(await ask('overco', 'ann', chat(50))).ratelimit).not.toContain('user-tokens');
    // A key's own budget, per day; a cleared override is gone.
    t.admin((a) => a.memberAdd({ tenant_id: 'overco', user_id: 'svc', group_id: 'admin' }));
    const key = t.admin((a) => a.apiKeyCreate({ tenant_id: 'overco', user_id: 'svc' }));
    await t.change((a) => a.tokenLimitsSet('overco', 'key', key.record.id, { tokens_per_day: 80 }));
    const viaKey = () => t.envoy({ method: 'POST', path: '/api/v1/chat/completions', headers: [['x-api-key', key.key], ['content-type', 'application/json']], body: chat(50) });
    expect(ok(await viaKey()).ratelimit).toContain('"key-tokens-day";r=5');
    expect(denied(await viaKey()).reason).toBe('quota exceeded: the key-tokens-day limit of 80 tokens per day');
    await t.change((a) => a.tokenLimitsSet('overco', 'key', key.record.id, { tokens_per_day: null }));
    expect(ok(await viaKey()).ratelimit).not.toContain('key-tokens');
    expect(() => t.admin((a) => a.tokenLimitsSet('overco', 'group', 'nosuch', { tokens_per_day: 1 }))).toThrow(/unknown group nosuch/);
    expect(() => t.admin((a) => a.tokenLimitsSet('overco', 'tenant', 'overco', { tokens_per_day: -1 }))).toThrow(/invalid tokens-per-day -1/);
  });
});

describe('the decision log', () => {
  it('records each reservation with its decision, and each settlement (or a usage no reservation was held for)', async () => {
    now += 60_000;
    const a = ok(await ask('globex', 'bob', chat(50)));
    await settle(a, 3, 4);
    await settle({ ...a, 'x-decision-id': 'never-reserved' }, 1, 1);
    const lines = () => readFileSync(join(t.dir, 'decisions.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => lines().some((l) => l.decision_id === 'never-reserved'), 'the usage lines');
    const mine = lines().filter((l) => l.decision_id === a['x-decision-id']);
    expect(mine.find((l) => l.msg === 'decision')).toMatchObject({ decision: 'allow', reservation: { input_tokens: 25, output_tokens: 50, cost_usd: (25 * 0.15 + 50 * 0.6) / 1e6 } });
    expect(mine.find((l) => l.msg === 'usage')).toMatchObject({ tenant: 'globex', input_tokens: 3, output_tokens: 4, settled: true });
    expect(lines().find((l) => l.decision_id === 'never-reserved')).toMatchObject({ msg: 'usage', settled: false });
  });
});

describe('token budgets on one Redis, two replicas', () => {
  let redis: RedisServer;
  const replicas: TestServer[] = [];
  const procs: ReturnType<typeof extProcClient>[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      // A day's budget: a minute's could roll over while the test runs.
      const r = await startTestServer({
        config: {
          quota: { store: 'redis', redis_url: redis.url, redis_prefix: 'tg:tok:' },
          tiers: { premium: { tokens_per_day: 1000 } },
          genai: { ext_proc_address: '127.0.0.1:0', reservation_ttl_seconds: 1 },
        },
      });
      r.admin((a) => a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'admin' }));
      replicas.push(r);
      procs.push(extProcClient(r.server.extProcAddress!));
    }
  });
  afterAll(async () => {
    procs.forEach((p) => p.close());
    for (const r of replicas) await r.close();
    await redis?.stop();
  });

  const llm = async (r: TestServer, maxTokens: number) =>
    r.envoy({ method: 'POST', path: '/api/v1/chat/completions', headers: [bearer(await mint({ tenant: 'acme', sub: 'alice' })), ['content-type', 'application/json']], body: chat(maxTokens) }, { timeoutMs: 3000 });

  it('never admit more than the shared budget together; either replica settles; an unsettled one expires', async () => {
    // Each reserves 25 + 200: four fit in 1,000, the fifth does not, whichever replica takes it.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => llm(replicas[i % 2]!, 200)));
    const allowed = results.filter((r) => r.outcome === 'upstream');
    expect(allowed).toHaveLength(4);
    expect(results.filter((r) => r.outcome === 'denied').map((r) => denied(r).error)).toEqual(Array(6).fill('quota_exceeded'));
    // Settled through the other replica's ExternalProcessor: 225 reserved, 10 used, 215 back each.
    for (const [i, r] of allowed.entries()) await processed(procs[i % 2]!, ok(r), 'application/json', [completionBody('gpt-4o-mini', 5, 5)]);
    const after = ok(await llm(replicas[0]!, 100));
    expect(after.ratelimit).toContain(`"tenant-tokens-day";r=${1000 - 4 * 10 - 125}`);
    // Not settled: released by whichever replica sweeps first, once its second is up.
    await new Promise((r) => setTimeout(r, 2500));
    expect(ok(await llm(replicas[1]!, 100)).ratelimit).toContain(`"tenant-tokens-day";r=${1000 - 4 * 10 - 125}`);
  });
});
