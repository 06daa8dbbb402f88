// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): one policy item per stacked limit.
//   RateLimit-Policy: "tenant-minute";q=600;w=60, "user-burst";q=20;w=10
//   RateLimit: "tenant-minute";r=599;t=42, "user-burst";r=19;t=1
import type { ItemState } from './limiter.js';
import type { LimitItem } from './limits.js';
import { windowOf } from './windows.js';

// An item's policy text changes only with its window (a month's length): kept per item until the window ends,
// instead of a calendar computation per item on every check. Items are cached per caller (service.ts).
const policies = new WeakMap<LimitItem, { from: number; until: number; text: string }>();

function policyOf(it: LimitItem, now: number): string {
  let p = policies.get(it);
  if (!p || now >= p.until || now < p.from) {
    if (it.kind === 'bucket') p = { from: -Infinity, until: Infinity, text: `"${it.name}";q=${it.limit};w=${Math.max(1, Math.ceil(it.limit / it.rate!))}` };
    else {
      const w = windowOf(it.kind, now, it.anchorDay);
      p = { from: w.start, until: w.end, text: `"${it.name}";q=${it.limit};w=${Math.round((w.end - w.start) / 1000)}` };
    }
    policies.set(it, p);
  }
  return p.text;
}

export function rateLimitFields(states: ItemState[], now: number): { 'ratelimit-policy': string; ratelimit: string } {
  return {
    'ratelimit-policy': states.map((s) => policyOf(s.item, now)).join(', '),
    ratelimit: states.map((s) => `"${s.item.name}";r=${s.remaining};t=${Math.max(0, s.reset)}`).join(', '),
  };
}
