// The store's writer thread (see writes.ts): its own connection, batches applied one after another in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { batchApplier, type WriteBatch } from './writes.js';

const db = openDatabase((workerData as { path: string }).path);
const apply = batchApplier(db);

// One batch at a time, in arrival order (a batch may pause between its chunks).
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (m: { seq: number; batch?: WriteBatch; close?: boolean }) => {
  queue = queue.then(async () => {
    if (m.close) {
      db.close();
      parentPort!.close();
      return;
    }
    try {
      await apply(m.batch!);
      parentPort!.postMessage({ seq: m.seq });
    } catch (err) {
      parentPort!.postMessage({ seq: m.seq, error: (err as Error).message });
    }
  });
});
