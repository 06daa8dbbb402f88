// The Redis limiter: the same limits enforced across replicas. One Lua script per request checks every stacked
// limit and spends on all or none, atomically. Token buckets refill by Redis' own clock; windows are keyed by
// their start and expire after their end. If Redis fails, fail_open uses the local limiter, fail_closed denies.
import type { Spans } from '../core/spans.js';
import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { LimitItem } from './limits.js';
import type { ItemState, Limiter, LocalLimiter, QuotaResult, ReservationOwner, TokenHold } from './limiter.js';
import type { TokenDemand } from './limits.js';

/** The sorted set of held token reservations by expiry (member: decision id). */
const RESERVATIONS = 'reservations';
import { windowOf } from './windows.js';
import { Breaker } from './breaker.js';

const SCRIPT = `
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local spend = ARGV[3 + n * 4] ~= '0'
local state = {}
local exceeded = 0
local retry = 0
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local kind, limit, x, amount = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  if kind == 'b' then
    local v = redis.call('HMGET', KEYS[i], 't', 'ts')
    local tokens, ts = tonumber(v[1]), tonumber(v[2])
    if tokens == nil then tokens = limit; ts = clock end
    tokens = math.min(limit, tokens + math.max(0, clock - ts) / 1000 * x)
    state[i] = tokens
    if tokens < 1 then
      local w = math.ceil((1 - tokens) / x)
      if exceeded == 0 or w > retry then exceeded = i; retry = w end
    end
  else
    local c = tonumber(redis.call('GET', KEYS[i]) or '0')
    state[i] = c
    if c + amount > limit then
      local w = math.ceil((x - now) / 1000)
      if exceeded == 0 or w > retry then exceeded = i; retry = w end
    end
  end
end
local out = {exceeded, retry}
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local kind, limit, x, amount = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  if kind == 'b' then
    local tokens = state[i]
    if spend then
      if exceeded == 0 then tokens = tokens - 1 end
      redis.call('HSET', KEYS[i], 't', tostring(tokens), 'ts', tostring(clock))
      redis.call('PEXPIRE', KEYS[i], math.ceil(limit / x * 1000) + 1000)
    end
    out[#out + 1] = tostring(tokens)
  else
    local c = state[i]
    if exceeded == 0 and spend then
      c = redis.call('INCRBY', KEYS[i], amount)
      redis.call('PEXPIREAT', KEYS[i], x + 60000)
    end
    out[#out + 1] = tostring(c)
  end
end
-- A token reservation, held with the spending: counter key -> "unit|amount" in res:<decision id>, and its expiry in
-- the reservations' sorted set (reservations.ts settles or releases it).
local hold = ARGV[4 + n * 4]
if hold ~= '' and exceeded == 0 and spend then
  local first, ttl = tonumber(ARGV[5 + n * 4]), tonumber(ARGV[6 + n * 4])
  local res = KEYS[n + 1]
  for i = first, n do
    local b = 2 + (i - 1) * 4
    redis.call('HSET', res, KEYS[i], ARGV[6 + n * 4 + (i - first) + 1] .. '|' .. ARGV[b + 4])
  end
  redis.call('HSET', res, '~owner', ARGV[7 + n * 4 + (n - first) + 1])
  redis.call('PEXPIRE', res, ttl + 60000)
  redis.call('ZADD', KEYS[n + 2], clock + ttl, hold)
end
return out
`;

// Settles a reservation (KEYS[1] its hash) with the usage (input, output, cost in nano-dollars), or releases it
// (all zero): each counter corrected by the difference if it still exists (its window not over), never below zero.
const SETTLE = `
local held = redis.call('HGETALL', KEYS[1])
if #held == 0 then redis.call('ZREM', KEYS[2], ARGV[4]); return {0} end
local owner = ''
local used = {input = tonumber(ARGV[1]), output = tonumber(ARGV[2]), total = tonumber(ARGV[1]) + tonumber(ARGV[2]), cost = tonumber(ARGV[3])}
for i = 1, #held, 2 do
  local key, v = held[i], held[i + 1]
  if key == '~owner' then
    owner = v
  else
    local sep = string.find(v, '|', 1, true)
    local unit, reserved = string.sub(v, 1, sep - 1), tonumber(string.sub(v, sep + 1))
    local delta = used[unit] - reserved
    if delta ~= 0 and redis.call('EXISTS', key) == 1 then
      local c = redis.call('INCRBY', key, delta)
      if c < 0 then redis.call('INCRBY', key, -c) end
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[4])
return {1, owner}
`;

// The reservations whose time is up (ARGV[1]: at most this many), each released as SETTLE would with no usage.
const EXPIRED = `
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', clock, 'LIMIT', 0, tonumber(ARGV[1]))
`;

export interface RedisLimiterOptions {
  url: string;
  prefix: string;
  timeoutMs: number;
  failure: 'fail_open' | 'fail_closed';
  onFailure: (err: unknown) => void;
  /** Failures in a row that open the circuit breaker, and how often it probes while open. */
  breakerFailures: number;
  breakerProbeMs: number;
  onBreaker?: (open: boolean) => void;
  /** For rediss:// URLs: CA, client certificate and server name (ioredis passes them to tls.connect). */
  tls?: ConnectionOptions;
  /** Traced: each call a child span of the check. */
  spans?: Spans;
}

export class QuotaUnavailable extends Error {
  override name = 'QuotaUnavailable';
}

