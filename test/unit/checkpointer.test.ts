// WAL checkpoints on a background thread: the serving connection stops checkpointing inline, the thread copies
// the WAL into the database file, and the serving connection takes checkpoints back when the thread is gone.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/database.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { startCheckpointer } from '../../src/store/checkpointer.js';

const fresh = () => openDatabase(join(mkdtempSync(join(tmpdir(), 'tg-ckpt-')), 'tg.db'), { cacheMb: 1 });
const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Checkpointer', () => {
  it('checkpoints the WAL on its own thread while the serving connection does none', async () => {
    const db = fresh();
    expect(db.pragma('cache_size', { simple: true })).toBe(-1024);
    const cp = startCheckpointer(db, 50)!;
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
    const cp = startCheckpointer(db, 1000)!;
    await cp.ready;
    expect(autocheckpoint(db)).toBe(0);
    await (cp as unknown as { worker: Worker }).worker.terminate();
    await until(() => !cp.running);
    expect(autocheckpoint(db)).toBe(1000);
    await cp.close(); // nothing left to close: resolves at once
    db.close();
  });

  it('is not started for an in-memory store', () => {
    const db = openDatabase(':memory:');
    expect(startCheckpointer(db, 1000)).toBeUndefined();
    expect(autocheckpoint(db)).toBe(1000);
    db.close();
  });
});
