// Configuration as code: `export` writes the store as YAML documents, `apply` makes a store what they say, in one
// transaction, idempotently, pruning only when asked; a bad document fails with its file, line and field before
// anything is written. Through the CLI on SQLite files, through a running server's admin API, and on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/core/config.js';
import { openDatabase } from '../../src/store/database.js';
import { Admin } from '../../src/admin/operations.js';
import { applyState, exportState } from '../../src/state/apply.js';
import { openPool, migratePg } from '../../src/store/pg/connect.js';
import { PgAdmin } from '../../src/store/pg/admin.js';
import { startPostgres } from '../support/postgres.js';
import { startTestServer } from '../support/server.js';
import { prepareTenantPolicy } from '../../src/tenant-rules/upload.js';

const BIN = resolve(__dirname, '..', '..', 'bin', 'tenantgate.js');
let dir: string;

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, TENANTGATE_ADMIN_TOKEN: 'state-token' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const cliAsync = (...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TENANTGATE_ADMIN_TOKEN: 'state-token' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
const config = (name: string) => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `store: {path: ${join(dir, `${name}.db`)}}\nfederation: {signing_key_file: ${join(dir, 'fed.json')}}\n`);
  return file;
};
const files = (d: string) => Object.fromEntries(readdirSync(d).sort().map((f) => [f, readFileSync(join(d, f), 'utf8')]));

const ACME_RULES = [
  { name: 'office', match: { routes: ['/api/v1/admin/*'] }, source_ips: { allow: ['10.0.0.0/8'] } },
  { name: 'chat-user', match: { routes: ['/api/v1/completions'], methods: ['POST'] }, body_schema: { type: 'object', required: ['user'] }, headers: { 'x-acme-chat': '1' } },
];
const ACME_REGO = {
  module: 'package tenants["acme"]\n\ndeny contains "no deletes" if input.attributes.request.http.method == "DELETE"\n',
  tests: [{ name: 'acme_test.rego', text: 'package acme_test\n\ntest_delete if "no deletes" in data.tenants.acme.deny with input as {"attributes": {"request": {"http": {"method": "DELETE"}}}}\n' }],
};

