// The policy manager with real compiled WASM (opa build) from a temporary directory: it serves what it compiled,
// swaps in a good rebuild, keeps the last good policy on a bad one, and reports each reload.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyManager } from '../../src/policy/manager.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/telemetry/logger.js';

const policy = (allowed: boolean) => `package tenantgate.authz\n\ndecision := {"allowed": ${allowed}}\n`;

describe('PolicyManager', () => {
  it('serves the compiled policy, swaps in a good rebuild, and keeps the last good one on a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-pm-'));
    writeFileSync(join(dir, 'p.rego'), policy(false));
    const events: string[] = [];
    const m = new PolicyManager(parseConfig({ policies: { dir, watch: false } }), createLogger('silent'), { onReload: (result, source) => events.push(`${result}:${source}`) });
    await m.start();
    const first = m.live.revision;
    expect(m.live.evaluate({})).toEqual({ allowed: false });

    writeFileSync(join(dir, 'p.rego'), policy(true));
    await m.reload('sighup');
    expect(m.live.evaluate({})).toEqual({ allowed: true });
    const second = m.live.revision;
    expect(second).not.toBe(first);

    writeFileSync(join(dir, 'p.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": \n');
    await m.reload('sighup');
    expect(m.live.revision).toBe(second);
    expect(m.live.evaluate({})).toEqual({ allowed: true });
    expect(events).toEqual(['success:sighup', 'failure:sighup']);
    m.close();
  });
});
