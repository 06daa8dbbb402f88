// GenAI token usage through Envoy's external processing filter, on a real ExternalProcessor stream built as Envoy
// builds it (the official protos, header values as raw bytes, the body in chunks): the request's trusted headers
// from a real ext_authz check name the decision and the tenant; the response's usage, JSON or streamed, is counted
// in the metrics and written to the decision log; bad streams never take the server down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { bearer, mint, startTestServer, waitFor, type TestServer } from '../support/server.js';
import { completionBody, extProcClient, processed as processedBy } from '../support/ext-proc.js';
import { internalsOf } from '../../src/server.js';
import { OPERATIONS } from '../../src/admin/dispatch.js';

let t: TestServer;
let proc: ReturnType<typeof extProcClient>;
let logFile: string;

beforeAll(async () => {
  t = await startTestServer({
    config: {
      genai: { ext_proc_address: '127.0.0.1:0', models: { 'gpt-4o-mini': { input_per_million: 0.15, output_per_million: 0.6 } } },
      decision_log: { enabled: true, output: 'decisions.log', include_headers: false },
    },
  });
  logFile = join(t.dir, 'decisions.log');
  t.admin((a) => {
    a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'admin' });
    a.memberAdd({ tenant_id: 'globex', user_id: 'bob', group_id: 'analyst' });
  });
  proc = extProcClient(t.server.extProcAddress!);
});
afterAll(async () => {
  proc?.close();
  await t?.close();
});

/** The headers ext_authz set on the allowed request, as the upstream (and the next filter) sees them. */
async function authorized(tenant: string, user: string): Promise<Record<string, string>> {
  const r = await t.envoy({ method: 'POST', path: '/api/v1/chat/completions', headers: [bearer(await mint({ tenant, sub: user })), ['content-type', 'application/json']], body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 }) });
  if (r.outcome !== 'upstream') throw new Error(`not allowed: ${r.outcome === 'denied' ? r.body : r.outcome}`);
  return Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v[0]!]));
}

const processed = (request: Record<string, string>, contentType: string, chunks: string[], extra: object[] = []) => processedBy(proc, request, contentType, chunks, extra);

const tokens = async (tenant: string, kind: string) => (await t.server.metrics.getSingleMetric('tenantgate_genai_tokens_total')!.get()).values.find((v) => v.labels.tenant === tenant && v.labels.kind === kind)?.value ?? 0;
const usageLines = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'usage');

