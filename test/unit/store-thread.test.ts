// The store thread: the serving connection stops checkpointing inline, the thread copies the WAL into the database
// file and makes the key last-use writes, and the serving connection takes both back when the thread is gone.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/database.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { ApiKeyRepository } from '../../src/store/apikeys.js';
import { StoreWriter } from '../../src/store/writes.js';
import { Admin } from '../../src/admin/operations.js';
import { parseConfig } from '../../src/core/config.js';
import { startStoreThread, type StoreThread } from '../../src/store/store-thread.js';

const fresh = () => openDatabase(join(mkdtempSync(join(tmpdir(), 'tg-ckpt-')), 'tg.db'), { cacheMb: 1 });
const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true });

const AT = '2026-11-23T09:00:00.000Z';
const changes = (db: Database.Database) => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;

/** n API keys in a tenant, and a count of those whose last use is AT. */
function keysIn(db: Database.Database, n: number): { ids: string[]; used: () => number } {
  new TenantRepository(db).create({ id: 'acme', name: 'Acme', tier: 'basic' });
  const keys = new ApiKeyRepository(db);
  const ids = db.transaction(() => Array.from({ length: n }, () => keys.create({ tenant_id: 'acme', user_id: 'alice' }).record.id))();
  return { ids, used: () => (db.prepare('SELECT count(*) AS n FROM api_keys WHERE last_used_at = ?').get(AT) as { n: number }).n };
}

/** A store with n keys and its running store thread. */
async function storeWithThread(n: number) {
  const db = fresh();
  const keys = keysIn(db, n);
  const thread = startStoreThread(db, 1000)!;
  await thread.ready;
  return { db, ...keys, thread };
}

const kill = (thread: StoreThread) => (thread as unknown as { worker: Worker }).worker.terminate();

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('StoreThread', () => {
  it('checkpoints the WAL on its own thread while the serving connection does none', async () => {
    const db = fresh();
    expect(db.pragma('cache_size', { simple: true })).toBe(-1024);
    const cp = startStoreThread(db, 50)!;
    await cp.ready;
    expect(cp.running).toBe(true);
    expect(autocheckpoint(db)).toBe(0);
    const tenants = new TenantRepository(db);
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) tenants.create({ id: `t-${i}`, name: `tenant ${i} ${'x'.repeat(200)}`, tier: 'basic' });
    })();
    await until(() => cp.pagesCheckpointed > 100);
    // What the thread copied is in the database file itself: a copy of that file without its WAL has it all.
    const copy = join(mkdtempSync(join(tmpdir(), 'tg-ckpt-copy-')), 'copy.db');
    const tenantsInFile = () => {
      copyFileSync(db.name, copy);
      const c = new Database(copy, { readonly: true });
      try {
        return (c.prepare('SELECT count(*) AS n FROM tenants').get() as { n: number }).n;
      } finally {
        c.close();
      }
    };
    await until(() => tenantsInFile() === 3000);
    await cp.close();
    expect(cp.running).toBe(false);
    expect(autocheckpoint(db)).toBe(1000);
    db.close();
  });

  it('gives the serving connection its checkpoints back when the thread dies', async () => {
    const db = fresh();
    const cp = startStoreThread(db, 1000)!;
    await cp.ready;
    expect(autocheckpoint(db)).toBe(0);
    await kill(cp);
    await until(() => !cp.running);
    expect(autocheckpoint(db)).toBe(1000);
    await cp.close(); // nothing left to close: resolves at once
    db.close();
  });

  it("makes the key last-use writes on its own connection, and the serving thread's writer waits for them", async () => {
    const { db, ids, used, thread } = await storeWithThread(500);
    const writer = new StoreWriter(db, thread);
    const before = changes(db);
    await writer.write({ keysUsed: { ids, at: AT } });
    expect(used()).toBe(500);
    // The serving connection changed no row: the thread did.
    expect(changes(db)).toBe(before);
    await writer.close();
    await thread.close();
    db.close();
  });

  it('when the thread is gone, the serving thread makes the key last-use writes itself', async () => {
    const { db, ids, used, thread } = await storeWithThread(300);
    await kill(thread);
    await until(() => !thread.running);
    await expect(thread.touchKeys(ids, AT)).rejects.toThrow('not running');
    const writer = new StoreWriter(db, thread);
    const before = changes(db);
    await writer.write({ keysUsed: { ids, at: AT } });
    expect(used()).toBe(300);
    expect(changes(db) - before).toBe(300);
    await writer.close();
    db.close();
  });

  it('a write under way when the thread ends is finished by the serving thread, not lost', async () => {
    const { db, ids, used, thread } = await storeWithThread(5000);
    const writer = new StoreWriter(db, thread);
    const before = changes(db);
    const written = writer.write({ keysUsed: { ids, at: AT } });
    await kill(thread);
    await written;
    expect(thread.running).toBe(false);
    expect(used()).toBe(5000);
    // The race really happened: the serving connection wrote the rows the thread had not (it writes none otherwise).
    expect(changes(db) - before).toBeGreaterThan(0);
    expect(changes(db) - before).toBeLessThanOrEqual(5000);
    await writer.close();
    db.close();
  });

  it("admin changes on the serving connection while the thread writes wait for the write lock and succeed", async () => {
    const { db, ids, thread } = await storeWithThread(20_000);
    const admin = new Admin(db, parseConfig({}), 'test');
    const usedAt = (at: string) => (db.prepare('SELECT count(*) AS n FROM api_keys WHERE last_used_at = ?').get(at) as { n: number }).n;
    // Each change reads, then writes: without an IMMEDIATE transaction one that meets a commit of the thread in
    // between fails with SQLITE_BUSY_SNAPSHOT. The proof of overlap: a change that succeeded when the thread had
    // written some of the rows but not all. A pass may end before one lands (a fast machine, or one so loaded that
    // the thread writes everything while this one waits for its timer): passes go on until one lands, for 20 s.
    let changes = 0;
    let overlapped = 0;
    const end = Date.now() + 20_000;
    for (let pass = 0; overlapped === 0 && Date.now() < end; pass++) {
      const at = new Date(Date.UTC(2026, 10, 23, 9, 0, pass)).toISOString();
      let done = false;
      const written = thread.touchKeys(ids, at).then(() => (done = true));
      while (!done) {
        admin.tenantSetStatus('acme', changes++ % 2 ? 'active' : 'suspended');
        const n = usedAt(at);
        if (n > 0 && n < 20_000) overlapped++;
        // Spaced out, as admin changes are: back to back, the serving thread would hold the lock nearly all the time.
        await new Promise((r) => setTimeout(r, 1));
      }
      await written;
      expect(usedAt(at)).toBe(20_000);
    }
    expect(overlapped).toBeGreaterThan(0);
    await thread.close();
    db.close();
  }, 30_000);

  it('is not started for an in-memory store', () => {
    const db = openDatabase(':memory:');
    expect(startStoreThread(db, 1000)).toBeUndefined();
    expect(autocheckpoint(db)).toBe(1000);
    db.close();
  });
});
