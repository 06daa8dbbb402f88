// A server's count of the tokens its responses used, per tenant, subject (the API key, else the user), model and
// window (day, calendar month in UTC), added up in memory and flushed to the store in batches at most every interval
// (through the store's writer, like the quota usage; on PostgreSQL a batch is applied once however often it is
// retried). Cost in nano-dollars: whole numbers, so sums over the fleet are exact.
import type { TokenDelta } from '../core/admin-store.js';
import { Periodic } from '../util/periodic.js';
import { dayWindow, monthWindow } from '../quota/windows.js';
import type { UsedTokens } from './ext-proc.js';
import { nanoUsd } from './prices.js';

/** Where the counts go (the store's writer implements it). */
export interface TokenSink {
  write(batch: { tokens: TokenDelta[] }): Promise<void>;
}

const keyOf = (d: Pick<TokenDelta, 'tenant' | 'subject' | 'model' | 'window' | 'start'>) => `${d.tenant}\u0000${d.subject}\u0000${d.model}\u0000${d.window}\u0000${d.start}`;

export class TokenMeter {
  private deltas = new Map<string, TokenDelta>();
  private readonly periodic: Periodic;

  constructor(
    private readonly sink: TokenSink,
    intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.periodic = new Periodic(() => this.flush(), intervalMs);
  }

  /** One response's tokens; a response without a tenant (no ext_authz decision before it) is not anyone's to bill. */
  add(u: UsedTokens, now = Date.now()): void {
    if (!u.tenant) return;
    const subject = u.api_key_id ? `key:${u.api_key_id}` : `user:${u.user ?? ''}`;
    const cost = nanoUsd(u.cost_usd);
    for (const [window, start] of [['day', dayWindow(now).start], ['month', monthWindow(now).start]] as const) {
      this.merge({ tenant: u.tenant, subject, model: u.model ?? '', window, start, input: u.input_tokens, output: u.output_tokens, costNanoUsd: cost, responses: 1 });
    }
  }

  private merge(d: TokenDelta): void {
    const key = keyOf(d);
    const cur = this.deltas.get(key);
    if (!cur) this.deltas.set(key, { ...d });
    else {
      cur.input += d.input;
      cur.output += d.output;
      cur.costNanoUsd += d.costNanoUsd;
      cur.responses += d.responses;
    }
  }

  /** Writes what was counted since the last flush; what the store could not take is kept for the next one. */
  flush(): Promise<void> {
    if (!this.deltas.size) return Promise.resolve();
    const batch = [...this.deltas.values()];
    this.deltas = new Map();
    return this.sink.write({ tokens: batch }).catch((err: unknown) => {
      for (const d of batch) this.merge(d);
      this.onError(err);
    });
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