describe('GenAI usage from the responses (ext_proc)', () => {
  it('reads a JSON response in chunks, answers every message with "continue", and counts the tokens and their cost', async () => {
    const h = await authorized('acme', 'alice');
    const body = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' } }], usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 } });
    const before = [await tokens('acme', 'input'), await tokens('acme', 'output')];
    const answers = await processed(h, 'application/json', [body.slice(0, 40), body.slice(40, 90), body.slice(90)]);
    expect(answers.map((a) => Object.keys(a as object).find((k) => (a as Record<string, unknown>)[k] !== undefined && k !== 'response'))).toEqual(['requestHeaders', 'responseHeaders', 'responseBody', 'responseBody', 'responseBody']);
    // Nothing changed: no mutation, no immediate response.
    expect(JSON.stringify(answers)).not.toMatch(/Mutation|immediateResponse|headerMutation/);
    expect([(await tokens('acme', 'input')) - before[0]!, (await tokens('acme', 'output')) - before[1]!]).toEqual([1200, 300]);
    await waitFor(() => usageLines().some((u) => u.decision_id === h['x-decision-id']), 'the usage line');
    expect(usageLines().find((u) => u.decision_id === h['x-decision-id'])).toMatchObject({ tenant: 'acme', user: 'alice', model: 'gpt-4o-mini-2024-07-18', input_tokens: 1200, output_tokens: 300, cost_usd: (1200 * 0.15 + 300 * 0.6) / 1e6 });
  });

  it('reads the usage of a streamed response from its last event, whatever the chunking', async () => {
    const h = await authorized('globex', 'bob');
    const events = [
      { id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'Hel' } }] },
      { id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'lo' } }] },
      { id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 42, completion_tokens: 7, total_tokens: 49 } },
    ];
    const stream = events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('') + 'data: [DONE]\r\n\r\n';
    const cuts = [0, 17, 100, stream.length - 120, stream.length - 5, stream.length];
    const before = await tokens('globex', 'input');
    await processed(h, 'text/event-stream; charset=utf-8', cuts.slice(1).map((end, i) => stream.slice(cuts[i], end)));
    expect((await tokens('globex', 'input')) - before).toBe(42);
    await waitFor(() => usageLines().some((u) => u.decision_id === h['x-decision-id']), 'the usage line');
    expect(usageLines().find((u) => u.decision_id === h['x-decision-id'])).toMatchObject({ tenant: 'globex', user: 'bob', input_tokens: 42, output_tokens: 7 });
  });

  it('request bodies and trailers pass untouched; a response without usage, or not JSON, counts nothing', async () => {
    const h = await authorized('acme', 'alice');
    const before = await tokens('acme', 'input');
    const answers = await processed(h, 'application/json', ['{"error": {"message": "overloaded"}}'], [{ requestBody: { body: Buffer.from('{}'), endOfStream: true } }]);
    expect(answers.map((a) => Object.keys(a as object)[0])).toContain('requestBody');
    await processed(h, 'application/json', ['not json at all']);
    await processed(h, 'text/html', ['<html>usage</html>']);
    expect(await tokens('acme', 'input')).toBe(before);
  });

  it('a stream of nonsense is ended, and the server keeps serving checks and streams', async () => {
    const call: grpc.ClientDuplexStream<object, unknown> = proc.open();
    const ended = new Promise<void>((resolve) => {
      call.on('end', resolve);
      call.on('error', () => resolve());
      call.on('data', () => undefined);
    });
    call.write({});
    await ended;
    // A body before any headers, and a stream cut off: no harm either.
    const cut = proc.open();
    cut.on('error', () => undefined);
    cut.on('data', () => undefined);
    cut.write({ responseBody: { body: Buffer.from('{"usage":'), endOfStream: false } });
    cut.cancel();
    const h = await authorized('acme', 'alice');
    const before = await tokens('acme', 'output');
    await processed(h, 'application/json', [JSON.stringify({ model: 'x', usage: { prompt_tokens: 1, completion_tokens: 2 } })]);
    expect((await tokens('acme', 'output')) - before).toBe(2);
  });

  it('usage show has the tokens and cost per subject, model and window, and totals that add up exactly', async () => {
    await t.change((a) => a.tenantCreate({ id: 'billed', name: 'Billed', tier: 'premium' }));
    t.admin((a) => a.memberAdd({ tenant_id: 'billed', user_id: 'carol', group_id: 'admin' }));
    const key = t.admin((a) => a.apiKeyCreate({ tenant_id: 'billed', user_id: 'svc' }));
    const viaKey = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [['x-api-key', key.key]] });
    if (viaKey.outcome !== 'upstream') throw new Error('the key was not allowed');
    const keyHeaders = Object.fromEntries(Object.entries(viaKey.headers).map(([k, v]) => [k, v[0]!]));
    const carol = await authorized('billed', 'carol');
    const body = completionBody;
    // 0.15 and 0.6 $/M: 1 input token is 150 nano-dollars, 1 output token 600; summed exactly, not in floats.
    for (let i = 0; i < 7; i++) await processed(carol, 'application/json', [body('gpt-4o-mini', 1, 1)]);
    await processed(keyHeaders, 'application/json', [body('gpt-4o-mini', 1000, 10)]);
    await processed(keyHeaders, 'application/json', [body('llama-local', 5, 5)]);
    await internalsOf(t.server).tokens!.flush();
    const usage = (await t.adminAsync(async (a) => OPERATIONS.ShowUsage!(a, { tenant: 'billed' }, {} as never))) as {
      tokens: { subject: string; model: string; window: string; input_tokens: number; output_tokens: number; cost_usd: number; responses: number }[];
      token_totals: { window: string; input_tokens: number; output_tokens: number; cost_usd: number; responses: number }[];
    };
    const day = usage.tokens.filter((x) => x.window === 'day').map(({ subject, model, input_tokens, output_tokens, cost_usd, responses }) => ({ subject, model, input_tokens, output_tokens, cost_usd, responses }));
    expect(day).toEqual([
      { subject: `key:${key.record.id}`, model: 'gpt-4o-mini', input_tokens: 1000, output_tokens: 10, cost_usd: 0.000156, responses: 1 },
      { subject: `key:${key.record.id}`, model: 'llama-local', input_tokens: 5, output_tokens: 5, cost_usd: 0, responses: 1 },
      { subject: 'user:carol', model: 'gpt-4o-mini', input_tokens: 7, output_tokens: 7, cost_usd: 0.00000525, responses: 7 },
    ]);
    for (const w of ['day', 'month']) expect(usage.token_totals.find((x) => x.window === w)).toMatchObject({ input_tokens: 1012, output_tokens: 22, cost_usd: 0.00016125, responses: 9 });
  });
});
