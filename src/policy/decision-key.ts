// The decision cache's key for an input. The projected input's JSON (about 600 bytes) written, hashed and compared
// on every check cost about 8 µs under load (bench/README.md); most of it is the caller's context (identity,
// tenant, groups, limits), which comes from caches as the same objects request after request. So the parts of
// the input that are such objects (`stable`: never changed once made) are keyed by identity, through a chain of
// WeakMaps to a small number, and only the rest of the projected input (the request's own parts) is written: as
// the values at the projection's leaves, without the objects and key names around them.
// Two inputs with the same key have the same projected input: the same objects, and the same JSON for the rest.
// An object seen for the first time (a context just loaded, an input from a log) only misses.
import type { Projection } from './deps.js';

class Node {
  private objects: WeakMap<object, Node> | undefined;
  private values: Map<unknown, Node> | undefined;
  constructor(readonly id: number) {}

  next(v: unknown, ids: { n: number }): Node {
    if (typeof v === 'object' && v !== null) {
      const m = (this.objects ??= new WeakMap());
      let n = m.get(v);
      if (!n) m.set(v, (n = new Node(++ids.n)));
      return n;
    }
    // Primitives (null, or a value where an object was expected) by value; they are few.
    const m = (this.values ??= new Map());
    let n = m.get(v);
    if (!n) m.set(v, (n = new Node(++ids.n)));
    return n;
  }
}

export class DecisionKeys {
  /** The stable top-level keys the projection reads, in order. */
  private readonly stable: string[];
  /** The paths to the leaves of the projection without them: what is written per input. */
  private readonly leaves: string[][];
  private readonly root = new Node(0);
  private readonly ids = { n: 0 };

  constructor(projection: Projection, stableKeys: readonly string[]) {
    this.stable = stableKeys.filter((k) => Object.hasOwn(projection, k));
    this.leaves = leavesOf(Object.fromEntries(Object.entries(projection).filter(([k]) => !this.stable.includes(k))), []);
  }

  key(input: unknown): string {
    const rest = this.rest(input);
    if (this.stable.length === 0) return rest;
    const src = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    let node = this.root;
    for (const k of this.stable) node = node.next(src[k], this.ids);
    return `${node.id} ${rest}`;
  }

  /**
   * Per leaf, where its path ends and the value there, in one JSON array: [depth, value] where the path reaches
   * a value that project() (deps.ts) keeps whole (the leaf, or something not an object on the way), and [-1 - depth,
   * 0] where a key is missing (project() leaves it out). The same pairs build the same projected input.
   */
  private rest(input: unknown): string {
    const out: unknown[] = [];
    for (const path of this.leaves) {
      let v = input;
      let d = 0;
      for (; d < path.length; d++) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) break;
        const k = path[d]!;
        v = k === '__proto__' ? (Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined) : (v as Record<string, unknown>)[k];
        if (v === undefined) break;
      }
      // What JSON leaves out (a function, a symbol) is missing too.
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') out.push(-1 - d, 0);
      else out.push(d, v);
    }
    return JSON.stringify(out);
  }
}

function leavesOf(tree: Projection, at: string[]): string[][] {
  const out: string[][] = [];
  for (const key in tree) {
    const sub = tree[key]!;
    if (sub === true) out.push([...at, key]);
    else out.push(...leavesOf(sub, [...at, key]));
  }
  return out;
}