/** A store with a bit of everything: custom groups, members with roles and expiry, keys, quotas, grants. */
async function realistic(path: string): Promise<void> {
  const db = openDatabase(path);
  const a = new Admin(db, parseConfig({ federation: { signing_key_file: join(dir, 'fed.json') } }, dir), 'test');
  a.tenantCreate({ id: 'acme', name: 'Acme', tier: 'premium', upstream: 'acme-silo' });
  a.tenantUpdate('acme', { billing_anchor_day: 15 });
  a.tenantCreate({ id: 'globex', name: 'Globex', tier: 'basic' });
  a.tenantSetStatus('globex', 'suspended');
  a.groupApply('acme', { id: 'ml', name: 'ML team', type: 'team', permissions: [{ resource: 'models', actions: ['read', 'write'] }], resource_limits: { requests_per_minute: 50, allowed_models: ['gpt-4o'] } });
  a.memberAdd({ tenant_id: 'acme', user_id: 'alice', group_id: 'ml', role: 'admin' });
  a.memberAdd({ tenant_id: 'acme', user_id: 'bob', group_id: 'viewer', expires_at: '2099-01-01T00:00:00.000Z' });
  a.apiKeyCreate({ tenant_id: 'acme', user_id: 'svc', name: 'ingest', scopes: ['write:documents'], tier: 'basic' });
  a.quotaSet('acme', 'tenant', 'acme', { per_minute: 100 });
  a.quotaSet('acme', 'group', 'ml', { per_day: 1000, rate: 2.5 });
  await a.federationGrant({ source: 'acme', target: 'globex', resource_type: 'documents', access: 'read', expires_at: '2099-01-01T00:00:00.000Z' });
  a.tenantPolicySet('acme', await prepareTenantPolicy('acme', { rules: ACME_RULES, rego: ACME_REGO }));
  db.close();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-state-'));
  await realistic(join(dir, 'source.db'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('apply and export', () => {
  it('round-trip: export, apply on an empty store, export again gives the same files; a second apply changes nothing', () => {
    expect(cli('export', '-o', join(dir, 'out1'), '--config', config('source')).stdout).toBe(`wrote 3 file(s) to ${join(dir, 'out1')}\n`);
    const first = files(join(dir, 'out1'));
    expect(Object.keys(first)).toEqual(['acme.yaml', 'federation.yaml', 'globex.yaml']);
    expect(first['acme.yaml']).toContain('name: ingest');
    expect(first['acme.yaml']).not.toMatch(/tgk_|secret/);
    expect(first['acme.yaml']).toContain('tenant_rules:\n  rules:\n    - name: office');
    expect(first['acme.yaml']).toContain('no deletes');
    const applied = cli('apply', '-f', join(dir, 'out1'), '--config', config('target'));
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^applied \d+ change\(s\):\n {2}create tenant acme\n/);
    expect(applied.stdout).toMatch(/secret of API key acme\/svc\/ingest \(shown once\):\n {2}tgk_[0-9a-f]{16}_\S+\n/);
    cli('export', '-o', join(dir, 'out2'), '--config', config('target'));
    expect(files(join(dir, 'out2'))).toEqual(first);
    expect(cli('apply', '-f', join(dir, 'out1'), '--config', config('target')).stdout).toBe('no changes: the store is as the documents say\n');
  });

  it('--dry-run prints the plan and changes nothing', () => {
    const cfg = config('dry');
    const r = cli('apply', '-f', join(dir, 'out1'), '--dry-run', '--config', cfg);
    expect(r.stdout).toMatch(/^plan: \d+ change\(s\) \(dry run: nothing written\)\n {2}create tenant acme\n/);
    expect(cli('tenant', 'list', '--config', cfg).stdout).toBe('(no tenants)\n');
    expect(cli('audit', 'list', '--config', cfg).stdout).toBe('(empty)\n');
  });

  it('a bad document fails with its file, line and field before anything is written', () => {
    const bad = join(dir, 'bad');
    spawnSync('cp', ['-r', join(dir, 'out1'), bad]);
    writeFileSync(join(bad, 'zz.yaml'), 'kind: Tenant\nid: newco\nname: New Co\ntier: gold\nmembers:\n  - {user: x, group: nosuch}\n');
    const cfg = config('bad');
    const r = cli('apply', '-f', bad, '--config', cfg);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${join(bad, 'zz.yaml')}:4: tier: Invalid option: expected one of "free"|"basic"|"premium"|"enterprise"\n`);
    writeFileSync(join(bad, 'zz.yaml'), 'kind: Tenant\nid: newco\nname: New Co\ntier: free\nmembers:\n  - {user: x, group: nosuch}\n');
    expect(cli('apply', '-f', bad, '--config', cfg).stderr).toBe(`error: ${join(bad, 'zz.yaml')}:2: member x names group nosuch, which tenant newco does not have\n`);
    writeFileSync(join(bad, 'zz.yaml'), 'kind: Tenant\nid: newco\nname: New Co\ntier: free\ntenant_rules:\n  rules:\n    - name: x\n      headers: {x-tenant-id: y}\n');
    expect(cli('apply', '-f', bad, '--config', cfg).stderr).toBe(`error: ${join(bad, 'zz.yaml')}:8: tenant_rules.rules.0.headers: "x-tenant-id" is set by tenantgate or the proxy, never by a tenant rule\n`);
    writeFileSync(join(bad, 'zz.yaml'), 'kind: Tenant\nid: newco\nname: New Co\ntier: free\ntenant_rules:\n  rules: []\n  rego:\n    module: |\n      package tenants["newco"]\n      deny contains "x" if {\n    tests: [{name: a_test.rego, text: "package a\\ntest_a if true\\n"}]\n');
    expect(cli('apply', '-f', bad, '--config', cfg)).toMatchObject({ code: 1, stderr: expect.stringMatching(/does not parse[\s\S]*rego_parse_error/) });
    expect(cli('tenant', 'list', '--config', cfg).stdout).toBe('(no tenants)\n');
  });

  it('one transaction on SQLite too: a plan whose last step fails writes nothing', () => {
    const d = join(dir, 'failing');
    spawnSync('mkdir', ['-p', d]);
    writeFileSync(join(d, 'later.yaml'), 'kind: Tenant\nid: later\nname: Later\ntier: free\n');
    writeFileSync(join(d, 'grants.yaml'), 'kind: FederationGrants\ngrants:\n  - {source: later, target: nosuch, resource_type: x, access: read, expires_at: "2099-01-01T00:00:00Z"}\n');
    const cfg = config('failing');
    expect(cli('apply', '-f', d, '--config', cfg)).toMatchObject({ code: 1, stderr: 'error: unknown tenant nosuch\n' });
    expect(cli('tenant', 'list', '--config', cfg).stdout).toBe('(no tenants)\n');
    expect(cli('audit', 'list', '--config', cfg).stdout).toBe('(empty)\n');
  });

  it('deletes only with --prune; every change is audited', () => {
    const cfg = config('target');
    const edited = join(dir, 'edited');
    spawnSync('cp', ['-r', join(dir, 'out1'), edited]);
    const acme = readFileSync(join(edited, 'acme.yaml'), 'utf8');
    writeFileSync(join(edited, 'acme.yaml'), acme.replace(/ {2}- user: bob\n(?: {4}.*\n)+/, ''));
    rmSync(join(edited, 'globex.yaml'));
    writeFileSync(join(edited, 'federation.yaml'), 'kind: FederationGrants\ngrants: []\n');
    expect(cli('apply', '-f', edited, '--config', cfg).stdout).toBe('no changes: the store is as the documents say\n');
    const pruned = cli('apply', '-f', edited, '--prune', '--config', cfg);
    expect(pruned.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.trim().split(' ')[0])).toEqual(['delete', 'delete', 'delete']);
    expect(pruned.stdout).toContain('delete member acme/bob/viewer');
    expect(pruned.stdout).toContain('delete tenant globex (and all of its data)');
    const audit = cli('audit', 'list', '--json', '--config', cfg).stdout;
    expect(JSON.parse(audit).slice(0, 3).map((e: { action: string }) => e.action).sort()).toEqual(['federation.revoke', 'member.remove', 'tenant.delete']);
  });

  it('works through a running server (--server), in one transaction', async () => {
    const t = await startTestServer({ tenants: [], config: { server: { admin_address: '127.0.0.1:0' } }, env: { TENANTGATE_ADMIN_TOKEN: 'state-token' } });
    try {
      // Asynchronously: the server under test lives in this process and must answer meanwhile.
      const r = await cliAsync('apply', '-f', join(dir, 'out1'), '--server', t.server.adminAddress!);
      expect(r.stdout).toMatch(/^applied \d+ change\(s\):/);
      await cliAsync('export', '-o', join(dir, 'out3'), '--server', t.server.adminAddress!);
      expect(files(join(dir, 'out3'))).toEqual(files(join(dir, 'out1')));
    } finally {
      await t.close();
    }
  });
});

describe('apply and export on PostgreSQL', () => {
  it('round-trips the same files, and a failing apply leaves nothing behind', async () => {
    const pg = await startPostgres();
    const pool = openPool({ ...parseConfig({}).store, url: await pg.createDatabase('state') });
    try {
      await migratePg(pool);
      const a = new PgAdmin(pool, parseConfig({ federation: { signing_key_file: join(dir, 'fed.json') } }, dir), 'test');
      const docs = Object.entries(files(join(dir, 'out1'))).map(([file, text]) => ({ file, text }));
      await applyState(a, docs, { dryRun: false, prune: false });
      expect(Object.fromEntries((await exportState(a)).map((f) => [f.file, f.text]))).toEqual(files(join(dir, 'out1')));
      // One transaction: a plan whose last step fails (a grant to a tenant deleted meanwhile) writes nothing.
      const more = [...docs, { file: 'more.yaml', text: 'kind: Tenant\nid: later\nname: Later\ntier: free\n' }, { file: 'g.yaml', text: 'kind: FederationGrants\ngrants:\n  - {source: later, target: nosuch, resource_type: x, access: read, expires_at: "2099-01-01T00:00:00Z"}\n' }];
      await expect(applyState(a, more, { dryRun: false, prune: false })).rejects.toThrow('unknown tenant nosuch');
      expect(await a.tenants.get('later')).toBeUndefined();
    } finally {
      await pool.end();
      pg.close();
    }
  });
});
