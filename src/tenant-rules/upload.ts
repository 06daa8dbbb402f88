// What an upload of a tenant's policy goes through before it is stored: the rules document checked and compiled
// (schemas, networks, time zones), and the Rego tested and compiled. Either refusal is a StoreError (invalid) with
// the reason, and nothing is stored.
import { StoreError } from '../core/errors.js';
import { parseTenantRules, type TenantPolicyInput, type TenantRegoSource } from '../core/tenant-rules.js';
import { RuleSet } from './rule-set.js';
import { compileTenantRego } from './rego.js';

export async function prepareTenantPolicy(tenantId: string, doc: { rules?: unknown; rego?: TenantRegoSource | null }): Promise<TenantPolicyInput> {
  const rules = parseTenantRules({ rules: doc.rules ?? [] });
  try {
    new RuleSet(rules);
  } catch (err) {
    throw new StoreError(`invalid tenant rules: ${(err as Error).message}`, 'invalid');
  }
  if (!doc.rego) {
    if (!rules.length) throw new StoreError('the policy has neither rules nor a module (to remove it, delete it)', 'invalid');
    return { rules, rego: null, wasm: null, projection: null };
  }
  const { wasm, projection } = await compileTenantRego(tenantId, doc.rego);
  return { rules, rego: doc.rego, wasm, projection };
}
