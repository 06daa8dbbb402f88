// Input projection: `opa deps` tells which parts of `input` a policy can read. The engine passes only those
// parts into WASM, so the decision is the same while the JSON written into the instance and parsed there is a
// fraction of the size. Computed once per build; a policy that reads `input` as a whole gets no projection.
import { spawn } from 'node:child_process';
import { findOpa } from './opa.js';

/** A tree of the input paths to keep: `true` keeps the whole subtree. */
export type Projection = { [key: string]: Projection | true };

type Term = { type: string; value: unknown };

export function projectionFromRefs(refs: Term[][]): Projection | undefined {
  const root: Projection = {};
  for (const ref of refs) {
    if (ref[0]?.type !== 'var' || ref[0].value !== 'input') continue;
    if (ref.length === 1) return undefined; // the whole input is read
    let node: Projection = root;
    for (let i = 1; i < ref.length; i++) {
      const t = ref[i]!;
      const last = i === ref.length - 1;
      if (t.type !== 'string') {
        // A computed key (a variable, a number): everything below the parent may be read.
        markWhole(node, ref, i, root);
        break;
      }
      const key = String(t.value);
      const cur = node[key];
      if (cur === true) break;
      if (last) {
        node[key] = true;
        break;
      }
      node = (node[key] ??= {}) as Projection;
    }
  }
  return root;
}

function markWhole(_node: Projection, ref: Term[], at: number, root: Projection): void {
  let node: Projection = root;
  for (let i = 1; i < at - 1; i++) node = node[String(ref[i]!.value)] as Projection;
  node[String(ref[at - 1]!.value)] = true;
}

export function project(value: unknown, tree: Projection): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key in tree) {
    const v = read(src, key);
    if (v === undefined) continue;
    const sub = tree[key]!;
    // A key "__proto__" (a header of that name, a claim) is data: assigned, it would set the copy's prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: sub === true ? v : project(v, sub), enumerable: true, writable: true, configurable: true });
    else out[key] = sub === true ? v : project(v, sub);
  }
  return out;
}

/** An own property only for "__proto__", which every object otherwise inherits (Object.prototype). */
const read = (src: Record<string, unknown>, key: string): unknown => (key === '__proto__' ? (Object.hasOwn(src, key) ? src[key] : undefined) : src[key]);

export const PROJECTION_KEY = 'tenantgate_meta';

/** The projection a bundle built by tenantgate carries (data.tenantgate_meta.input_projection), if any. */
export function bundleProjection(data: Record<string, unknown>): Projection | undefined {
  const meta = data[PROJECTION_KEY] as { input_projection?: unknown } | undefined;
  const p = meta?.input_projection;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Projection) : undefined;
}

/** Runs `opa deps` for the entrypoint over a policy directory; undefined if it cannot tell. */
export function inputProjection(dir: string, entrypoint: string, opaBin = findOpa()): Promise<Projection | undefined> {
  const query = `data${entrypoint.split('/').map((seg) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`)).join('')}`;
  return new Promise((resolve) => {
    const child = spawn(opaBin, ['deps', '--format', 'json', '--ignore', '*_test.rego', '-d', dir, query], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      if (code !== 0) return resolve(undefined);
      try {
        resolve(projectionFromRefs((JSON.parse(out) as { base?: Term[][] }).base ?? []));
      } catch {
        resolve(undefined);
      }
    });
  });
}
