// What a tenant's own rules cost per check (docs/tenant-rules.md), side by side in one run, on a mix of chat
// completions (POST with a JSON body): tenant rules switched off; on, with no tenant having any (what every tenant
// without rules pays); and on, with every tenant having a typical rule set (a body schema, a CIDR list, two
// headers). The figure is server CPU per check at saturation, the median of six rounds taken in turn,
// and of the differences within each round.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixtures } from './fixtures.mjs';
import { openDatabase } from '../dist/store/database.js';
import { Admin } from '../dist/admin/operations.js';
import { parseConfig } from '../dist/core/config.js';
import { prepareTenantPolicy } from '../dist/tenant-rules/upload.js';

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
  const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const order = Object.entries(kinds);
  for (let round = 0; round < rounds; round++) {
    // Each server first in turn: the first run of a round measured slower than the others.
    for (const [kind, f] of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
      const r = await saturation(kind, f, join(work, 'completions'));
      const us = ((r.serverCpuPct / 100) * 1e6) / r.rps;
      runs[kind].push({ ...r, cpuUsPerCheck: us });
      console.log(`  ${kind.padEnd(22)} round ${round + 1}: ${r.rps.toFixed(0)} rps, ${us.toFixed(1)} µs CPU per check, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const med = Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, median(list.map((x) => x.cpuUsPerCheck))]));
  // The differences within each round (the three servers measured back to back), then their median: the machine's
  // speed drifts between rounds more than these differences.
  const delta = (a, b) => median(runs[a].map((x, i) => x.cpuUsPerCheck - runs[b][i].cpuUsPerCheck));
  return {
    mix: fx.kinds,
    runs,
    medianCpuUsPerCheck: med,
    noRulesExtraUs: delta('tenantgate+rules-none', 'tenantgate+rules-off'),
    typicalRulesExtraUs: delta('tenantgate+rules', 'tenantgate+rules-none'),
  };
}
