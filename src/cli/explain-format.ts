// An explanation (check --explain, replay) as a person reads it: the verdict, one line per phase, the first
// failure and how to fix it.
import type { ExplainReport, Phase } from '../check/explain.js';
import type { Replay } from './replay.js';

const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.join(', ') : '-');

function phaseLine(p: Phase): string {
  const d = p.detail as Record<string, any>;
  switch (p.phase) {
    case 'request':
      return `${d.method} ${d.path} (host ${d.host})`;
    case 'credential':
      return d.kind === 'anonymous' ? 'none' : `${d.kind} ${d.subject ?? '-'}, tenant ${d.tenant ?? '-'}${d.issuer ? `, issuer ${d.issuer}` : ''}${d.api_key_id ? `, key ${d.api_key_id}` : ''}`;
    case 'tenant': {
      const t = d.tenant;
      const hints = (d.hints as { source: string; id: string }[]).map((h) => `${h.id} (${h.source})`);
      return `${t ? `${t.id} (${t.tier}, ${t.status})` : 'unknown'}${hints.length ? `; the request names ${hints.join(', ')}` : ''}${d.federation ? `; federation ${JSON.stringify(d.federation)}` : ''}`;
    }
    case 'groups':
      return `${list((d.groups as { id: string; role: string }[]).map((g) => `${g.id} (${g.role})`))}; permissions ${list(d.permissions)}; data access ${d.data_access_level}`;
    case 'policy': {
      const dec = d.decision as { allowed: boolean; code?: string; reason?: string };
      const rules = (d.rules_that_held as { rule: string; at: string }[] | undefined)?.map((r) => `${r.rule} (${r.at})`);
      return `${dec.allowed ? 'allow' : `deny ${dec.code ?? ''}`}${rules ? `\n${' '.repeat(14)}rules that held: ${rules.join(', ') || '-'}` : ''}`;
    }
    case 'tenant_rules':
      return `tenant ${d.tenant ?? '-'}: ${d.rule === 'rego' ? "its Rego module" : `rule "${d.rule}"`} denied`;
    case 'quota':
      return list(
        (d.limits as { limit: string; kind: string; max: number; remaining: number; reset_seconds: number }[]).map(
          (q) => `${q.limit} ${q.remaining} of ${q.max} left${q.kind === 'bucket' ? '' : ` this ${q.kind}`} (full again in ${q.reset_seconds}s)`,
        ),
      );
  }
}

export function formatExplanation(r: ExplainReport): string {
  const d = r.decision;
  const lines = [d.allowed ? 'ALLOW' : `DENY ${d.http_status} ${d.code}${d.reason ? `: ${d.reason}` : ''}`];
  for (const p of r.phases) lines.push(`  ${p.phase.padEnd(11)} ${p.ok ? 'ok  ' : 'FAIL'} ${phaseLine(p)}`);
  if (r.first_failure) {
    lines.push(`first failure: ${r.first_failure.phase}: ${r.first_failure.code}${r.first_failure.tenant_rule ? ` [tenant rule ${r.first_failure.tenant_rule}]` : ''}${r.first_failure.reason ? ` (${r.first_failure.reason})` : ''}`);
    lines.push(`how to fix: ${r.first_failure.fix}`);
  }
  lines.push(`decision ${r.decision_id}, policy revision ${r.policy_revision || '-'}`);
  return lines.join('\n');
}

export function formatReplay(r: Replay): string {
  const t = r.then;
  const lines = [`decision ${t.decision_id} at ${t.time}: ${t.decision === 'allow' ? 'ALLOW' : `DENY ${t.http_status} ${t.code}${t.reason ? `: ${t.reason}` : ''}`} (policy revision ${t.policy_revision || '-'})`];
  if (t.route) lines.push(`  ${t.route.method} ${t.route.path} (host ${t.route.host})`);
  if (!r.now) {
    lines.push('the log entry has no policy input (decision_log.include_input was off): nothing to replay');
    return lines.join('\n');
  }
  lines.push('', `today's policy on the same input: ${r.changed ? 'a different decision' : 'the same decision'}`, formatExplanation(r.now));
  return lines.join('\n');
}
