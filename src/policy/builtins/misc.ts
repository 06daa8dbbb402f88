// The rest of OPA's host builtins that a policy for an authorization check may call: numbers, objects, uuid,
// randomness, YAML, runtime information and tracing.
import { randomInt, randomUUID } from 'node:crypto';
import { Lexer, parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { RawJson, RegoText, bigintArg, int, obj, str, validity, type Builtins } from '../wasm/builtin.js';
import { RegoSet, parseRego, regoEqual, regoText, type RegoValue } from '../wasm/rego-value.js';
import { goJsonString } from '../../util/go-text.js';

/** object.subset as OPA has it (topdown/subset.go): objects, sets, arrays (a contiguous run), or a set in an array. */
function subset(sup: RegoValue, sub: RegoValue): boolean {
  if (isObj(sup) && isObj(sub)) return objectSubset(sup, sub);
  if (sup instanceof RegoSet && sub instanceof RegoSet) return sub.items.every((x) => sup.items.some((y) => regoEqual(x, y)));
  if (Array.isArray(sup) && Array.isArray(sub)) return arraySubset(sup, sub);
  if (Array.isArray(sup) && sub instanceof RegoSet) return sub.items.every((x) => sup.some((y) => regoEqual(x, y)));
  throw new Error('both arguments object.subset must be of the same type or array and set');
}

const isObj = (v: RegoValue): v is Record<string, RegoValue> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RegoSet);

function objectSubset(sup: Record<string, RegoValue>, sub: Record<string, RegoValue>): boolean {
  return Object.entries(sub).every(([k, v]) => {
    if (!Object.hasOwn(sup, k)) return false;
    const s = sup[k]!;
    if (regoEqual(v, s)) return true;
    if (isObj(s) && isObj(v)) return objectSubset(s, v);
    if (s instanceof RegoSet && v instanceof RegoSet) return subset(s, v);
    if (Array.isArray(s) && Array.isArray(v)) return arraySubset(s, v);
    return false;
  });
}

function arraySubset(sup: RegoValue[], sub: RegoValue[]): boolean {
  if (sub.length > sup.length) return false;
  let superCursor = 0;
  let subCursor = 0;
  for (;;) {
    if (subCursor === sub.length) return true;
    if (superCursor + subCursor === sup.length) return false;
    if (regoEqual(sup[superCursor + subCursor]!, sub[subCursor]!)) subCursor++;
    else {
      superCursor++;
      subCursor = 0;
    }
  }
}



/** JSON as Go's json.MarshalIndent writes a Rego value: object keys sorted (by code unit, integer-like keys too). */
export function goJson(v: unknown, indent = '', prefix = '', depth = 0): string {
  const nl = indent || prefix ? `\n${prefix}${indent.repeat(depth + 1)}` : '';
  const end = indent || prefix ? `\n${prefix}${indent.repeat(depth)}` : '';
  const sep = indent || prefix ? ': ' : ':';
  if (Array.isArray(v)) return v.length ? `[${v.map((x) => nl + goJson(x, indent, prefix, depth + 1)).join(',')}${end}]` : '[]';
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    if (!keys.length) return '{}';
    return `{${keys.map((k) => nl + goJsonString(k, true) + sep + goJson((v as Record<string, unknown>)[k], indent, prefix, depth + 1)).join(',')}${end}}`;
  }
  return typeof v === 'string' ? goJsonString(v, true) : JSON.stringify(v);
}

/** YAML as OPA's Go reader takes it: anchor and alias names of letters, digits, "_" and "-" only. */
function readYaml(s: string): unknown {
  for (const token of new Lexer().lex(s)) {
    if ((token[0] === '&' || token[0] === '*') && !/^[&*][0-9A-Za-z_-]+$/.test(token)) throw new Error('did not find expected alphabetic or numeric character');
  }
  // No process warnings for an odd document: a policy may read YAML from any request.
  return parseYaml(s, { logLevel: 'error' }) as unknown;
}

