// The decision cache's key for an input. The projected input's JSON (about 600 bytes) written, hashed and compared
// on every check cost about 8 µs under load (bench/README.md); most of it is the caller's context (identity,
// tenant, groups, limits), which comes from caches as the same objects request after request. So the parts of
// the input that are such objects (`stable`: never changed once made) are keyed by identity, through a chain of
// WeakMaps to a small number, and only the rest of the projected input (the request's own parts) is written.
// Two inputs with the same key have the same projected input: the same objects, and the same JSON for the rest.
// An object seen for the first time (a context just loaded, an input from a log) only misses.
import { project, type Projection } from './deps.js';

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
  /** The projection without them: what is written per input. */
  private readonly rest: Projection;
  private readonly root = new Node(0);
  private readonly ids = { n: 0 };

  constructor(projection: Projection, stableKeys: readonly string[]) {
    this.stable = stableKeys.filter((k) => Object.hasOwn(projection, k));
    this.rest = Object.fromEntries(Object.entries(projection).filter(([k]) => !this.stable.includes(k)));
  }

  key(input: unknown): string {
    const rest = JSON.stringify(project(input, this.rest)) ?? 'null';
    if (this.stable.length === 0) return rest;
    const src = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    let node = this.root;
    for (const k of this.stable) node = node.next(src[k], this.ids);
    return `${node.id} ${rest}`;
  }
}
