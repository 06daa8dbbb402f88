// tenantgate replay DECISION_ID: a past decision from the decision log, explained phase by phase from the policy
// input the log kept, and what today's policy says of that same input.
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import { StoreError } from '../core/errors.js';
import { PolicyEngine } from '../policy/engine.js';
import { readBundle } from '../policy/bundle.js';
import { compilePolicies } from '../policy/compile.js';
import { rulesThatHeld } from '../policy/explain.js';
import { findOpa } from '../policy/opa.js';
import { explainOutcome, type ExplainReport } from '../check/explain.js';
import type { Outcome } from '../core/outcome.js';
import type { EffectiveContext } from '../core/limits.js';

export interface LoggedDecision {
  time: string;
  decision_id: string;
  decision: 'allow' | 'deny';
  code: string | null;
  http_status: number;
  reason: string | null;
  policy_revision: string;
  route: { method: string; path: string; host: string } | null;
  input?: Record<string, unknown>;
}

export interface Replay {
  then: LoggedDecision;
  /** Today's policy on the same input, phase by phase (no input in the entry: undefined). */
  now?: ExplainReport;
  /** Whether today's policy decides otherwise (allow/deny or code). */
  changed?: boolean;
}

/** The decision log entry of `id`, read line by line (a log may be large). */
export async function findDecision(file: string, id: string): Promise<LoggedDecision> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const needle = `"decision_id":"${id}"`;
  for await (const line of lines) {
    if (!line.includes(needle)) continue;
    lines.close();
    return JSON.parse(line) as LoggedDecision;
  }
  throw new StoreError(`decision ${id} is not in ${file}`, 'not_found');
}

export async function replay(config: Config, id: string, logFile: string | undefined): Promise<Replay> {
  const file = logFile ?? (config.decision_log.output !== 'stdout' ? config.decision_log.output : undefined);
  if (!file) throw new ConfigError('decision_log.output is stdout: name the file the decision log went to with --log');
  const then = await findDecision(file, id);
  if (!then.input) return { then };
  const engine = new PolicyEngine(config.policies.entrypoint);
  await engine.load(await readBundle(await todaysBundle(config)));
  const decision = engine.evaluate(then.input);
  const outcome = outcomeOf(then, decision, engine.revision);
  const rules = config.policies.dir && !config.policies.bundle_file ? await rulesThatHeld(findOpa(), config.policies.dir, config.policies.entrypoint, then.input).catch(() => undefined) : undefined;
  const now = explainOutcome(outcome, rules);
  return { then, now, changed: now.decision.allowed !== (then.decision === 'allow') || (now.decision.code ?? null) !== (then.code ?? null) };
}

/** The policy as the config names it: a bundle file, else the sources (compiled with opa). */
async function todaysBundle(config: Config): Promise<Buffer> {
  const p = config.policies;
  if (p.bundle_file) return readFileSync(p.bundle_file);
  if (!p.dir) throw new ConfigError('replay needs policies.dir or policies.bundle_file');
  return compilePolicies(p.dir, p.entrypoint);
}

/** The outcome the logged input describes, decided by today's policy. */
function outcomeOf(then: LoggedDecision, decision: Outcome['decision'], revision: string): Outcome {
  const input = then.input!;
  const effective = input.effective ? ({ ...(input.effective as object), groups: input.groups ?? [] } as unknown as EffectiveContext) : null;
  return {
    identity: input.identity as Outcome['identity'],
    tenant: (input.tenant ?? null) as Outcome['tenant'],
    effective,
    hints: (input.request_tenant_hints ?? []) as Outcome['hints'],
    federation: (input.federation ?? null) as Outcome['federation'],
    targetTenant: (input.target_tenant ?? null) as Outcome['targetTenant'],
    decisionId: then.decision_id,
    decision,
    policyDecision: decision,
    request: then.route ? ({ method: then.route.method, path: then.route.path, host: then.route.host } as Outcome['request']) : null,
    policyRevision: revision,
  };
}
