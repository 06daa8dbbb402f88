// The decision cache's key for an input. The projected input's JSON (about 600 bytes) written, hashed and compared
// on every check cost about 8 µs under load (bench/README.md); most of it is the caller's context (identity,
// tenant, groups, limits), which comes from caches as the same objects request after request. So each of the
// input's parts that are such objects (`stable`: never changed once made) is written as a number: the id of its
// projected content, found once per object (a WeakMap) and shared by every object with the same content (an LRU
// from content to id; ids are never reused). The rest of the projected input (the request's own parts) is written
// as the values at the projection's leaves. Two inputs with the same key have the same projected input.
import { LRUCache } from 'lru-cache';
import { project, type Projection } from './deps.js';

export class DecisionKeys {
  /** The stable top-level keys the projection reads, in order, with what it reads of each. */
  private readonly stable: [string, Projection | true][];
  /** The paths to the leaves of the projection without them: what is written per input. */
  private readonly leaves: string[][];
  /** Per stable key: the content id of each object seen there. */
  private readonly seen: WeakMap<object, number>[];
  private readonly ids = new LRUCache<string, number>({ max: 10_000 });
  private next = 0;

  constructor(projection: Projection, stableKeys: readonly string[]) {
    this.stable = stableKeys.filter((k) => Object.hasOwn(projection, k)).map((k) => [k, projection[k]!]);
    this.seen = this.stable.map(() => new WeakMap());
    this.leaves = leavesOf(Object.fromEntries(Object.entries(projection).filter(([k]) => !stableKeys.includes(k))), []);
  }

  key(input: unknown): string {
    const rest = this.rest(input);
    if (this.stable.length === 0) return rest;
    const src = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    // An object as its content id (from 1); missing (or what JSON leaves out) 0; anything else by value, in an
    // array of its own.
    const parts: unknown[] = [];
    for (let i = 0; i < this.stable.length; i++) {
      const v = src[this.stable[i]![0]];
      parts.push(typeof v === 'object' && v !== null ? this.idOf(i, v) : v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 0 : [v]);
    }
    return JSON.stringify(parts) + rest;
  }

  private idOf(i: number, v: object): number {
    let id = this.seen[i]!.get(v);
    if (id === undefined) {
      const sub = this.stable[i]![1];
      const json = JSON.stringify(sub === true ? v : project(v, sub)) ?? '';
      id = this.ids.get(json);
      if (id === undefined) this.ids.set(json, (id = ++this.next));
      this.seen[i]!.set(v, id);
    }
    return id;
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
