#!/usr/bin/env node
// The structure rules of src/ (docs/architecture.md): no import cycle between folders; no folder imports the
// pipeline's folder (check/) except the ones that serve it (the transports and the wiring); no function longer than
// 60 lines (TypeScript's own parser finds them). Prints what breaks a rule and exits 1; run by `npm test`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import ts from 'typescript';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
// Folders that may import check/: they carry requests to the pipeline or build it.
const MAY_IMPORT_CHECK = new Set(['.', 'serve', 'http', 'admin', 'cli']);
const MAX_FUNCTION_LINES = 60;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js)$/.test(name) ? [p] : [];
  });
}

const folderOf = (file) => relative(SRC, dirname(file)).split('/')[0] || '.';
const edges = new Map(); // folder -> Map(folder -> [file -> import])
for (const file of files(SRC)) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
    const target = resolve(dirname(file), m[1]);
    const from = folderOf(file);
    const to = folderOf(target);
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    const e = edges.get(from);
    if (!e.has(to)) e.set(to, []);
    e.get(to).push(`${relative(ROOT, file)} → ${m[1]}`);
  }
}

const problems = [];
for (const [from, targets] of edges) {
  if (targets.has('check') && !MAY_IMPORT_CHECK.has(from)) problems.push(`${from}/ imports check/ (shared types belong in core/):\n    ${targets.get('check').join('\n    ')}`);
}
// Folder-level cycles: strongly connected components of more than one folder (Tarjan).
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function connect(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) {
      const inCycle = new Set(scc);
      const detail = scc.flatMap((a) => [...(edges.get(a) ?? new Map())].filter(([b]) => inCycle.has(b)).map(([b, list]) => `${a}/ → ${b}/: ${list[0]}${list.length > 1 ? ` (+${list.length - 1})` : ''}`));
      problems.push(`folders import each other in a cycle: ${scc.sort().join(', ')}\n    ${detail.join('\n    ')}`);
    }
  }
}
for (const v of edges.keys()) if (!idx.has(v)) connect(v);

// Function length.
for (const file of files(SRC).filter((f) => f.endsWith('.ts'))) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (last - first + 1 > MAX_FUNCTION_LINES) problems.push(`${relative(ROOT, file)}:${first + 1}: ${node.name?.getText() ?? 'a function'} is ${last - first + 1} lines (at most ${MAX_FUNCTION_LINES})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

if (problems.length) {
  console.error(`structure rules broken (scripts/check-structure.mjs):\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`structure: ${edges.size} folders, no import cycles, check/ imported only by ${[...MAY_IMPORT_CHECK].join(', ')}, no function over ${MAX_FUNCTION_LINES} lines`);
