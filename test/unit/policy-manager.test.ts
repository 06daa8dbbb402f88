// The policy manager with real compiled WASM (opa build) from a temporary directory: it serves what it compiled,
// swaps in a good rebuild, keeps the last good policy on a bad one, and reports each reload.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyManager } from '../../src/policy/manager.js';
import { parseConfig } from '../../src/core/config.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { compilePolicies } from '../../src/policy/compile.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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

  it('after a bad bundle, downloads unconditionally: a new bundle with the old ETag (mtime and size alike) is not missed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-pm-'));
    const bundleOf = async (allowed: boolean) => {
      writeFileSync(join(dir, 'p.rego'), policy(allowed));
      return compilePolicies(dir, 'tenantgate/authz/decision');
    };
    // The server's current file and its ETag; 304 when If-None-Match names it.
    let served = { body: await bundleOf(false), etag: '"same"' };
    const server = createServer((req, res) => {
      if (req.headers['if-none-match'] === served.etag) return res.writeHead(304).end();
      res.writeHead(200, { etag: served.etag }).end(served.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.tar.gz`;
    const m = new PolicyManager(parseConfig({ policies: { bundle_url: url, bundle_poll_seconds: 3600 } }), createLogger('silent'), { onReload: () => undefined });
    try {
      await m.start();
      expect(m.live.evaluate({})).toEqual({ allowed: false });
      served = { body: Buffer.from('not a bundle'), etag: '"bad"' };
      expect(await m.poll()).toBe(true);
      expect(m.live.evaluate({})).toEqual({ allowed: false });
      // A new good bundle that happens to carry the first one's ETag.
      served = { body: await bundleOf(true), etag: '"same"' };
      await m.poll();
      expect(m.live.evaluate({})).toEqual({ allowed: true });
    } finally {
      m.close();
      server.close();
    }
  });
});

