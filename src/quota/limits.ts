// Which limits apply to a request. Limits stack: a tenant-wide set (tier defaults, overridden per tenant) and a
// caller set (the API key's override, else the user's groups, else the tier); the strictest item wins.
import type { WindowName } from './windows.js';
import { LIMIT_FIELDS, TOKEN_LIMIT_FIELDS, type LimitSet, type TokenLimits } from '../core/limits.js';

export type ItemKind = 'bucket' | WindowName;

/** One enforceable limit on one counter. */
export interface LimitItem {
  /** Stable counter key: tenant + subject (+ window kind). */
  key: string;
  tenant: string;
  /** "*" (the whole tenant), "key:<id>", "user:<id>" or "bucket:<name>". */
  subject: string;
  kind: ItemKind;
  /** Policy name in the RateLimit fields, e.g. "tenant-minute". */
  name: string;
  limit: number;
  /** bucket: tokens per second. */
  rate?: number;
  /** month windows: the billing anchor day. */
  anchorDay?: number;
  /** What it counts besides requests: LLM tokens (input, output, both) or their cost in nano-dollars. */
  unit?: TokenUnit;
}

export type TokenUnit = 'input' | 'output' | 'total' | 'cost';

/** What one LLM request may use, reserved at its check. */
export interface TokenDemand {
  input: number;
  output: number;
  costNanoUsd: number;
}

/** What an item costs a request that demands `d`. */
export function amountOf(it: LimitItem, d: TokenDemand): number {
  return it.unit === 'input' ? d.input : it.unit === 'output' ? d.output : it.unit === 'total' ? d.input + d.output : it.unit === 'cost' ? d.costNanoUsd : 1;
}

/** The token budget items of a scope: one per field set, each on a counter of its own. */
export function tokenItemsFor(tenant: string, label: string, limits: TokenLimits, anchorDay?: number, caller?: string): LimitItem[] {
  const items: LimitItem[] = [];
  for (const f of TOKEN_LIMIT_FIELDS) {
    const value = limits[f];
    if (!positive(value)) continue;
    const m = /^(?:(input|output)_)?tokens_per_(minute|day|month)$/.exec(f);
    const unit: TokenUnit = m ? ((m[1] as 'input' | 'output' | undefined) ?? 'total') : 'cost';
    const kind = m ? (m[2] as WindowName) : 'month';
    // The tenant's counters are tokens:<unit>; a caller's (key:<id>, user:<id>) tokens:<unit>:<caller>.
    const subject = caller ? `tokens:${unit}:${caller}` : `tokens:${unit}`;
    const name = unit === 'cost' ? `${label}-cost-month` : `${label}-${unit === 'total' ? '' : `${unit}-`}tokens-${kind}`;
    items.push({ key: `${tenant}\u0000${subject}\u0000${kind}`, tenant, subject, kind, name, limit: unit === 'cost' ? Math.round(value * 1e9) : value, unit, anchorDay: kind === 'month' ? anchorDay : undefined });
  }
  return items;
}

export interface Scope {
  tenant: string;
  subject: string;
  label: string;
  limits: LimitSet;
  anchorDay?: number;
}

const positive = (n: number | null | undefined): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;

export function itemsFor(scopes: Scope[]): LimitItem[] {
  const items: LimitItem[] = [];
  for (const s of scopes) {
    const base = `${s.tenant}\u0000${s.subject}`;
    const l = s.limits;
    if (positive(l.rate) || positive(l.burst)) {
      const rate = positive(l.rate) ? l.rate : l.burst! / 60;
      const burst = positive(l.burst) ? l.burst : Math.max(1, Math.ceil(rate));
      items.push({ key: `${base}\u0000bucket`, tenant: s.tenant, subject: s.subject, kind: 'bucket', name: `${s.label}-burst`, limit: burst, rate });
    }
    for (const [kind, value] of [['minute', l.per_minute], ['day', l.per_day], ['month', l.per_month]] as const) {
      if (positive(value)) {
        items.push({ key: `${base}\u0000${kind}`, tenant: s.tenant, subject: s.subject, kind, name: `${s.label}-${kind}`, limit: value, anchorDay: kind === 'month' ? s.anchorDay : undefined });
      }
    }
  }
  return items;
}

/** Field-by-field: the override wins where it sets a value. */
export function overlay(base: LimitSet, over: LimitSet | undefined): LimitSet {
  if (!over) return base;
  const out: LimitSet = { ...base };
  for (const k of LIMIT_FIELDS) if (over[k] != null) out[k] = over[k];
  return out;
}