type WithScript = Redis & {
  tgTake(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
  tgSettle(numKeys: number, ...args: (string | number)[]): Promise<[number, string?]>;
  tgExpired(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
};

export class RedisLimiter implements Limiter {
  readonly redis: WithScript;
  readonly breaker: Breaker;
  failures = 0;

  constructor(
    private readonly opts: RedisLimiterOptions,
    private readonly local: LocalLimiter,
  ) {
    this.redis = new Redis(opts.url, {
      // Fail fast while disconnected instead of queueing: the Check call has a deadline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.timeoutMs,
      connectTimeout: 1000,
      retryStrategy: () => 250,
      lazyConnect: false,
      ...(opts.tls ? { tls: opts.tls } : {}),
    }) as WithScript;
    this.redis.on('error', () => undefined); // reported per failed request below; reconnects by itself
    this.redis.defineCommand('tgTake', { lua: SCRIPT });
    this.redis.defineCommand('tgSettle', { lua: SETTLE });
    this.redis.defineCommand('tgExpired', { lua: EXPIRED });
    this.breaker = new Breaker(opts.breakerFailures, opts.breakerProbeMs, () => this.redis.ping(), opts.onBreaker);
  }

  /** Resolves when connected, or after `ms` (start-up waits for it so the first checks do not fail needlessly). */
  ready(ms: number): Promise<boolean> {
    if (this.redis.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.redis.once('ready', onReady);
    });
  }

  async take(items: LimitItem[], now: number, spend = true, amounts?: readonly number[], hold?: TokenHold): Promise<QuotaResult> {
    const keys: string[] = [];
    const args: (string | number)[] = [now, items.length];
    const windows: number[] = [];
    items.forEach((it, i) => {
      if (it.kind === 'bucket') {
        keys.push(this.opts.prefix + it.key);
        args.push('b', it.limit, it.rate!, 1);
        windows.push(0);
      } else {
        const w = windowOf(it.kind, now, it.anchorDay);
        keys.push(`${this.opts.prefix}${it.key}\u0000${w.start}`);
        args.push('w', it.limit, w.end, amounts?.[i] ?? 1);
        windows.push(w.end);
      }
    });
    args.push(spend ? 1 : 0);
    if (hold) {
      keys.push(this.reservationKey(hold.id), this.opts.prefix + RESERVATIONS);
      args.push(hold.id, hold.first + 1, hold.ttlMs, ...items.slice(hold.first).map((it) => it.unit ?? 'total'), JSON.stringify(hold.owner));
    } else args.push('');
    let out: string[];
    if (this.breaker.skip()) return this.failMode(items, now, spend, amounts);
    try {
      out = await (this.opts.spans ? this.opts.spans.around('tenantgate.redis.quota', () => this.redis.tgTake(keys.length, ...keys, ...args)) : this.redis.tgTake(keys.length, ...keys, ...args));
      this.breaker.success();
    } catch (err) {
      this.failures++;
      this.breaker.failure();
      this.opts.onFailure(err);
      return this.failMode(items, now, spend, amounts);
    }
    const exceededAt = Number(out[0]);
    const retry = Number(out[1]);
    const states: ItemState[] = items.map((it, i) => {
      const v = Number(out[i + 2]);
      return it.kind === 'bucket'
        ? { item: it, remaining: Math.max(0, Math.floor(v)), reset: Math.ceil((it.limit - v) / it.rate!) }
        : { item: it, remaining: Math.max(0, it.limit - v), reset: Math.ceil((windows[i]! - now) / 1000) };
    });
    if (exceededAt > 0) {
      const ex = states[exceededAt - 1]!;
      return { allowed: false, states: states.map((s) => (s === ex ? { ...s, remaining: 0 } : s)), exceeded: ex, retryAfter: Math.max(1, retry) };
    }
    if (spend) this.local.record(items, now);
    return { allowed: true, states };
  }

  private failMode(items: LimitItem[], now: number, spend: boolean, amounts?: readonly number[]): QuotaResult {
    if (this.opts.failure === 'fail_closed') throw new QuotaUnavailable('the quota store is unavailable');
    return this.local.take(items, now, spend, amounts);
  }

  private reservationKey(id: string): string {
    return `${this.opts.prefix}res:${id}`;
  }

  /** Settles a reservation held in Redis with the usage (all zero: releases it): its owner, or undefined if none. */
  async settle(id: string, used: TokenDemand): Promise<ReservationOwner | undefined> {
    const [found, owner] = await this.redis.tgSettle(2, this.reservationKey(id), this.opts.prefix + RESERVATIONS, used.input, used.output, used.costNanoUsd, id);
    return found === 1 && owner ? (JSON.parse(owner) as ReservationOwner) : undefined;
  }

  /** Whose reservation it is, while it is held. */
  async owner(id: string): Promise<ReservationOwner | undefined> {
    const v = await this.redis.hget(this.reservationKey(id), '~owner');
    return v ? (JSON.parse(v) as ReservationOwner) : undefined;
  }

  /** Releases the reservations whose time is up, whichever replica made them. */
  async releaseExpired(max = 500): Promise<number> {
    const ids = await this.redis.tgExpired(1, this.opts.prefix + RESERVATIONS, max);
    for (const id of ids) await this.settle(id, { input: 0, output: 0, costNanoUsd: 0 });
    return ids.length;
  }

  close(): void {
    this.breaker.close();
    this.redis.disconnect();
  }
}
