// The CLI as a user runs it: a separate process, a real config file, a real SQLite file, real signals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'tenantgate.js');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tenantgate-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function baseConfig(port: number, extra = ''): string {
  return `server:
  address: 127.0.0.1:${port}
store:
  path: ${join(dir, 'cli.db')}
auth:
  jwt:
    issuers:
      - issuer: https://idp.tenantgate.local/
        audiences: [tenantgate]
        jwks_file: ${join(dir, 'keys', 'jwks.json')}
policies:
  dir: ${join(ROOT, 'policies')}
log:
  level: warn
${extra}`;
}

/** Starts a long-running CLI command and resolves once it prints `marker`. */
function startProcess(args: string[], marker: RegExp): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${marker}: ${out}`)), 30_000);
    const onData = () => {
      if (marker.test(out)) {
        clearTimeout(timer);
        resolvePromise({ child, out: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ${marker}: ${out}`));
    });
  });
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

describe('tenant commands', () => {
  it('create, list, get, suspend, resume and delete, with --json', () => {
    const cfg = writeConfig('tenants.yaml', baseConfig(0));
    expect(cli(['tenant', 'create', 'acme', '--name', 'Acme Corp', '--tier', 'premium', '--config', cfg]).stdout).toBe('created tenant acme (premium)\n');
    expect(cli(['tenant', 'create', 'globex', '--name', 'Globex', '--tier', 'basic', '--config', cfg]).code).toBe(0);
    const list = JSON.parse(cli(['tenant', 'list', '--json', '--config', cfg]).stdout);
    expect(list.map((t: { id: string; tier: string; status: string }) => [t.id, t.tier, t.status])).toEqual([
      ['acme', 'premium', 'active'],
      ['globex', 'basic', 'active'],
    ]);
    expect(JSON.parse(cli(['tenant', 'suspend', 'acme', '--json', '--config', cfg]).stdout).status).toBe('suspended');
    expect(JSON.parse(cli(['tenant', 'get', 'acme', '--json', '--config', cfg]).stdout)).toMatchObject({ id: 'acme', name: 'Acme Corp', status: 'suspended' });
    expect(cli(['tenant', 'resume', 'acme', '--config', cfg]).stdout).toBe('tenant acme is active\n');
    expect(cli(['tenant', 'delete', 'globex', '--config', cfg]).stdout).toBe('deleted tenant globex and all its data\n');
    expect(JSON.parse(cli(['tenant', 'list', '--json', '--config', cfg]).stdout)).toHaveLength(1);
  });

  it.each([
    [['tenant', 'create', 'Bad_Id', '--name', 'x'], /invalid tenant id "Bad_Id"/],
    [['tenant', 'create', 'a'.repeat(37), '--name', 'x'], /invalid tenant id/],
    [['tenant', 'create', 'ok-id', '--name', 'x', '--tier', 'gold'], /argument 'gold' is invalid/],
    [['tenant', 'get', 'nosuch'], /unknown tenant nosuch/],
    [['tenant', 'suspend', 'nosuch'], /unknown tenant nosuch/],
    [['tenant', 'delete', 'nosuch'], /unknown tenant nosuch/],
  ])('refuses %j with a clear message and a non-zero exit', (args, message) => {
    const cfg = writeConfig('refuse.yaml', baseConfig(0));
    const r = cli([...args, '--config', cfg]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a duplicate tenant', () => {
    const cfg = writeConfig('dup.yaml', baseConfig(0).replace('cli.db', 'dup.db'));
    expect(cli(['tenant', 'create', 'dup', '--name', 'x', '--config', cfg]).code).toBe(0);
    const r = cli(['tenant', 'create', 'dup', '--name', 'x', '--config', cfg]);
    expect([r.code, r.stderr]).toEqual([1, 'error: tenant dup already exists\n']);
  });
});

describe('start-up errors', () => {
  it('a config error names the key and what is wrong', () => {
    const cfg = writeConfig('bad.yaml', 'server:\n  adress: 127.0.0.1:1\nstore:\n  poll_interval_ms: 5\n');
    const r = cli(['serve', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('server.adress: unknown key');
    expect(r.stderr).toMatch(/store\.poll_interval_ms: .*>=50/);
  });

  it('an environment override is validated like the file', () => {
    const cfg = writeConfig('envbad.yaml', baseConfig(0));
    const r = cli(['serve', '--config', cfg], { TENANTGATE_SERVER__ADDRESS: 'not an address' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('server.address: must be host:port');
  });

  it('a policy that does not compile stops start-up with opa\'s own message', () => {
    const policies = join(dir, 'broken-policies');
    mkdirSync(policies, { recursive: true });
    writeFileSync(join(policies, 'main.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": true\n');
    const cfg = writeConfig('broken.yaml', baseConfig(0).replace(join(ROOT, 'policies'), policies));
    const r = cli(['serve', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('opa build failed');
    expect(r.stderr).toContain('rego_parse_error');
  });
});

describe('demo, check and signals', () => {
  it('demo seeds, prints a working token and example; check prints the decision; SIGTERM exits 0', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = writeConfig('demo.yaml', baseConfig(port).replace('cli.db', 'demo.db').replace('level: warn', 'level: info'));
    const { child, out } = await startProcess(['demo', '--config', cfg], /try it/);
    const token = /example token for alice@acme \(valid 24 h\):\n(\S+)/.exec(out())![1]!;

    const allow = cli(['check', '--server', `127.0.0.1:${port}`, '--method', 'GET', '--path', '/api/v1/items', '-H', `authorization: Bearer ${token}`]);
    expect(allow.code).toBe(0);
    expect(allow.stdout).toMatch(/^ALLOW {2}\(grpc status 0\)\nheaders to the upstream:\n {2}x-tenant-id: acme\n {2}x-tenant-tier: premium\n/);

    const deny = cli(['check', '--server', `127.0.0.1:${port}`, '--path', '/tenants/globex/items', '-H', `authorization: Bearer ${token}`]);
    expect(deny.stdout).toMatch(/^DENY 403 {2}\(grpc status 7: /);
    expect(deny.stdout).toContain('"error":"tenant_mismatch"');

    const other = cli(['token', 'mint', '--tenant', 'globex', '--sub', 'bob@globex', '--config', cfg]).stdout.trim();
    const json = JSON.parse(cli(['check', '--server', `127.0.0.1:${port}`, '--path', '/api/v1/items', '-H', `authorization: Bearer ${other}`, '--json']).stdout);
    expect(json.okResponse.headers.find((h: { header: { key: string } }) => h.header.key === 'x-tenant-id').header.value).toBe('globex');

    const suspended = cli(['token', 'mint', '--tenant', 'initech', '--sub', 'x', '--config', cfg]).stdout.trim();
    expect(cli(['check', '--server', `127.0.0.1:${port}`, '-H', `authorization: Bearer ${suspended}`]).stdout).toContain('"error":"tenant_suspended"');

    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out()).toContain('tenantgate stopped');
  });

  it('serve stops cleanly on SIGINT too', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = writeConfig('sigint.yaml', baseConfig(port).replace('cli.db', 'sigint.db').replace('level: warn', 'level: info'));
    if (!existsSync(join(dir, 'keys', 'jwks.json'))) {
      mkdirSync(join(dir, 'keys'), { recursive: true });
      writeFileSync(join(dir, 'keys', 'jwks.json'), JSON.stringify({ keys: [] }));
    }
    const { child } = await startProcess(['serve', '--config', cfg], /tenantgate serving/);
    const exited = exitOf(child);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('check against nothing fails with a clear message', () => {
    const r = cli(['check', '--server', '127.0.0.1:1', '--path', '/']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: gRPC call failed: /);
  });
});
