// The writes that follow checks (API keys' last use, audit entries of federated access, usage counts), batched, into
// PostgreSQL. Every batch carries an id recorded in the same transaction: a batch retried after a commit whose
// answer was lost is not applied twice, so the fleet's usage sums are exact. A batch is retried until it lands;
// only at shutdown, with the store still down, is it given up (and said so).
import { randomUUID } from 'node:crypto';
import type { WriteBatch } from '../writes.js';
import { inTransaction, type Pool } from './connect.js';
import { appendAudits } from './queries.js';

const RETRY_MS = 500;

export class PgWriter {
  private closing = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: Pool,
    /** Told of each failed attempt (1, 2, ...) of a batch, before it is retried. */
    private readonly onRetry: (err: unknown, attempt: number) => void,
    /** Whether the server is shutting down: a failing batch is then given up, not retried. */
    private readonly stopping: () => boolean = () => false,
  ) {}

  /** Resolves once the batch is committed (retrying meanwhile); rejects only when closed before it could be. */
  write(batch: WriteBatch): Promise<void> {
    const id = randomUUID();
    const done = this.queue.then(() => this.apply(id, batch));
    this.queue = done.catch(() => undefined);
    return done;
  }

  private async apply(id: string, batch: WriteBatch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await inTransaction(this.pool, async (c) => {
          const fresh = await c.query('INSERT INTO usage_batches (id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, new Date().toISOString()]);
          if (fresh.rowCount === 0) return; // applied by an earlier attempt
          if (batch.keysUsed?.ids.length) await c.query('UPDATE api_keys SET last_used_at = $1 WHERE id = ANY($2)', [batch.keysUsed.at, batch.keysUsed.ids]);
          await appendAudits(c, batch.audits ?? []);
          for (const d of batch.usage ?? []) {
            await c.query(
              `INSERT INTO quota_usage (tenant_id, subject, "window", window_start, count) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, subject, "window", window_start) DO UPDATE SET count = quota_usage.count + EXCLUDED.count`,
              [d.tenant, d.subject, d.window, new Date(d.start).toISOString(), d.count],
            );
          }
          for (const d of batch.tokens ?? []) {
            await c.query(
              `INSERT INTO token_usage (tenant_id, subject, model, "window", window_start, input_tokens, output_tokens, cost_nano_usd, responses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (tenant_id, subject, model, "window", window_start) DO UPDATE SET input_tokens = token_usage.input_tokens + EXCLUDED.input_tokens,
                 output_tokens = token_usage.output_tokens + EXCLUDED.output_tokens, cost_nano_usd = token_usage.cost_nano_usd + EXCLUDED.cost_nano_usd, responses = token_usage.responses + EXCLUDED.responses`,
              [d.tenant, d.subject, d.model, d.window, new Date(d.start).toISOString(), d.input, d.output, d.costNanoUsd, d.responses],
            );
          }
        });
        return;
      } catch (err) {
        if (this.closing || this.stopping()) throw err;
        this.onRetry(err, attempt);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /** Waits for what is queued; a batch still failing then is given up (its error is the caller's to log). */
  async close(): Promise<void> {
    this.closing = true;
    await this.queue;
  }
}
