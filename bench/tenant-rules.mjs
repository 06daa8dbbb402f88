// What a tenant's own rules cost per check (docs/tenant-rules.md), side by side in one run, on a mix of chat
// completions (POST with a JSON body): tenant rules switched off; on, with no tenant having any (what every tenant
// without rules pays); and on, with every tenant having a typical rule set (a body schema, a CIDR list, two
// headers); and token budgets against request limits only. The figure is server CPU per check at saturation
// (side-by-side.mjs).
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixtures } from './fixtures.mjs';
import { openDatabase } from '../dist/store/database.js';
import { Admin } from '../dist/admin/operations.js';
import { parseConfig } from '../dist/core/config.js';
import { prepareTenantPolicy } from '../dist/tenant-rules/upload.js';
import { sideBySide } from './side-by-side.mjs';

export const TYPICAL_RULES = [
  {
    name: 'chat-schema',
    match: { routes: ['/api/v1/chat/completions'], methods: ['POST'] },
    body_schema: {
      type: 'object',
      required: ['model', 'messages', 'user'],
      properties: {
        model: { enum: ['gpt-4o-mini', 'claude-3-5-haiku', 'gpt-4o'] },
        messages: { type: 'array', maxItems: 64, items: { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['system', 'user', 'assistant'] }, content: { type: 'string', maxLength: 32768 } } } },
        user: { type: 'string', maxLength: 64 },
        max_tokens: { type: 'integer', maximum: 4096 },
      },
    },
  },
  { name: 'office', source_ips: { allow: ['127.0.0.0/8', '10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'] } },
  { name: 'tags', headers: { 'x-cost-center': 'cc-42', 'x-region': 'eu' } },
];

/** `saturation(kind, fx, work)` from run.mjs; kinds tenantgate+rules-off, tenantgate+rules-none, tenantgate+rules. */
export async function tenantRulesRuns({ work, saturation, rounds = 6 }) {
  const fx = await makeFixtures(join(work, 'completions'), { completions: true });
  // The same store with the typical rule set for every tenant.
  const rulesDb = join(work, 'completions', 'rules.db');
  copyFileSync(fx.dbPath, rulesDb);
  const db = openDatabase(rulesDb);
  const admin = new Admin(db, parseConfig({ store: { path: rulesDb } }, work), 'bench');
  const policy = await prepareTenantPolicy('tenant-0', { rules: TYPICAL_RULES });
  for (const t of admin.tenants.list()) admin.tenantPolicySet(t.id, policy);
  db.close();
  const kinds = { 'tenantgate+rules-off': fx, 'tenantgate+rules-none': fx, 'tenantgate+rules': { ...fx, dbPath: rulesDb } };
  const r = await sideBySide({ kinds, work: join(work, 'completions'), saturation, rounds });
  return {
    mix: fx.kinds,
    runs: r.runs,
    medianCpuUsPerCheck: r.medianCpuUsPerCheck,
    noRulesExtraUs: r.delta('tenantgate+rules-none', 'tenantgate+rules-off'),
    typicalRulesExtraUs: r.delta('tenantgate+rules', 'tenantgate+rules-none'),
  };
}

/**
 * What token budgets cost a check: the same completions mix with quotas on, request limits only, and with every
 * tier's token budgets too (high enough that nothing is denied: each check reserves, none is settled here).
 */
export async function tokenBudgetRuns({ work, saturation, rounds = 6 }) {
  const fx = await makeFixtures(join(work, 'completions'), { completions: true });
  const kinds = { 'tenantgate+limits': fx, 'tenantgate+tokens': fx };
  const r = await sideBySide({ kinds, work: join(work, 'completions'), saturation, rounds });
  return { mix: fx.kinds, runs: r.runs, medianCpuUsPerCheck: r.medianCpuUsPerCheck, tokenBudgetsExtraUs: r.delta('tenantgate+tokens', 'tenantgate+limits') };
}
