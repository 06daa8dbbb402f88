// The references cannot fall behind the code: every configuration key is in docs/configuration.md, and
// docs/cli.md is what the commands' own definitions generate (every command described).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { configSchema } from '../../src/core/config.js';

const ROOT = resolve(__dirname, '..', '..');

/** Every key path of an object schema (arrays of objects: their items' keys under the array's name). */
function schemaKeys(schema: z.ZodType, prefix = ''): string[] {
  const def = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> } } })._zod.def;
  if (def.innerType) return schemaKeys(def.innerType, prefix);
  if (def.type === 'pipe' && def.in) return schemaKeys(def.in, prefix);
  if (def.type === 'array' && def.element) return schemaKeys(def.element, prefix);
  if (def.type !== 'object' || !def.shape) return [];
  return Object.entries(def.shape).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return [path, ...schemaKeys(v, path)];
  });
}

/** The key paths the YAML of docs/configuration.md shows, commented-out ones included, by indentation. */
function documentedKeys(doc: string): Set<string> {
  const keys = new Set<string>();
  for (const block of doc.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const stack: { indent: number; key: string }[] = [];
    // A flow mapping ({a: 1, b: 2}) may go on over the next lines: its keys belong to the key that opened it.
    let flow: { path: string; depth: number } | undefined;
    for (const raw of block[1]!.split('\n')) {
      let rest = raw;
      if (!flow) {
        const m = /^(\s*)(?:#\s?)?(\s*)(- )?([a-z_0-9]+):(?:\s|$)/.exec(raw);
        if (!m) continue;
        const indent = m[1]!.length + m[2]!.length + (m[3] ? 2 : 0);
        while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
        stack.push({ indent, key: m[4]! });
        const path = stack.map((s) => s.key).join('.');
        keys.add(path);
        rest = raw.slice(m[0].length).replace(/#.*$/, '');
        if (!rest.trimStart().startsWith('{')) continue;
        flow = { path, depth: 0 };
      }
      for (const part of rest.split(/([{}])/)) {
        if (part === '{') flow.depth++;
        else if (part === '}') flow.depth--;
        else if (flow.depth === 1) for (const k of part.matchAll(/(?:^|[,{]|\s)([a-z_0-9]+):/g)) keys.add(`${flow.path}.${k[1]}`);
      }
      if (flow.depth <= 0) flow = undefined;
    }
  }
  return keys;
}

describe('reference documentation', () => {
  it('docs/configuration.md shows every configuration key', () => {
    const documented = documentedKeys(readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8'));
    // Every tier takes the keys the free tier shows in full (the docs say so).
    const asShown = (k: string) => k.replace(/^tiers\.(basic|premium|enterprise)\./, 'tiers.free.');
    expect(schemaKeys(configSchema).filter((k) => !documented.has(asShown(k)))).toEqual([]);
  });

  it('docs/cli.md is generated from the commands, every one of them described', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'cli-reference.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
