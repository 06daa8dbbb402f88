// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): one policy item per stacked limit.
//   RateLimit-Policy: "tenant-minute";q=600;w=60, "user-burst";q=20;w=10
//   RateLimit: "tenant-minute";r=599;t=42, "user-burst";r=19;t=1
import type { ItemState } from './limiter.js';
import type { LimitItem } from './limits.js';
import { windowOf } from './windows.js';
import { safe } from '../core/upstream-headers.js';

/**
 * What a set of limits' fields keep (per items array, as a caller's limits are cached, service.ts, which holds on to
 * them with the set): the policy text, which changes only with its windows (a month's length), until the first of
 * them ends; and each item's start of its RateLimit entry, as bytes. A check then computes no calendar, and writes
 * the RateLimit field into one buffer (one string made, of the reads of an item's name and a string per part of it:
 * 1.4 µs a check, bench/README.md). Names are made safe for a header here (a policy names its buckets), as a value
 * would be when sent: a byte a character.
 */
export interface FieldParts {
  readonly items: readonly LimitItem[];
  /** `"name";r=` of every item, one after the other, and where each ends. */
  readonly heads: Buffer;
  readonly ends: Uint32Array;
  /** The policy text, and the windows it was made for (none yet: from above until). */
  policy: string;
  from: number;
  until: number;
}

const kept = new WeakMap<readonly LimitItem[], FieldParts>();

/** The kept parts of a set of limits' fields, made on first use. */
export function fieldPartsOf(items: readonly LimitItem[]): FieldParts {
  let k = kept.get(items);
  if (!k) {
    const heads = items.map((it) => Buffer.from(`"${safe(it.name)}";r=`, 'latin1'));
    let end = 0;
    k = { items, heads: Buffer.concat(heads), ends: Uint32Array.from(heads, (h) => (end += h.length)), policy: '', from: Infinity, until: -Infinity };
    kept.set(items, k);
  }
  return k;
}

/** The policy text, made again when `now` is outside the windows it was made for. */
function policyAt(k: FieldParts, now: number): string {
  if (now < k.until && now >= k.from) return k.policy;
  let from = -Infinity;
  let until = Infinity;
  const parts: string[] = [];
  for (const it of k.items) {
    if (it.kind === 'bucket') {
      parts.push(`"${safe(it.name)}";q=${it.limit};w=${Math.max(1, Math.ceil(it.limit / it.rate!))}`);
      continue;
    }
    const w = windowOf(it.kind, now, it.anchorDay);
    from = Math.max(from, w.start);
    until = Math.min(until, w.end);
    parts.push(`"${safe(it.name)}";q=${it.limit};w=${Math.round((w.end - w.start) / 1000)}`);
  }
  k.from = from;
  k.until = until;
  return (k.policy = parts.join(', '));
}

// Where the RateLimit field is written: grown when a set of limits needs more.
let scratch = Buffer.allocUnsafe(1024);

/** The decimal digits of a non-negative integer at `pos`; where they end. */
function writeInteger(n: number, pos: number): number {
  if (!Number.isSafeInteger(n) || n < 0) return pos + scratch.write(String(n), pos, 'latin1');
  if (n < 1e9) return writeDigits(n, pos, n < 10 ? 1 : n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : 9);
  // Nine digits at a time, in 32-bit integer arithmetic.
  const high = Math.floor(n / 1e9);
  return writeDigits(n - high * 1e9, writeInteger(high, pos), 9);
}

/** `width` digits of `n` (below 10⁹), with leading zeros. */
function writeDigits(n: number, pos: number, width: number): number {
  for (let i = pos + width - 1; i >= pos; i--) {
    const q = (n / 10) | 0;
    scratch[i] = 48 + n - q * 10;
    n = q;
  }
  return pos + width;
}

/** The fields from a set of limits' kept parts; `states` are the results of its items, in their order. */
export function fieldsOf(k: FieldParts, states: ItemState[], now: number): { 'ratelimit-policy': string; ratelimit: string } {
  const policy = policyAt(k, now);
  // Each entry at most its head, two numbers of up to 22 characters, and `;t=`, `, `.
  const most = k.heads.length + states.length * 50;
  if (scratch.length < most) scratch = Buffer.allocUnsafe(2 * most);
  let pos = 0;
  for (let i = 0; i < states.length; i++) {
    const s = states[i]!;
    if (i > 0) {
      scratch[pos++] = 0x2c; // ,
      scratch[pos++] = 0x20;
    }
    // By hand: Buffer#copy's checks cost more than a name's few bytes.
    for (let j = i === 0 ? 0 : k.ends[i - 1]!, end = k.ends[i]!; j < end; j++) scratch[pos++] = k.heads[j]!;
    pos = writeInteger(s.remaining, pos);
    scratch[pos++] = 0x3b; // ;
    scratch[pos++] = 0x74; // t
    scratch[pos++] = 0x3d; // =
    pos = writeInteger(Math.max(0, s.reset), pos);
  }
  return { 'ratelimit-policy': policy, ratelimit: scratch.toString('latin1', 0, pos) };
}