export const miscBuiltins: Builtins = {
  'numbers.range_step': ([a, b, s], _c, raw) => {
    const from = bigintArg(raw[0]);
    const to = bigintArg(raw[1]);
    const step = bigintArg(raw[2]);
    if (!Number.isInteger(a) || !Number.isInteger(b) || !Number.isInteger(s)) throw new Error('operands must be integers');
    if (step <= 0n) throw new Error('numbers.range_step: step must be a positive integer');
    const out: string[] = [];
    if (from <= to) for (let x = from; x <= to; x += step) out.push(x.toString());
    else for (let x = from; x >= to; x -= step) out.push(x.toString());
    return new RawJson(`[${out.join(',')}]`);
  },
  'object.subset': (_a, _c, _r, rego) => subset(parseRego(rego(0)), parseRego(rego(1))),
  // Same call, same answer within one evaluation, as in OPA.
  'rand.intn': ([s, n], ctx) => {
    const key = `rand.intn:${str(s)}:${int(n)}`;
    if (!ctx.memo.has(key)) ctx.memo.set(key, n === 0 ? 0 : randomInt(Math.abs(n as number)));
    return ctx.memo.get(key);
  },
  'uuid.rfc4122': ([k], ctx) => {
    const key = `uuid:${str(k)}`;
    if (!ctx.memo.has(key)) ctx.memo.set(key, randomUUID());
    return ctx.memo.get(key);
  },
  'yaml.is_valid': validity(readYaml),
  'yaml.unmarshal': ([s]) => readYaml(str(s)),
  'yaml.marshal': ([v]) => stringifyYaml(v, { sortMapEntries: true, singleQuote: true }),
  'graph.reachable_paths': (_a, _c, _r, rego) => {
    const graph = parseRego(rego(0));
    const starts = parseRego(rego(1));
    if (graph === null || typeof graph !== 'object' || Array.isArray(graph) || graph instanceof RegoSet) throw new Error('operand 1 must be an object');
    const list = Array.isArray(starts) ? starts : starts instanceof RegoSet ? starts.items : undefined;
    if (!list) throw new Error('operand 2 must be an array or a set');
    return new RegoText(regoText(new RegoSet(reachablePaths(graph, list))));
  },
  'opa.runtime': () => ({}),
  // Notes go to OPA's tracer, which tenantgate does not run: the call succeeds, as OPA's does without one.
  trace: ([s]) => (str(s), true),
  'json.marshal_with_options': ([v, o]) => {
    const opts = obj(o);
    const indent = typeof opts.indent === 'string' ? opts.indent : '\t';
    const prefix = typeof opts.prefix === 'string' ? opts.prefix : '';
    const pretty = opts.pretty === true || (opts.pretty === undefined && ('indent' in opts || 'prefix' in opts));
    if (!pretty) return goJson(v, '', '');
    // As OPA: every line, the first included, starts with the prefix.
    return prefix + goJson(v, indent, prefix);
  },
};

/** graph.reachable_paths as OPA walks it (topdown/reachable.go): every path from each start until a leaf or a cycle. */
function reachablePaths(graph: Record<string, RegoValue>, starts: RegoValue[]): RegoValue[][] {
  const out: RegoValue[][] = [];
  const key = (v: RegoValue) => (typeof v === 'string' ? v : undefined);
  const edgesOf = (v: RegoValue): RegoValue[] | undefined => {
    const k = key(v);
    if (k === undefined || !Object.hasOwn(graph, k)) return undefined;
    const e = graph[k]!;
    return Array.isArray(e) ? e : e instanceof RegoSet ? e.items : [];
  };
  const walk = (root: RegoValue, path: RegoValue[], reached: RegoValue[]): void => {
    const edges = edgesOf(root);
    if (!edges) return void out.push(path);
    const next = [...path, root];
    if (edges.length === 0) return void out.push(next);
    const seen = [...reached, root];
    for (const n of edges) {
      if (seen.some((r) => regoEqual(r, n))) out.push(next);
      else walk(n, next, seen);
    }
  };
  for (const node of starts) {
    const edges = edgesOf(node);
    if (!edges) continue;
    if (edges.length === 0) out.push([node]);
    else for (const n of edges) walk(n, [node], [node]);
  }
  return out;
}
