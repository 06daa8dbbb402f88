// The catalogue of denial codes and the documented list of them say the same: every code, with its status.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DENIAL_STATUS, challengeFor, deny, grpcCodeFor } from '../../src/core/denials.js';

describe('the denial catalogue', () => {
  it('is the documented list of denial codes (docs/architecture.md), code for code and status for status', () => {
    const readme = readFileSync(join(resolve(__dirname, '..', '..'), 'docs', 'architecture.md'), 'utf8');
    const list = readme.slice(readme.indexOf('Denial codes:'), readme.indexOf('Anything unexpected fails closed'));
    const documented = Object.fromEntries([...list.matchAll(/`([a-z_]+)` \((\d{3})/g)].map((m) => [m[1], Number(m[2])]));
    expect(documented).toEqual({ ...DENIAL_STATUS });
  });

  it('has a way to fix every code, for check --explain and replay', async () => {
    const { DENIAL_FIXES } = await import('../../src/check/explain.js');
    expect(Object.keys(DENIAL_FIXES).sort()).toEqual(Object.keys(DENIAL_STATUS).sort());
  });

  it('gives each denial its status, gRPC code and challenge', () => {
    expect(deny('quota_exceeded', 'r', { 'retry-after': '3' })).toMatchObject({ allowed: false, http_status: 429, code: 'quota_exceeded', reason: 'r', headers: { 'retry-after': '3' } });
    expect([400, 401, 403, 405, 429, 503].map(grpcCodeFor)).toEqual([3, 16, 7, 7, 8, 14]);
    expect(challengeFor('unauthenticated')).toBe('Bearer realm="tenantgate"');
    expect(challengeFor('invalid_api_key')).toBe('Bearer realm="tenantgate", error="invalid_token"');
  });
});
