// What a response's token usage does, whichever way it comes (Envoy's external processing, or a usage report):
// settles the reservation its check made, and is counted (metrics, the decision log, the store). A report names
// only the decision: the reservation says whose it was and for which model.
import type { UsedTokens } from '../genai/ext-proc.js';
import type { TokenMeter } from '../genai/meter.js';
import { costOf, nanoUsd, type PriceTable } from '../genai/prices.js';
import type { TokenBudgets } from '../quota/service.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DecisionLog } from '../telemetry/decision-log.js';
import { StoreError } from '../core/errors.js';

export interface UsageRecorder {
  /** A response's usage, read by the ExternalProcessor. */
  used(u: UsedTokens): Promise<void>;
  /** A report of a decision's usage (the admin API, the HTTP port): settled and counted as the reservation's owner's. */
  report(r: { decision_id: string; input_tokens: number; output_tokens: number; model?: string }): Promise<UsedTokens>;
}

const count = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StoreError(`${what} must be a whole number from 0 up`, 'invalid');
  return v;
};

export function usageRecorder(o: { prices: PriceTable; metrics: Metrics; decisionLog: DecisionLog | undefined; tokens: TokenMeter | undefined; budgets: TokenBudgets | undefined }): UsageRecorder {
  // The decision log's usage line says whether it settled a reservation (one line per response, after its decision).
  const counted = (u: UsedTokens, settled: boolean) => {
    o.metrics.tokensUsed(u.tenant, u.input_tokens, u.output_tokens, u.cost_usd);
    o.tokens?.add(u);
    o.decisionLog?.usage({ ...u, settled });
  };
  return {
    async used(u) {
      const owner = u.decision_id && o.budgets ? await o.budgets.settle(u.decision_id, { input: u.input_tokens, output: u.output_tokens, costNanoUsd: nanoUsd(u.cost_usd) }) : undefined;
      counted(u, owner !== undefined);
    },
    async report(r) {
      if (typeof r.decision_id !== 'string' || !r.decision_id) throw new StoreError('decision_id is required', 'invalid');
      const input = count(r.input_tokens, 'input_tokens');
      const output = count(r.output_tokens, 'output_tokens');
      const owner = await o.budgets?.owner(r.decision_id);
      if (!owner) throw new StoreError(`no reservation is held for decision ${r.decision_id} (settled already, expired, or not an LLM request with token budgets)`, 'not_found');
      const model = r.model || owner.model;
      const cost = costOf(o.prices, { model, input_tokens: input, output_tokens: output });
      const u: UsedTokens = { decision_id: r.decision_id, tenant: owner.tenant, user: owner.user, api_key_id: owner.api_key_id, model, input_tokens: input, output_tokens: output, cost_usd: cost };
      // Settled first: a report sent twice is counted once (the second finds no reservation).
      if (!(await o.budgets!.settle(r.decision_id, { input, output, costNanoUsd: nanoUsd(cost) }))) throw new StoreError(`decision ${r.decision_id} was settled meanwhile`, 'conflict');
      counted(u, true);
      return u;
    },
  };
}
