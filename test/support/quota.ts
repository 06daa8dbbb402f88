// Quota assertions shared by the local and the Redis tests.
import { expect } from 'vitest';
import { bearer, mint, type TestServer } from './server.js';

/**
 * Tenants in turn, each with the same subject: the first exhausts its limit, then each other one still gets
 * exactly `limit` more and is then refused. A counter keyed without the tenant would be shared and fail this.
 */
export async function expectExactlyLimit(t: TestServer, tenants: string[], sub: string, limit: number): Promise<void> {
  for (const tenant of tenants) {
    const token = await mint({ tenant, sub });
    const outcomes: string[] = [];
    for (let i = 0; i < limit + 2; i++) {
      const r = await t.envoy({ method: 'GET', path: '/api/v1/items', headers: [bearer(token)] });
      outcomes.push(r.outcome === 'upstream' ? 'allow' : r.outcome === 'denied' ? JSON.parse(r.body).error : r.outcome);
    }
    expect(outcomes, tenant).toEqual([...Array(limit).fill('allow'), 'quota_exceeded', 'quota_exceeded']);
  }
}
