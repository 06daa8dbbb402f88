// tenantgate apply | export: the store kept in Git as YAML documents (docs/configuration-as-code.md).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../core/config.js';
import type { ApplyResult } from '../state/apply.js';

type Run = <T>(o: Record<string, any>, op: string, req: Record<string, unknown>) => Promise<T>;
type Out = (o: Record<string, any>, value: unknown, human: () => string) => void;

/** The YAML files of a directory (sorted, not recursive), or the one file named. */
function readDocuments(path: string): { file: string; text: string }[] {
  if (!existsSync(path)) throw new ConfigError(`${path} does not exist`);
  const files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(path, f)) : [path];
  if (!files.length) throw new ConfigError(`${path} has no .yaml files`);
  return files.map((file) => ({ file, text: readFileSync(file, 'utf8') }));
}

export function registerStateCommands(program: Command, { run, out, common }: { run: Run; out: Out; common: (c: Command) => Command }): void {
  common(program.command('apply').description('make the store what a directory of YAML documents says: validate all, print the plan, apply it in one transaction'))
    .requiredOption('-f, --file <path>', 'a directory of .yaml documents (or one file)')
    .option('--dry-run', 'print the plan only; change nothing')
    .option('--prune', 'also delete what the documents no longer name (tenants, groups, members; keys and grants are revoked)')
    .action(async (o: Record<string, any>) => {
      const r = await run<ApplyResult>(o, 'ApplyState', { files: readDocuments(o.file), dry_run: Boolean(o.dryRun), prune: Boolean(o.prune) });
      out(o, r, () => {
        if (!r.plan.length) return 'no changes: the store is as the documents say';
        const lines = r.plan.map((p) => `  ${p.op.padEnd(6)} ${p.what}`);
        lines.unshift(r.applied ? `applied ${r.plan.length} change(s):` : `plan: ${r.plan.length} change(s) (dry run: nothing written)`);
        for (const m of r.made) lines.push(`secret of ${m.what} (shown once):`, `  ${m.secret}`);
        return lines.join('\n');
      });
    });
  common(program.command('export').description('write the store as YAML documents, one file per tenant and one for the federation grants (never secrets)'))
    .requiredOption('-o, --output <dir>', 'the directory to write')
    .action(async (o: Record<string, any>) => {
      const r = await run<{ files: { file: string; text: string }[] }>(o, 'ExportState', {});
      mkdirSync(o.output, { recursive: true });
      for (const f of r.files) writeFileSync(join(o.output, f.file), f.text);
      out(o, { files: r.files.map((f) => f.file) }, () => `wrote ${r.files.length} file(s) to ${o.output}`);
    });
}
