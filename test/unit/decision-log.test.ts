import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecisionLog } from '../../src/telemetry/decision-log.js';
import { ANONYMOUS, Denial } from '../../src/core/types.js';
import type { Outcome } from '../../src/core/outcome.js';

const outcome = (headers: Record<string, string>, path = '/api/v1/items'): Outcome =>
  ({
    decisionId: 'd-1',
    decision: new Denial(401, 'unauthenticated', 'credentials are required'),
    request: { method: 'GET', path, host: 'h', headers } as Outcome['request'],
    policyRevision: 'r',
    identity: ANONYMOUS,
    tenant: null,
    effective: null,
    hints: [],
    federation: null,
    targetTenant: null,
  }) as Outcome;

async function written(log: DecisionLog, file: string): Promise<Record<string, unknown>[]> {
  log.close();
  await new Promise((r) => setTimeout(r, 50));
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('DecisionLog', () => {
  it('cuts long header, path and host values and counts them; a 1 MB header is not a 1 MB line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tg-dl-')), 'd.log');
    const log = new DecisionLog({ output: file, sampleAllows: 1, includeHeaders: true, maxValueBytes: 1024 });
    log.record(outcome({ 'x-big': 'a'.repeat(1_000_000), authorization: 'Bearer secret', 'x-small': 'ok' }, '/' + 'p'.repeat(5000)), 1);
    expect(log.truncated).toBe(2);
    const [entry] = await written(log, file);
    const headers = entry!.headers as Record<string, string>;
    expect(headers['x-big']).toBe('a'.repeat(1024) + '...[998976 more characters]');
    expect(headers['x-small']).toBe('ok');
    expect(headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(entry).length).toBeLessThan(4000);
  });

  it('writes at most N anonymous denials a second and counts the rest', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tg-dl-')), 'd.log');
    const log = new DecisionLog({ output: file, sampleAllows: 1, includeHeaders: false, anonymousDenialsPerSecond: 5 });
    // Start at the beginning of a second so the burst stays inside one.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
    for (let i = 0; i < 100; i++) log.record(outcome({}), 1);
    const lines = await written(log, file);
    expect(lines).toHaveLength(5);
    expect(log.dropped).toBe(95);
  });

  it("names the tenant rule that denied (tenant rules), and only then", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tg-dl-')), 'd.log');
    const log = new DecisionLog({ output: file, sampleAllows: 1, includeHeaders: false });
    const tenant = { id: 'acme' } as Outcome['tenant'];
    log.record({ ...outcome({}), tenant, identity: { ...ANONYMOUS, kind: 'jwt', subject: 'a' }, decision: new Denial(403, 'network_not_allowed', 'tenant rule "office": ...'), tenantRule: 'office' }, 1);
    log.record({ ...outcome({}), tenant, identity: { ...ANONYMOUS, kind: 'jwt', subject: 'a' } }, 1);
    const [ruled, plain] = await written(log, file);
    expect(ruled).toMatchObject({ tenant: 'acme', code: 'network_not_allowed', tenant_rule: 'office' });
    expect(plain).not.toHaveProperty('tenant_rule');
  });
});
