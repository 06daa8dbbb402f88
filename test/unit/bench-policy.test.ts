// The OPA-Envoy comparison policy of the bench must decide like tenantgate's core: its own opa tests say so.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { findOpa } from '../../src/policy/opa.js';

const ROOT = resolve(__dirname, '..', '..');

describe('bench/opa-envoy/policy.rego', () => {
  it('passes its opa tests', () => {
    const r = spawnSync(findOpa(), ['test', join(ROOT, 'bench', 'opa-envoy')], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/PASS: 2\/2/);
    expect(r.status).toBe(0);
  });
});
