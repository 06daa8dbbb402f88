// `tenantgate apply` and `export`: a directory of documents as the desired state, planned against the store and
// applied in one transaction (audited like every change), and the store written out in the same format.
import { stringify } from 'yaml';
import type { AdminStore } from '../core/admin-store.js';
import { parseState, type TenantDoc } from './documents.js';
import { currentState } from './current.js';
import { plan } from './plan.js';

export interface ApplyResult {
  plan: { op: string; what: string }[];
  applied: boolean;
  /** The secrets of the keys (and federation tokens) apply made: shown once, never stored. */
  made: { what: string; secret: string }[];
}

export async function applyState(admin: AdminStore, files: { file: string; text: string }[], opts: { dryRun: boolean; prune: boolean }): Promise<ApplyResult> {
  // Everything is read and checked before anything is written.
  const desired = parseState(files);
  const actions = plan(desired, await currentState(admin), opts.prune);
  const result: ApplyResult = { plan: actions.map(({ op, what }) => ({ op, what })), applied: false, made: [] };
  if (opts.dryRun || actions.length === 0) return result;
  await admin.atomically(async (a) => {
    for (const act of actions) {
      const r = (await act.run(a)) as { key?: string; token?: string } | undefined;
      if (r?.key) result.made.push({ what: act.what, secret: r.key });
      if (r?.token) result.made.push({ what: act.what, secret: r.token });
    }
  });
  result.applied = true;
  return result;
}

/** The store as documents: a file per tenant and one for the grants (no secrets: keys by user and name). */
export async function exportState(admin: AdminStore): Promise<{ file: string; text: string }[]> {
  const s = await currentState(admin);
  const files = s.tenants.map((t) => ({ file: `${t.id}.yaml`, text: stringify(tidy(t), { lineWidth: 0 }) }));
  files.push({ file: 'federation.yaml', text: stringify({ kind: 'FederationGrants', grants: s.grants }, { lineWidth: 0 }) });
  return files;
}

/** A tenant's document in a stable order (groups, members, keys and quotas sorted), so that exports diff cleanly. */
function tidy(t: TenantDoc): TenantDoc {
  const by = <T>(f: (x: T) => string) => (a: T, b: T) => f(a).localeCompare(f(b));
  return {
    ...t,
    groups: [...t.groups].sort(by((g) => g.id)),
    members: [...t.members].sort(by((m) => `${m.user}/${m.group}`)),
    api_keys: [...t.api_keys].sort(by((k) => `${k.user}/${k.name}`)),
    quotas: [...t.quotas].sort(by((q) => `${q.scope}:${q.id}`)),
  };
}
