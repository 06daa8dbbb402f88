import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, watchDataVersion } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { StoreError } from '../../src/core/errors.js';

const tmpDb = () => join(mkdtempSync(join(tmpdir(), 'tg-store-')), 'tg.db');

describe('database', () => {
  it('migrates to the latest schema version, in WAL mode, and is idempotent', () => {
    const path = tmpDb();
    const db = openDatabase(path);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const again = openDatabase(path);
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length);
    again.close();
  });

  it('refuses a database from a newer tenantgate', () => {
    const path = tmpDb();
    const raw = new Database(path);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => openDatabase(path)).toThrow('database schema version 999 is newer');
  });

  it('notices commits from another connection', async () => {
    const path = tmpDb();
    const server = openDatabase(path);
    let changes = 0;
    const stop = watchDataVersion(server, 50, () => changes++);
    const cli = openDatabase(path);
    new TenantRepository(cli).create({ id: 'acme', name: 'A', tier: 'free' });
    const deadline = Date.now() + 5000;
    while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // One commit is one change, however many polls ran.
    await new Promise((r) => setTimeout(r, 120));
    expect(changes).toBe(1);
    stop();
    cli.close();
    server.close();
  });
});

describe('TenantRepository', () => {
  it('creates, reads, suspends, resumes, lists and deletes', () => {
    const repo = new TenantRepository(openDatabase(tmpDb()));
    repo.create({ id: 'b-corp', name: 'B', tier: 'basic' });
    const a = repo.create({ id: 'acme', name: 'Acme', tier: 'enterprise' });
    expect(a).toMatchObject({ id: 'acme', name: 'Acme', tier: 'enterprise', status: 'active' });
    expect(repo.setStatus('acme', 'suspended').status).toBe('suspended');
    expect(repo.setStatus('acme', 'active').status).toBe('active');
    expect(repo.list().map((t) => t.id)).toEqual(['acme', 'b-corp']);
    expect(repo.delete('acme').id).toBe('acme');
    expect(repo.get('acme')).toBeUndefined();
  });

  it.each(['', 'A', '-x', 'a_b', 'a'.repeat(37), 'acme,evil', 'ünï'])('refuses tenant id %j', (id) => {
    const repo = new TenantRepository(openDatabase(tmpDb()));
    expect(() => repo.create({ id, name: 'x', tier: 'free' })).toThrow(StoreError);
  });

  it('accepts the longest valid id and refuses duplicates, unknown tiers and unknown ids', () => {
    const repo = new TenantRepository(openDatabase(tmpDb()));
    expect(repo.create({ id: '0' + 'a'.repeat(35), name: 'x', tier: 'free' }).id).toHaveLength(36);
    repo.create({ id: 'dup', name: 'x', tier: 'free' });
    expect(() => repo.create({ id: 'dup', name: 'x', tier: 'free' })).toThrow('already exists');
    expect(() => repo.create({ id: 'gold', name: 'x', tier: 'gold' as never })).toThrow('invalid tier');
    expect(() => repo.setStatus('nosuch', 'active')).toThrow('unknown tenant nosuch');
    expect(() => repo.delete('nosuch')).toThrow('unknown tenant nosuch');
  });
});
