// Bundles as an ordinary OPA bundle server hands them out: plain Rego (`opa build`, compiled to WASM when loaded)
// and signed bundles (`opa build --signing-key`, verified with policies.bundle_verification), from a file and from
// a real nginx; a bundle that fails the rules never replaces the one serving.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOpa, PROJECT_ROOT } from '../../src/policy/opa.js';
import { startTestServer, waitFor } from '../support/server.js';
import { startNginx } from '../support/nginx.js';

const ENTRY = 'tenantgate/authz/decision';

/** The project's policies, with `extra` public paths, built by opa into `out` with the given flags. */
function opaBuild(work: string, out: string, flags: string[], extra: string[] = []): void {
  const src = join(work, `src-${Math.random().toString(36).slice(2)}`);
  cpSync(join(PROJECT_ROOT, 'policies'), src, { recursive: true, filter: (f) => !f.endsWith('_test.rego') });
  const data = JSON.parse(readFileSync(join(src, 'data.json'), 'utf8'));
  data.tenantgate.settings.public_paths.push(...extra);
  writeFileSync(join(src, 'data.json'), JSON.stringify(data));
  const r = spawnSync(findOpa(), ['build', '-b', src, '-o', out, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`opa build failed: ${r.stderr}`);
}

function keys(work: string): { priv: string; pub: string; other: string } {
  const priv = join(work, 'priv.pem');
  const pub = join(work, 'pub.pem');
  const other = join(work, 'other.pem');
  spawnSync('openssl', ['genrsa', '-out', priv, '2048']);
  spawnSync('openssl', ['rsa', '-in', priv, '-pubout', '-out', pub]);
  spawnSync('openssl', ['genrsa', '-out', other, '2048']);
  return { priv, pub, other };
}

describe('plain Rego bundles', () => {
  it('a bundle built without -t wasm is compiled when it is loaded, and keeps its manifest revision', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tg-rego-bundle-'));
    const bundle = join(work, 'bundle.tar.gz');
    opaBuild(work, bundle, ['--revision', 'rego-7'], ['/open']);
    const t = await startTestServer({ config: { policies: { bundle_file: bundle, watch: false } } });
    expect(t.server.policyRevision).toBe('rego-7');
    expect((await t.envoy({ method: 'GET', path: '/open' })).outcome).toBe('upstream');
    expect((await t.envoy({ method: 'GET', path: '/closed' })).outcome).toBe('denied');
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('a Rego bundle that calls a builtin tenantgate refuses does not start, naming it', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tg-rego-bundle-'));
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', 'p.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": http.send({"method": "GET", "url": "http://x"}).status_code == 200}\n');
    const bundle = join(work, 'bundle.tar.gz');
    expect(spawnSync(findOpa(), ['build', '-b', join(work, 'src'), '-o', bundle]).status).toBe(0);
    await expect(startTestServer({ config: { policies: { bundle_file: bundle, watch: false } } })).rejects.toThrow(/http\.send \(a check must not wait on the network.*called at \S*p\.rego:3 \(rule decision\)/s);
    rmSync(work, { recursive: true, force: true });
  });
});

describe('signed bundles', () => {
  it('from a bundle server: a signed bundle serves; unsigned, signed by another key, or tampered, it is refused and the last good one serves', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tg-signed-'));
    chmodSync(work, 0o755); // readable by nginx's unprivileged workers
    const { priv, pub, other } = keys(work);
    const served = join(work, 'served');
    mkdirSync(served);
    chmodSync(served, 0o755);
    const file = join(served, 'bundle.tar.gz');
    const publish = (flags: string[], extra: string[]) => {
      opaBuild(work, join(work, 'next.tar.gz'), ['-t', 'wasm', '-e', ENTRY, ...flags], extra);
      cpSync(join(work, 'next.tar.gz'), file);
      chmodSync(file, 0o644);
    };
    publish(['--signing-key', priv, '--revision', 'signed-1'], ['/one']);
    const nginx = await startNginx((port) => `server { listen 127.0.0.1:${port}; root ${served}; etag on; access_log off; }`);
    const t = await startTestServer({
      config: { policies: { bundle_file: undefined, bundle_url: `http://127.0.0.1:${nginx.port}/bundle.tar.gz`, bundle_poll_seconds: 0.1, bundle_verification: { key_file: pub } } },
    });
    expect(t.server.policyRevision).toBe('signed-1');
    expect((await t.envoy({ method: 'GET', path: '/one' })).outcome).toBe('upstream');
    const failures = async () => (await t.server.metrics.getSingleMetric('tenantgate_policy_reloads_total')!.get()).values.find((v) => v.labels.result === 'failure')?.value ?? 0;

    let expected = 0;
    for (const bad of [[], ['--signing-key', other]]) {
      publish([...bad, '--revision', 'bad'], ['/bad']);
      expected += 2;
      await waitFor(async () => (await failures()) >= expected, 'refused polls');
      expect(t.server.policyRevision).toBe('signed-1');
      expect((await t.envoy({ method: 'GET', path: '/bad' })).outcome).toBe('denied');
    }
    // Tampered: a signed bundle whose data.json was changed after signing (built aside, never served as signed).
    opaBuild(work, join(work, 'aside.tar.gz'), ['-t', 'wasm', '-e', ENTRY, '--signing-key', priv, '--revision', 'tampered'], ['/two']);
    const { unpackBundle } = await import('../../src/policy/bundle.js');
    const files = await unpackBundle(readFileSync(join(work, 'aside.tar.gz')));
    expect(files.has('.signatures.json')).toBe(true);
    const tar = await import('tar');
    const dir = join(work, 'tampered');
    mkdirSync(dir);
    for (const [name, bytes] of files) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), name === 'data.json' ? bytes.toString().replace('/two', '/evil') : bytes);
    }
    await tar.create({ gzip: true, file: join(work, 'tampered.tar.gz'), cwd: dir }, [...files.keys()]);
    cpSync(join(work, 'tampered.tar.gz'), file);
    expected += 2;
    await waitFor(async () => (await failures()) >= expected, 'refused polls of the tampered bundle');
    expect(t.server.policyRevision).toBe('signed-1');
    expect((await t.envoy({ method: 'GET', path: '/evil' })).outcome).toBe('denied');

    publish(['--signing-key', priv, '--revision', 'signed-2'], ['/two']);
    await waitFor(() => t.server.policyRevision === 'signed-2', 'the next signed bundle');
    expect((await t.envoy({ method: 'GET', path: '/two' })).outcome).toBe('upstream');
    await t.close();
    await nginx.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a signed plain Rego bundle from a file is verified, then compiled; a bundle file without a signature does not start', async () => {
    const work = mkdtempSync(join(tmpdir(), 'tg-signed-'));
    const { priv, pub } = keys(work);
    const signed = join(work, 'signed.tar.gz');
    opaBuild(work, signed, ['--signing-key', priv, '--revision', 'rego-signed'], ['/open']);
    const t = await startTestServer({ config: { policies: { bundle_file: signed, watch: false, bundle_verification: { key_file: pub } } } });
    expect(t.server.policyRevision).toBe('rego-signed');
    expect((await t.envoy({ method: 'GET', path: '/open' })).outcome).toBe('upstream');
    await t.close();
    const unsigned = join(work, 'unsigned.tar.gz');
    opaBuild(work, unsigned, [], ['/open']);
    await expect(startTestServer({ config: { policies: { bundle_file: unsigned, watch: false, bundle_verification: { key_file: pub } } } })).rejects.toThrow('bundle missing .signatures.json file');
    rmSync(work, { recursive: true, force: true });
  });
});
