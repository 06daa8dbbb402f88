// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): one policy item per stacked limit.
//   RateLimit-Policy: "tenant-minute";q=600;w=60, "user-burst";q=20;w=10
//   RateLimit: "tenant-minute";r=599;t=42, "user-burst";r=19;t=1
import type { ItemState } from './limiter.js';
import { windowOf } from './windows.js';

function windowSeconds(s: ItemState, now: number): number {
  const it = s.item;
  if (it.kind === 'bucket') return Math.max(1, Math.ceil(it.limit / it.rate!));
  const w = windowOf(it.kind, now, it.anchorDay);
  return Math.round((w.end - w.start) / 1000);
}

export function rateLimitFields(states: ItemState[], now: number): { 'ratelimit-policy': string; ratelimit: string } {
  return {
    'ratelimit-policy': states.map((s) => `"${s.item.name}";q=${s.item.limit};w=${windowSeconds(s, now)}`).join(', '),
    ratelimit: states.map((s) => `"${s.item.name}";r=${s.remaining};t=${Math.max(0, s.reset)}`).join(', '),
  };
}
