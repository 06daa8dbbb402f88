// tenantgate tenant-rules set | get | delete: a tenant's own rules and Rego (docs/tenant-rules.md). With --server,
// a tenant admin's own JWT works as --token for their tenant.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { TenantPolicy } from '../core/tenant-rules.js';

type Run = <T>(o: Record<string, any>, op: string, req: Record<string, unknown>) => Promise<T>;
type Out = (o: Record<string, any>, value: unknown, human: () => string) => void;
type View = Omit<TenantPolicy, 'wasm'> & { compiled: boolean };

const read = (file: string) => readFileSync(file === '-' ? 0 : file, 'utf8');
const collect = (v: string, all: string[]) => [...all, v];

const summary = (p: View) =>
  `tenant ${p.tenant_id}: revision ${p.revision}, ${p.rules.length} rule(s)${p.rules.length ? ` (${p.rules.map((r) => r.name).join(', ')})` : ''}${p.rego ? `, a Rego module with ${p.rego.tests.length} test file(s)` : ''}; by ${p.updated_by} at ${p.updated_at}`;

export function registerTenantPolicyCommands(program: Command, { run, out, common }: { run: Run; out: Out; common: (c: Command) => Command }): void {
  const rules = program.command('tenant-rules').description("a tenant's own rules and Rego, on top of the platform's policy (they can only deny or add)");
  common(rules.command('set').description("replace a tenant's rules (and Rego): checked, tested and compiled before anything is stored"))
    .requiredOption('--tenant <id>', 'tenant')
    .option('-f, --file <file>', 'rules document, YAML or JSON: {rules: [...]} (- for stdin)')
    .option('--rego <file>', 'a Rego module, package tenants["<tenant>"]: its deny set and headers object are read')
    .option('--rego-test <file>', 'a *_test.rego for the module (repeatable; at least one with --rego)', collect, [])
    .action(async (o: Record<string, any>) => {
      const req: Record<string, unknown> = { tenant: o.tenant, document: o.file ? read(o.file) : '' };
      if (o.rego) {
        req.rego_module = read(o.rego);
        req.rego_tests = (o.regoTest as string[]).map((f) => ({ file: basename(f), text: read(f) }));
      }
      const p = await run<View>(o, 'SetTenantPolicy', req);
      out(o, p, () => `stored ${summary(p)}`);
    });
  common(rules.command('get').description("show a tenant's rules"))
    .requiredOption('--tenant <id>', 'tenant')
    .action(async (o: Record<string, any>) => {
      const p = await run<View>(o, 'GetTenantPolicy', { tenant: o.tenant });
      out(o, p, () => `${summary(p)}\n${JSON.stringify({ rules: p.rules }, null, 2)}${p.rego ? `\n${p.rego.module}` : ''}`);
    });
  common(rules.command('delete').description("remove a tenant's rules and Rego"))
    .requiredOption('--tenant <id>', 'tenant')
    .action(async (o: Record<string, any>) => {
      const r = await run<{ deleted: string }>(o, 'DeleteTenantPolicy', { tenant: o.tenant });
      out(o, r, () => `deleted the rules of tenant ${r.deleted}`);
    });
}
