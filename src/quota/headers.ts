// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): one policy item per stacked limit.
//   RateLimit-Policy: "tenant-minute";q=600;w=60, "user-burst";q=20;w=10
//   RateLimit: "tenant-minute";r=599;t=42, "user-burst";r=19;t=1
import type { ItemState } from './limiter.js';
import type { LimitItem } from './limits.js';
import { windowOf } from './windows.js';

// A set of limits' policy text changes only with its windows (a month's length): kept per set (the items array a
// caller's limits are cached as, service.ts) until the first of its windows ends, instead of a calendar computation
// and a string per item on every check.
const policies = new WeakMap<readonly LimitItem[], { from: number; until: number; text: string }>();

function policyOf(items: readonly LimitItem[], now: number): string {
  let p = policies.get(items);
  if (!p || now >= p.until || now < p.from) {
    let from = -Infinity;
    let until = Infinity;
    const parts: string[] = [];
    for (const it of items) {
      if (it.kind === 'bucket') {
        parts.push(`"${it.name}";q=${it.limit};w=${Math.max(1, Math.ceil(it.limit / it.rate!))}`);
        continue;
      }
      const w = windowOf(it.kind, now, it.anchorDay);
      from = Math.max(from, w.start);
      until = Math.min(until, w.end);
      parts.push(`"${it.name}";q=${it.limit};w=${Math.round((w.end - w.start) / 1000)}`);
    }
    p = { from, until, text: parts.join(', ') };
    policies.set(items, p);
  }
  return p.text;
}

/** `states` are the results of `items`, in their order. */
export function rateLimitFields(items: readonly LimitItem[], states: ItemState[], now: number): { 'ratelimit-policy': string; ratelimit: string } {
  let ratelimit = '';
  for (const s of states) ratelimit += `${ratelimit ? ', ' : ''}"${s.item.name}";r=${s.remaining};t=${Math.max(0, s.reset)}`;
  return { 'ratelimit-policy': policyOf(items, now), ratelimit };
}
