// What tokens cost, from the price table in the config (genai.models): US dollars per million tokens, by model.
import type { Config } from '../core/config.js';
import type { TokenUsage } from './usage.js';

export type PriceTable = Config['genai']['models'];

/** The usage's cost, or null when the model is not in the table. */
export function costOf(prices: PriceTable, u: TokenUsage): number | null {
  const p = u.model === null ? undefined : (prices[u.model] ?? prices[u.model.replace(/-\d{4}-\d{2}-\d{2}$/, '')]);
  if (!p) return null;
  return (u.input_tokens * p.input_per_million + u.output_tokens * p.output_per_million) / 1_000_000;
}

/** US dollars as whole nano-dollars, as costs are counted and stored (sums stay exact); no price: nothing. */
export function nanoUsd(usd: number | null): number {
  return usd === null ? 0 : Math.round(usd * 1e9);
}
