// The CLI as a user runs it: a separate process, a real config file, a real SQLite file, real signals.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../support/server.js';

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

/** Starts a long-running CLI command and resolves once it prints `marker`. `direct`: run bin/tenantgate.js itself
 *  (its #! line starts node with the server's V8 flags) rather than `node bin/tenantgate.js`. */
function startProcess(args: string[], marker: RegExp, direct = false): Promise<{ child: ChildProcess; out: () => string }> {
  const child = direct
    ? spawn(BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
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

// 'close', not 'exit': the child's last lines of output may still be in transit when it exits.
const exitOf = (child: ChildProcess) => new Promise<number | null>((r) => child.on('close', (code) => r(code)));

describe('the program', () => {
  it('--version prints the package version; the licence package.json names is in LICENSE', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    expect(cli(['--version'])).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    // --help on a command with no subcommands is help, not an unknown option.
    expect(cli(['tenant', 'create', '--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: tenantgate tenant create \[options\] <id>\n/) });
    expect(pkg.license).toBe('Apache-2.0');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^\s+Apache License\n\s+Version 2\.0, January 2004\n/);
  });
});

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

describe('authorization model commands', () => {
  let cfg: string;
  beforeAll(() => {
    cfg = writeConfig('model.yaml', baseConfig(0).replace('cli.db', 'model.db'));
    expect(cli(['tenant', 'create', 'acme', '--name', 'Acme', '--tier', 'premium', '--config', cfg]).code).toBe(0);
    expect(cli(['tenant', 'create', 'globex', '--name', 'Globex', '--config', cfg]).code).toBe(0);
  });

  it('group apply from YAML, list, get, delete', () => {
    writeFileSync(join(dir, 'ml.yaml'), `id: ml-team
name: ML team
type: team
permissions:
  - resource: completions
    actions: [read]
data_access_level: internal
resource_limits:
  allowed_models: [gpt-4o]
  max_tokens_per_request: 2048
routing:
  strategy: performance
  preferred_providers: [openai]
`);
    expect(cli(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'ml.yaml'), '--config', cfg]).stdout).toBe('created group ml-team in tenant acme\n');
    expect(cli(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'ml.yaml'), '--config', cfg]).stdout).toBe('updated group ml-team in tenant acme\n');
    const list = JSON.parse(cli(['group', 'list', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(list.map((g: { id: string }) => g.id)).toEqual(['admin', 'analyst', 'ml-team', 'viewer']);
    const g = JSON.parse(cli(['group', 'get', '--tenant', 'acme', '--id', 'ml-team', '--json', '--config', cfg]).stdout);
    expect(g).toMatchObject({ id: 'ml-team', data_access_level: 'internal', resource_limits: { max_tokens_per_request: 2048 }, routing: { strategy: 'performance' } });
    writeFileSync(join(dir, 'tmp.json'), JSON.stringify({ id: 'tmp', name: 'Tmp', type: 'role' }));
    expect(cli(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'tmp.json'), '--config', cfg]).code).toBe(0);
    expect(cli(['group', 'delete', '--tenant', 'acme', '--id', 'tmp', '--config', cfg]).code).toBe(0);
  });

  it('member add, list, remove', () => {
    expect(cli(['member', 'add', '--tenant', 'acme', '--user', 'alice', '--group', 'ml-team', '--role', 'owner', '--config', cfg]).stdout).toBe('alice is owner of ml-team in acme\n');
    expect(cli(['member', 'add', '--tenant', 'acme', '--user', 'bob', '--group', 'viewer', '--expires', '2099-01-01T00:00:00Z', '--config', cfg]).code).toBe(0);
    const list = JSON.parse(cli(['member', 'list', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(list.map((m: { user_id: string; group_id: string; role: string }) => [m.user_id, m.group_id, m.role])).toEqual([
      ['alice', 'ml-team', 'owner'],
      ['bob', 'viewer', 'member'],
    ]);
    expect(JSON.parse(cli(['member', 'list', '--tenant', 'acme', '--user', 'bob', '--json', '--config', cfg]).stdout)[0].expires_at).toBe('2099-01-01T00:00:00.000Z');
    expect(cli(['member', 'remove', '--tenant', 'acme', '--user', 'bob', '--group', 'viewer', '--config', cfg]).code).toBe(0);
  });

  it('apikey create --json, list --json (no secrets), revoke, rotate', () => {
    const created = JSON.parse(cli(['apikey', 'create', '--tenant', 'acme', '--user', 'alice', '--scopes', 'read:completions', '--expires', '30d', '--json', '--config', cfg]).stdout);
    expect(created.id).toMatch(/^[0-9a-f]{16}$/);
    expect(created.key).toMatch(new RegExp(`^tgk_${created.id}_[A-Za-z0-9_-]{43}$`));
    const list = JSON.parse(cli(['apikey', 'list', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(list).toEqual([expect.objectContaining({ id: created.id, user: 'alice', scopes: ['read:completions'], created_at: expect.any(String), revoked_at: null })]);
    expect(JSON.stringify(list)).not.toContain(created.key.slice(`tgk_${created.id}_`.length));
    const rotated = JSON.parse(cli(['apikey', 'rotate', '--tenant', 'acme', '--id', created.id, '--grace', '1h', '--json', '--config', cfg]).stdout);
    expect(rotated.replaces).toBe(created.id);
    expect(rotated.key).toMatch(/^tgk_/);
    expect(JSON.parse(cli(['apikey', 'revoke', '--tenant', 'acme', '--id', rotated.id, '--json', '--config', cfg]).stdout).revoked_at).not.toBeNull();
    const again = cli(['apikey', 'revoke', '--tenant', 'acme', '--id', rotated.id, '--config', cfg]);
    expect([again.code, again.stderr]).toEqual([1, `error: API key ${rotated.id} is already revoked\n`]);
    expect(cli(['apikey', 'revoke', '--tenant', 'globex', '--id', created.id, '--config', cfg]).stderr).toContain('unknown API key');
  });

  it('federation grant --json, list, revoke', () => {
    const g = JSON.parse(cli(['federation', 'grant', '--source', 'acme', '--target', 'globex', '--resource-type', 'documents', '--access', 'read', '--expires', '7d', '--json', '--config', cfg]).stdout);
    expect(g.id).toMatch(/^fg_/);
    expect(g.token.split('.')).toHaveLength(3);
    expect(JSON.parse(cli(['federation', 'list', '--tenant', 'globex', '--json', '--config', cfg]).stdout).map((x: { id: string }) => x.id)).toEqual([g.id]);
    expect(cli(['federation', 'revoke', '--tenant', 'acme', '--id', g.id, '--config', cfg]).stdout).toBe(`revoked grant ${g.id}\n`);
  });

  it('quota set and get, per tenant, group and key', () => {
    const set = JSON.parse(cli(['quota', 'set', '--tenant', 'acme', '--per-minute', '100', '--burst', '20', '--rate', '2.5', '--json', '--config', cfg]).stdout);
    expect(set).toMatchObject({ tenant_id: 'acme', scope: 'tenant', scope_id: 'acme', per_minute: 100, burst: 20, rate: 2.5, per_day: null });
    expect(cli(['quota', 'set', '--tenant', 'acme', '--group', 'ml-team', '--per-day', '5000', '--config', cfg]).stdout).toBe(
      'group ml-team: per-minute=- per-day=5000 per-month=- burst=- rate=-\n',
    );
    const got = JSON.parse(cli(['quota', 'get', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(got).toMatchObject({ tier: 'premium', override: { per_minute: 100 }, tier_defaults: { requests_per_minute: 1000 } });
    expect(cli(['quota', 'set', '--tenant', 'acme', '--per-minute', 'none', '--config', cfg]).stdout).toContain('per-minute=-');
    const bad = cli(['quota', 'set', '--tenant', 'acme', '--per-minute', '-3', '--config', cfg]);
    expect([bad.code, bad.stderr]).toEqual([1, 'error: invalid --per-minute "-3": a positive number (or "none" to clear)\n']);
    expect(cli(['quota', 'set', '--tenant', 'acme', '--group', 'nosuch', '--per-day', '1', '--config', cfg]).stderr).toContain('unknown group nosuch in tenant acme');
    expect(cli(['quota', 'set', '--tenant', 'acme', '--config', cfg]).stderr).toContain('name at least one limit');
    // LLM token budgets over the tier's.
    expect(cli(['quota', 'tokens', '--tenant', 'acme', '--group', 'ml-team', '--tokens-per-minute', '5000', '--cost-per-month', '12.5', '--config', cfg]).stdout).toBe('group ml-team: tokens-per-minute=5000 cost-per-month=12.5\n');
    expect(cli(['quota', 'tokens', '--tenant', 'acme', '--group', 'ml-team', '--cost-per-month', 'none', '--config', cfg]).stdout).toBe('group ml-team: tokens-per-minute=5000\n');
    expect(JSON.parse(cli(['quota', 'get', '--tenant', 'acme', '--group', 'ml-team', '--json', '--config', cfg]).stdout)).toMatchObject({ token_override: { limits: { tokens_per_minute: 5000 } } });
    expect(cli(['quota', 'tokens', '--tenant', 'acme', '--config', cfg]).stderr).toContain('name at least one token limit');
  });

  it('refuses invalid input clearly and writes nothing', () => {
    const before = cli(['audit', 'list', '--json', '--config', cfg]).stdout;
    const bad = (args: string[], message: RegExp) => {
      const r = cli([...args, '--config', cfg]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(message);
    };
    writeFileSync(join(dir, 'badperm.yaml'), 'id: x\nname: X\ntype: team\npermissions:\n  - resource: "Completions!"\n    actions: [read]\n');
    writeFileSync(join(dir, 'badlevel.yaml'), 'id: x\nname: X\ntype: team\ndata_access_level: secret\n');
    writeFileSync(join(dir, 'badkey.yaml'), 'id: x\nname: X\ntype: team\ncolour: blue\n');
    bad(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'badperm.yaml')], /invalid group: permissions\.0\.resource/);
    bad(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'badlevel.yaml')], /invalid group: data_access_level/);
    bad(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'badkey.yaml')], /unknown key colour/);
    bad(['group', 'apply', '--tenant', 'nosuch', '-f', join(dir, 'ml.yaml')], /unknown tenant nosuch/);
    bad(['member', 'add', '--tenant', 'acme', '--user', 'x', '--group', 'nosuch'], /unknown group nosuch in tenant acme/);
    // ml-team is acme's: globex has no such group.
    bad(['member', 'add', '--tenant', 'globex', '--user', 'x', '--group', 'ml-team'], /unknown group ml-team in tenant globex/);
    bad(['member', 'add', '--tenant', 'acme', '--user', 'x', '--group', 'viewer', '--expires', 'someday'], /invalid time "someday"/);
    bad(['apikey', 'create', '--tenant', 'acme', '--user', 'x', '--scopes', 'everything'], /invalid scope "everything"/);
    bad(['apikey', 'create', '--tenant', 'nosuch', '--user', 'x'], /unknown tenant nosuch/);
    bad(['federation', 'grant', '--source', 'acme', '--target', 'acme', '--resource-type', 'x', '--access', 'read', '--expires', '1d'], /two different tenants/);
    bad(['federation', 'grant', '--source', 'acme', '--target', 'globex', '--resource-type', 'x', '--access', 'admin', '--expires', '1d'], /argument 'admin' is invalid/);
    // A group document without its required fields says which are missing and what they take.
    writeFileSync(join(dir, 'notype.yaml'), 'id: x\n');
    bad(['group', 'apply', '--tenant', 'acme', '-f', join(dir, 'notype.yaml')], /^error: invalid group: name is missing: it is required \(a string\); type is missing: it is required \(one of team, role, region, tier\)\n$/);
    // A misspelled required option is reported as what it is, with the one meant.
    bad(['tenant', 'create', 'foo', '--nmae', 'X'], /^error: unknown option '--nmae'\n\(Did you mean --name\?\)/);
    bad(['audit', 'list', '--limit', 'abc'], /option '--limit <n>' argument 'abc' is invalid\. must be a whole number from 1 up/);
    bad(['audit', 'list', '--limit', '0'], /must be a whole number from 1 up/);
    expect(cli(['audit', 'list', '--json', '--config', cfg]).stdout).toBe(before);
  });

  it('tenant update: a change that changes nothing writes nothing; the new billing anchor day is confirmed', () => {
    const audits = () => JSON.parse(cli(['audit', 'list', '--tenant', 'globex', '--json', '--config', cfg]).stdout).length;
    const n = audits();
    const t0 = JSON.parse(cli(['tenant', 'get', 'globex', '--json', '--config', cfg]).stdout);
    expect(cli(['tenant', 'update', 'globex', '--tier', t0.tier, '--config', cfg]).stdout).toBe(`tenant globex unchanged: tier ${t0.tier}, upstream none (pooled), billing anchor day 1 (default)\n`);
    expect(audits()).toBe(n);
    expect(JSON.parse(cli(['tenant', 'get', 'globex', '--json', '--config', cfg]).stdout).updated_at).toBe(t0.updated_at);
    expect(cli(['tenant', 'update', 'globex', '--billing-anchor-day', '15', '--config', cfg]).stdout).toBe(`updated tenant globex: tier ${t0.tier}, upstream none (pooled), billing anchor day 15\n`);
    expect(audits()).toBe(n + 1);
  });

  it('usage show --from 7d means seven days ago', () => {
    const db = new Database(join(dir, 'model.db'));
    const today = new Date().toISOString().slice(0, 10);
    db.prepare("INSERT INTO quota_usage (tenant_id, subject, window, window_start, count) VALUES ('acme', '*', 'day', ?, 42)").run(`${today}T00:00:00.000Z`);
    db.close();
    expect(cli(['usage', 'show', '--tenant', 'acme', '--from', '7d', '--config', cfg]).stdout).toBe(`day    ${today}  (tenant)                       42\n`);
    expect(cli(['usage', 'show', '--tenant', 'acme', '--to', '7d', '--config', cfg]).stdout).toBe('(no usage)\n');
  });

  it('tenant-rules set (rules and Rego, tested at upload), get, delete; a refused upload stores nothing', () => {
    const rules = join(dir, 'acme-rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: office\n    source_ips: {allow: [10.0.0.0/8]}\n');
    const mod = join(dir, 'acme.rego');
    writeFileSync(mod, 'package tenants["acme"]\n\ndeny contains "no" if input.x\n');
    const test = join(dir, 'acme_test.rego');
    writeFileSync(test, 'package acme_test\n\ntest_no if data.tenants.acme.deny["no"] with input as {"x": true}\n');
    const set = cli(['tenant-rules', 'set', '--tenant', 'acme', '-f', rules, '--rego', mod, '--rego-test', test, '--config', cfg]);
    expect(set.stdout).toMatch(/^stored tenant acme: revision 1, 1 rule\(s\) \(office\), a Rego module with 1 test file\(s\); by cli:\S+ at \S+\n$/);
    writeFileSync(test, 'package acme_test\n\ntest_no if data.tenants.acme.deny["yes"] with input as {"x": true}\n');
    const refused = cli(['tenant-rules', 'set', '--tenant', 'acme', '-f', rules, '--rego', mod, '--rego-test', test, '--config', cfg]);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: the tenant module's tests did not pass:\n {2}FAIL data\.acme_test\.test_no/) });
    const got = JSON.parse(cli(['tenant-rules', 'get', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(got).toMatchObject({ tenant_id: 'acme', revision: 1, compiled: true, rules: [{ name: 'office', source_ips: { allow: ['10.0.0.0/8'] } }], rego: { tests: [{ name: 'acme_test.rego' }] } });
    expect(cli(['tenant-rules', 'delete', '--tenant', 'acme', '--config', cfg]).stdout).toBe('deleted the rules of tenant acme\n');
    expect(cli(['tenant-rules', 'get', '--tenant', 'acme', '--config', cfg])).toMatchObject({ code: 1, stderr: 'error: tenant acme has no rules\n' });
  });

  it('audits every change with before and after', () => {
    const log = JSON.parse(cli(['audit', 'list', '--tenant', 'acme', '--json', '--limit', '500', '--config', cfg]).stdout);
    const actions = log.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['tenant.create', 'group.apply', 'group.delete', 'member.add', 'member.remove', 'apikey.create', 'apikey.rotate', 'apikey.revoke', 'federation.revoke', 'tenant_policy.set', 'tenant_policy.delete']));
    const update = log.find((e: { action: string; before: unknown }) => e.action === 'group.apply' && e.before);
    expect(update.before.id).toBe('ml-team');
    expect(update.actor).toMatch(/^cli:/);
  });

  it('tenant delete removes everything of the tenant in one go', () => {
    const db = new Database(join(dir, 'model.db'), { readonly: true });
    const remaining = () =>
      Object.fromEntries(
        [
          ['tenants', 'id'],
          ['groups', 'tenant_id'],
          ['memberships', 'tenant_id'],
          ['api_keys', 'tenant_id'],
          ['federation_grants', 'source_tenant'],
          ['federation_grants', 'target_tenant'],
          ['quota_overrides', 'tenant_id'],
          ['quota_usage', 'tenant_id'],
          ['token_usage', 'tenant_id'],
          ['tenant_policies', 'tenant_id'],
        ].map(([table, column]) => [`${table}.${column}`, db.prepare(`SELECT count(*) FROM ${table} WHERE ${column} = 'acme'`).pluck().get() as number]),
      );
    // Something of each kind first, or the test would prove nothing: a grant acme receives, and usage on disk.
    expect(cli(['federation', 'grant', '--source', 'globex', '--target', 'acme', '--resource-type', 'documents', '--access', 'read', '--expires', '1d', '--config', cfg]).code).toBe(0);
    expect(cli(['quota', 'set', '--tenant', 'acme', '--per-day', '7', '--config', cfg]).code).toBe(0);
    const rw = new Database(join(dir, 'model.db'));
    rw.prepare("INSERT INTO quota_usage (tenant_id, subject, window, window_start, count) VALUES ('acme', '*', 'day', '2026-01-01T00:00:00.000Z', 3)").run();
    rw.prepare("INSERT INTO token_usage (tenant_id, subject, model, window, window_start, input_tokens, output_tokens, cost_nano_usd, responses) VALUES ('acme', 'user:a', 'm', 'day', '2026-01-01T00:00:00.000Z', 1, 1, 1, 1)").run();
    rw.close();
    expect(cli(['tenant-rules', 'set', '--tenant', 'acme', '-f', join(dir, 'acme-rules.yaml'), '--config', cfg]).code).toBe(0);
    for (const [what, n] of Object.entries(remaining())) expect(n, what).toBeGreaterThan(0);

    expect(cli(['tenant', 'delete', 'acme', '--config', cfg]).code).toBe(0);
    for (const [what, n] of Object.entries(remaining())) expect(n, what).toBe(0);
    db.close();
    expect(cli(['group', 'list', '--tenant', 'acme', '--config', cfg]).stderr).toContain('unknown tenant acme');
    expect(JSON.parse(cli(['federation', 'list', '--tenant', 'globex', '--json', '--config', cfg]).stdout)).toEqual([]);
    const log = JSON.parse(cli(['audit', 'list', '--tenant', 'acme', '--json', '--config', cfg]).stdout);
    expect(log[0].action).toBe('tenant.delete');
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
  it('demo seeds, prints every endpoint with an example that works as printed; check exits 0/2; SIGTERM exits 0', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = writeConfig(
      'demo.yaml',
      baseConfig(port).replace('cli.db', 'demo.db').replace('level: warn', 'level: info').replace(`address: 127.0.0.1:${port}`, `address: 127.0.0.1:${port}\n  http_address: 127.0.0.1:0\n  admin_address: 127.0.0.1:0`),
    );
    const { child, out } = await startProcess(['demo', '--config', cfg], /TENANTGATE_ADMIN_TOKEN=/);
    const banner = out();
    expect(banner).toMatch(new RegExp(`  ext_authz \\(gRPC\\)  127\\.0\\.0\\.1:${port}\n  HTTP              http://127\\.0\\.0\\.1:\\d+   /authz/<path>, /metrics, /healthz, /readyz\n  admin API \\(gRPC\\)  127\\.0\\.0\\.1:\\d+   token in \\S+admin-token\n`));
    const token = /^export TOKEN=(\S+)$/m.exec(banner)![1]!;
    // Every command of the banner, run as printed (npx tenantgate being this checkout's CLI).
    const commands = banner.split('\n').filter((l) => /^ {2}(npx|curl|TENANTGATE_)/.test(l)).map((l) => l.trim().replace(/ {2,}#.*$/, ''));
    expect(commands).toHaveLength(7);
    const sh = (line: string) => spawnSync('sh', ['-c', line.replaceAll('npx tenantgate', `${process.execPath} ${BIN}`)], { cwd: dir, encoding: 'utf8', env: { ...process.env, TOKEN: token, TENANTGATE_CONFIG: cfg } });
    const results = commands.map((c) => ({ c, ...sh(c) }));
    const [allow, deny, mint, curlAuthz, metrics, health, admin] = results;
    expect([allow!.status, allow!.stdout]).toEqual([0, expect.stringMatching(/^ALLOW {2}\(grpc status 0\)\nheaders to the upstream:\n {2}x-tenant-id: acme\n {2}x-tenant-tier: premium\n/)]);
    expect([deny!.status, deny!.stdout]).toEqual([2, expect.stringMatching(/^DENY 403 {2}\(grpc status 7: [\s\S]*"error":"tenant_mismatch"/)]);
    expect([mint!.status, mint!.stdout.split('.')]).toEqual([0, expect.any(Array)]);
    expect(curlAuthz!.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*x-tenant-id: acme/i);
    expect(metrics!.stdout).toMatch(/^tenantgate_checks_total\{decision="allow",code="ok"\} \d+$/m);
    expect(health!.stdout).toBe('{"status":"ok"}');
    expect([admin!.status, admin!.stdout]).toEqual([0, expect.stringMatching(/^acme {17}premium {4}active {4}Acme Corp\nglobex/)]);

    const other = cli(['token', 'mint', '--tenant', 'globex', '--sub', 'bob@globex', '--config', cfg]).stdout.trim();
    // Without --server, check dials the config's server.address.
    const json = JSON.parse(cli(['check', '--config', cfg, '--path', '/api/v1/items', '-H', `authorization: Bearer ${other}`, '--json']).stdout);
    expect(json.okResponse.headers.find((h: { header: { key: string } }) => h.header.key === 'x-tenant-id').header.value).toBe('globex');

    const suspended = cli(['token', 'mint', '--tenant', 'initech', '--sub', 'x', '--config', cfg]).stdout.trim();
    const r = cli(['check', '--server', `127.0.0.1:${port}`, '-H', `authorization: Bearer ${suspended}`]);
    expect([r.code, r.stdout]).toEqual([2, expect.stringContaining('"error":"tenant_suspended"')]);

    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out()).toContain('tenantgate stopped');
  });

  it('check --explain shows each phase, spends nothing, and names the first failure and its fix; replay explains a logged decision', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const log = join(dir, 'decisions.log');
    const cfg = writeConfig(
      'explain.yaml',
      baseConfig(port).replace('cli.db', 'explain.db').replace(`address: 127.0.0.1:${port}`, `address: 127.0.0.1:${port}\n  admin_address: 127.0.0.1:${port + 1}`) + `decision_log:\n  enabled: true\n  output: ${log}\n`,
    );
    const { child, out } = await startProcess(['demo', '--config', cfg], /TENANTGATE_ADMIN_TOKEN=/);
    const token = /^export TOKEN=(\S+)$/m.exec(out())![1]!;
    const env = { TENANTGATE_ADMIN_TOKEN: readFileSync(join(dir, 'admin-token'), 'utf8').trim() };
    const explain = (path: string, extra: string[] = []) => cli(['check', '--explain', '--config', cfg, '--path', path, '-H', `authorization: Bearer ${token}`, ...extra], env);

    const denied = explain('/tenants/globex/items');
    expect(denied.code).toBe(2);
    const lines = denied.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'DENY 403 tenant_mismatch: the request names tenant globex (path) but the credential is for tenant acme',
      '  request     ok   GET /tenants/globex/items (host localhost)',
      '  credential  ok   jwt alice@acme, tenant acme, issuer https://idp.tenantgate.local/',
      '  tenant      ok   acme (premium, active); the request names globex (path)',
      '  groups      ok   admin (owner); permissions *:*; data access confidential',
      '  policy      FAIL deny tenant_mismatch',
    ]);
    // OPA's own account: the rules that held, where they are written.
    expect(lines[6]).toMatch(/^ {14}rules that held: .*data\.tenantgate\.authz\.deny \(main\.rego:\d+\).*data\.tenantgate\.authz\.decision \(main\.rego:\d+\)$/);
    expect(lines.slice(7, 9)).toEqual([
      'first failure: policy: tenant_mismatch (the request names tenant globex (path) but the credential is for tenant acme)',
      "how to fix: call the credential's own tenant, or use a federation grant (npx tenantgate federation grant)",
    ]);

    // Allowed: every quota limit with what is left, and explaining spends none of it.
    const quota = () => JSON.parse(explain('/api/v1/items', ['--json']).stdout).phases.find((p: { phase: string }) => p.phase === 'quota').detail.limits as { limit: string; remaining: number }[];
    const before = quota().find((q) => q.limit === 'user-day')!.remaining;
    expect(quota().find((q) => q.limit === 'user-day')!.remaining).toBe(before);
    expect(cli(['check', '--config', cfg, '--path', '/api/v1/items', '-H', `authorization: Bearer ${token}`]).code).toBe(0);
    expect(quota().find((q) => q.limit === 'user-day')!.remaining).toBe(before - 1);
    const allowed = explain('/api/v1/items');
    expect([allowed.code, allowed.stdout.split('\n')[0]]).toEqual([0, 'ALLOW']);
    expect(allowed.stdout).toMatch(/^ {2}quota {7}ok {3}tenant-burst \d+ of \d+ left \(full again in \d+s\), tenant-minute \d+ of \d+ left this minute/m);
    // No credential: the credential phase fails first.
    const anon = cli(['check', '--explain', '--config', cfg, '--path', '/api/v1/items'], env);
    expect([anon.code, anon.stdout.split('\n').slice(0, 5)]).toEqual([
      2,
      ['DENY 401 unauthenticated: credentials are required', '  request     ok   GET /api/v1/items (host localhost)', '  credential  FAIL none', 'first failure: credential: unauthenticated (credentials are required)', 'how to fix: send a credential: authorization: Bearer <JWT>, or the API key header'],
    ]);

    // replay: a real denial, from the decision log (whose input has the credential redacted), with today's policy.
    const real = cli(['check', '--config', cfg, '--path', '/tenants/globex/items', '-H', `authorization: Bearer ${token}`]);
    const id = /"decision_id":"([0-9a-f-]+)"/.exec(real.stdout)![1]!;
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes(id), 'the decision in the log');
    const entry = readFileSync(log, 'utf8').split('\n').find((l) => l.includes(id))!;
    expect(entry).not.toContain(token);
    expect(JSON.parse(entry).input.attributes.request.http.headers.authorization).toBe('[redacted]');
    const rep = cli(['replay', id, '--config', cfg]);
    expect(rep.code).toBe(2);
    expect(rep.stdout).toMatch(new RegExp(`^decision ${id} at \\S+: DENY 403 tenant_mismatch: the request names tenant globex \\(path\\) but the credential is for tenant acme \\(policy revision \\w+\\)\n  GET /tenants/globex/items \\(host localhost\\)\n\ntoday's policy on the same input: the same decision\nDENY 403 tenant_mismatch`));
    expect(rep.stdout).toContain('  groups      ok   admin (owner); permissions *:*; data access confidential\n');
    // Today's policy decides otherwise: replay says so.
    mkdirSync(join(dir, 'open-policy'), { recursive: true });
    writeFileSync(join(dir, 'open-policy', 'p.rego'), 'package tenantgate.authz\n\ndecision := {"allowed": true}\n');
    const cfg2 = writeConfig('explain2.yaml', readFileSync(cfg, 'utf8').replace(`dir: ${join(ROOT, 'policies')}`, `dir: ${join(dir, 'open-policy')}`));
    const rep2 = cli(['replay', id, '--config', cfg2, '--json']);
    expect(rep2.code).toBe(0);
    expect(JSON.parse(rep2.stdout)).toMatchObject({ then: { decision: 'deny', code: 'tenant_mismatch' }, changed: true, now: { decision: { allowed: true } } });
    expect(cli(['replay', '00000000-0000-0000-0000-000000000000', '--config', cfg]).stderr).toBe(`error: decision 00000000-0000-0000-0000-000000000000 is not in ${log}\n`);

    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('serve stops cleanly on SIGINT too', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = writeConfig('sigint.yaml', baseConfig(port).replace('cli.db', 'sigint.db').replace('level: warn', 'level: info'));
    if (!existsSync(join(dir, 'keys', 'jwks.json'))) {
      mkdirSync(join(dir, 'keys'), { recursive: true });
      writeFileSync(join(dir, 'keys', 'jwks.json'), JSON.stringify({ keys: [] }));
    }
    const { child, out } = await startProcess(['serve', '--config', cfg], /tenantgate serving/);
    // Started as `node bin/tenantgate.js`: no V8 flags, and the log says so.
    expect(out()).toMatch(/"gc":"concurrent"[^\n]*tenantgate serving/);
    const exited = exitOf(child);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('server.workers: 2 serves from two worker processes (with the launcher V8 flags) and stops cleanly', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfg = writeConfig('workers.yaml', baseConfig(port).replace('cli.db', 'workers.db').replace('level: warn', 'level: info').replace(`address: 127.0.0.1:${port}`, `address: 127.0.0.1:${port}\n  workers: 2`));
    const { child, out } = await startProcess(['serve', '--config', cfg], /tenantgate serving[\s\S]*tenantgate serving/, true);
    // Run directly, the launcher's #! line gives node --single-threaded-gc and one malloc arena; the workers inherit both.
    expect(out().match(/"gc":"single-threaded","malloc_arenas":"1"[^\n]*tenantgate serving/g)).toHaveLength(2);
    const { readdirSync, readFileSync } = await import('node:fs');
    const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(child.pid);
      } catch {
        return false;
      }
    });
    expect(children).toHaveLength(2);
    const r = cli(['check', '--server', `127.0.0.1:${port}`, '--path', '/healthz']);
    expect(r.stdout).toMatch(/^ALLOW/);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out().match(/tenantgate stopped/g)).toHaveLength(2);
  });

  it('check and --server against nothing say in plain words that nothing listens there, and why', () => {
    const r = cli(['check', '--server', '127.0.0.1:1', '--path', '/']);
    expect([r.code, r.stderr]).toEqual([1, 'error: nothing is listening for ext_authz checks at 127.0.0.1:1: is tenantgate running there (npx tenantgate serve, npm run demo)?\n']);
    const a = cli(['tenant', 'list', '--server', '127.0.0.1:1', '--token', 'x']);
    expect([a.code, a.stderr]).toEqual([
      1,
      'error: nothing is listening for the admin API at 127.0.0.1:1: is tenantgate running there (npx tenantgate serve, npm run demo), with an admin token set (admin.token_file or TENANTGATE_ADMIN_TOKEN; without one the admin API is off)?\n',
    ]);
  });
});
