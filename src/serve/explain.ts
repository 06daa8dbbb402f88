// The admin API's ExplainCheck: the request, as Envoy would send it, through the server's own pipeline without
// spending quota, then the report (check/explain.ts) with OPA's rules that held where opa and the sources are here.
import type { Config } from '../core/config.js';
import type { Graph } from './wiring.js';
import type { Explainer } from '../admin/api.js';
import { buildCheckRequest } from '../check/envoy-request.js';
import { explainOutcome } from '../check/explain.js';
import { rulesThatHeld, type RuleHeld } from '../policy/explain.js';
import { findOpa } from '../policy/opa.js';
import { StoreError } from '../core/errors.js';

export function explainer(config: Config, graph: Graph): Explainer {
  return async (req) => {
    const method = typeof req.method === 'string' && req.method ? req.method.toUpperCase() : 'GET';
    if (typeof req.path !== 'string' || !req.path) throw new StoreError('path is required', 'invalid');
    const headers = (Array.isArray(req.headers) ? req.headers : []).map((h: { name?: string; value?: string }) => [h.name ?? '', h.value ?? ''] as [string, string]);
    const raw = buildCheckRequest({
      method,
      path: req.path,
      host: typeof req.host === 'string' && req.host ? req.host : undefined,
      headers,
      body: typeof req.body === 'string' ? req.body : undefined,
      contextExtensions: (req.context_extensions as Record<string, string> | undefined) ?? {},
      sourceAddress: typeof req.source_address === 'string' && req.source_address ? req.source_address : undefined,
    });
    const outcome = await graph.service.pipeline.explain(raw);
    return explainOutcome(outcome, outcome.policyInput ? await opaRules(config, outcome.policyInput) : undefined);
  };
}

/** OPA's rules that held, when the policy is a directory of sources and opa is installed; otherwise none. */
async function opaRules(config: Config, input: unknown): Promise<RuleHeld[] | undefined> {
  const p = config.policies;
  if (!p.dir || p.bundle_file || p.bundle_url) return undefined;
  try {
    return await rulesThatHeld(findOpa(), p.dir, p.entrypoint, input);
  } catch {
    return undefined;
  }
}
