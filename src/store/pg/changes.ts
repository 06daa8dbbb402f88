// Every replica hears every change: a connection LISTENs on the store's change channel, each notification names
// what changed and the store's version after it. A replica that sees a version it did not expect (it lost its
// connection, or a notification) may have missed changes, and drops everything it caches instead.
import pg from 'pg';
import type { StoreChange } from '../../core/admin-store.js';
import type { Pool } from './connect.js';

export const CHANGES_CHANNEL = 'tenantgate_changes';

export interface ChangeHandlers {
  /** One change, in order. */
  change(c: StoreChange): void;
  /** Changes may have been missed: drop everything. */
  all(): void;
  /** Connected (true) or lost (false): the replica's store health. */
  connected(up: boolean): void;
}

export class ChangeFeed {
  private client: pg.Client | undefined;
  /** The store's version this replica has heard of (its caches are current with it); undefined before connecting. */
  version: number | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly pool: Pool,
    private readonly on: ChangeHandlers,
    pollMs: number,
  ) {
    // Notifications are the way; the version read now and then is the net under them.
    this.poll = setInterval(() => void this.check(false), pollMs);
    this.poll.unref();
  }

  /** Connects (and keeps reconnecting until closed); resolves after the first attempt, connected or not. */
  async start(): Promise<boolean> {
    try {
      const client = new pg.Client({ ...this.connection, keepAlive: true });
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      client.on('notification', (n) => this.heard(n.payload));
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      this.client = client;
      await this.check(true);
      this.on.connected(true);
      return true;
    } catch {
      this.on.connected(false);
      this.schedule();
      return false;
    }
  }

  /**
   * The store's version now; another than the last heard of means changes this replica did not hear of. On
   * (re)connecting that is certain; otherwise their notifications may be on their way, and get half a second.
   */
  private async check(connecting: boolean): Promise<void> {
    let now: number;
    try {
      now = (await this.pool.query<{ version: number }>('SELECT version FROM store_version')).rows[0]!.version;
    } catch {
      return;
    }
    const missed = () => {
      if (this.version === now) return;
      if (this.version !== undefined) this.on.all();
      this.version = now;
    };
    if (connecting || this.version === undefined) missed();
    else if (now > this.version) setTimeout(() => this.version! < now && missed(), 500).unref();
  }

  private heard(payload: string | undefined): void {
    let msg: StoreChange & { v: number };
    try {
      msg = JSON.parse(payload ?? '') as StoreChange & { v: number };
    } catch {
      return;
    }
    if (this.version !== undefined && msg.v <= this.version) return; // already known (the poll saw it first)
    // A gap, or a change of everything (store copy): drop everything.
    if (this.version === undefined || msg.v !== this.version + 1 || (msg.kind as string) === 'all') this.on.all();
    else this.on.change(msg);
    this.version = msg.v;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    this.on.connected(false);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.closed) void this.start();
    }, 250);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
