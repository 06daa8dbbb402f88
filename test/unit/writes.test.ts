// Background store writes: committed in order, key uses in short slices, kept (not lost) when a batch fails, and
// all written before close() resolves.
import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { TenantRepository } from '../../src/store/tenants.js';
import { ApiKeyRepository } from '../../src/store/apikeys.js';
import { AuditLog } from '../../src/store/audit.js';
import { StoreWriter } from '../../src/store/writes.js';
import { WriteBehind } from '../../src/store/write-behind.js';
import { ApiKeyVerifier } from '../../src/identity/apikey.js';

function store() {
  const path = join(mkdtempSync(join(tmpdir(), 'tg-writes-')), 'tg.db');
  const db = openDatabase(path);
  new TenantRepository(db).create({ id: 'acme', name: 'Acme', tier: 'basic' });
  const keys = new ApiKeyRepository(db);
  const { record } = keys.create({ tenant_id: 'acme', user_id: 'alice' });
  return { path, db, keys, keyId: record.id, audit: new AuditLog(db) };
}

describe('StoreWriter and WriteBehind', () => {
  it('commits key uses and audits', async () => {
    const s = store();
    const writer = new StoreWriter(s.db);
    await writer.write({ keysUsed: { ids: [s.keyId], at: '2026-11-23T00:00:00.000Z' }, audits: [{ actor: 'test', action: 'federation.access', tenant_id: 'acme', target: 'g1', before: null, after: { n: 1 } }] });
    expect(s.keys.get(s.keyId)!.last_used_at).toBe('2026-11-23T00:00:00.000Z');
    expect(s.audit.list({ tenant: 'acme' })).toMatchObject([{ actor: 'test', after: { n: 1 } }]);
    await writer.close();
    await expect(writer.write({})).rejects.toThrow('closed');
  });

  it('a failing batch is rejected with none of its audits or usage committed; WriteBehind keeps it for the next round', async () => {
    const s = store();
    const writer = new StoreWriter(s.db);
    const good = { actor: 'ok', action: 'x', tenant_id: 'acme', target: null, before: null, after: null };
    const bad = { ...good, actor: null as unknown as string };
    await expect(writer.write({ audits: [good, bad], usage: [{ tenant: 'acme', subject: '', window: 'day', start: Date.UTC(2026, 10, 23), count: 5 }] })).rejects.toThrow(/NOT NULL/);
    expect(s.audit.list({ tenant: 'acme' })).toEqual([]);
    expect(s.db.prepare('SELECT count(*) AS n FROM quota_usage').get()).toEqual({ n: 0 });

    const errors: unknown[] = [];
    const wb = new WriteBehind(writer, 60_000, (e) => errors.push(e));
    wb.record(good);
    wb.record(bad);
    await wb.flush();
    expect(errors).toHaveLength(1);
    expect(s.audit.list({ tenant: 'acme' })).toEqual([]);
    // Kept: once the bad entry is gone the good one is written, once.
    (wb as unknown as { audits: { actor: string }[] }).audits.splice(1, 1);
    await wb.close();
    expect(s.audit.list({ tenant: 'acme' })).toMatchObject([{ actor: 'ok' }]);
    await writer.close();
  });

  it('writes many key uses in short slices, all of them', async () => {
    const s = store();
    const ids = [s.keyId, ...Array.from({ length: 349 }, () => s.keys.create({ tenant_id: 'acme', user_id: 'bob' }).record.id)];
    const writer = new StoreWriter(s.db);
    await writer.write({ keysUsed: { ids, at: '2026-11-23T01:00:00.000Z' } });
    expect(s.db.prepare("SELECT count(*) AS n FROM api_keys WHERE last_used_at = '2026-11-23T01:00:00.000Z'").get()).toEqual({ n: 350 });
    await writer.close();
  });

  it('a slice of key uses ends when its time is up, after one row at least', () => {
    const s = store();
    const ids = [s.keyId, ...Array.from({ length: 4 }, () => s.keys.create({ tenant_id: 'acme', user_id: 'bob' }).record.id)];
    const at = '2026-11-23T02:00:00.000Z';
    const used = () => (s.db.prepare('SELECT count(*) AS n FROM api_keys WHERE last_used_at = ?').get(at) as { n: number }).n;
    expect(s.keys.touchFor(ids, 0, at, 0)).toBe(1);
    expect(used()).toBe(1);
    expect(s.keys.touchFor(ids, 1, at, 60_000)).toBe(5);
    expect(used()).toBe(5);
  });

  it('reports a key use at most once a minute, and a batch names each key once', async () => {
    const s = store();
    const { record, key } = s.keys.create({ tenant_id: 'acme', user_id: 'carol' });
    const reported: string[] = [];
    const verifier = new ApiKeyVerifier(s.keys, 100, (id) => reported.push(id));
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.UTC(2026, 10, 23, 10, 0, 0));
      for (let i = 0; i < 3; i++) expect(verifier.verify(key)).toMatchObject({ api_key_id: record.id });
      expect(reported).toEqual([record.id]);
      vi.setSystemTime(Date.UTC(2026, 10, 23, 10, 0, 59));
      verifier.verify(key);
      expect(reported).toEqual([record.id]);
      vi.setSystemTime(Date.UTC(2026, 10, 23, 10, 1, 0));
      verifier.verify(key);
      expect(reported).toEqual([record.id, record.id]);
    } finally {
      vi.useRealTimers();
    }

    const batches: { keysUsed?: { ids: string[] } }[] = [];
    const wb = new WriteBehind({ write: async (b: { keysUsed?: { ids: string[] } }) => void batches.push(b) } as unknown as StoreWriter, 60_000);
    wb.keyUsed(s.keyId);
    wb.keyUsed(s.keyId);
    await wb.flush();
    await wb.flush();
    expect(batches.map((b) => b.keysUsed?.ids)).toEqual([[s.keyId]]);
    await wb.close();
  });

  it('close() resolves after every batch sent before it is committed', async () => {
    const s = store();
    const writer = new StoreWriter(s.db);
    const sent = Array.from({ length: 50 }, (_, i) => writer.write({ audits: [{ actor: `a${i}`, action: 'x', tenant_id: 'acme', target: null, before: null, after: null }] }));
    await writer.close();
    await Promise.all(sent);
    expect(s.audit.list({ tenant: 'acme', limit: 100 })).toHaveLength(50);
  });
});
