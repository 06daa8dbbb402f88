// json.patch as OPA applies it (topdown/json.go over its edit tree): RFC 6902 operations on Rego values, sets
// included (a set member is added under a key equal to itself), JSON-pointer or array paths, "-" for an array's end.
import { RegoText, type Builtins } from '../wasm/builtin.js';
import { RegoSet, parseRego, regoEqual, regoText, type RegoValue } from '../wasm/rego-value.js';

type Key = RegoValue;
type Obj = Record<string, RegoValue>;
const isObj = (v: RegoValue): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RegoSet);

/** OPA's parsePath: "" is the whole document; a pointer's segments with ~1 and ~0 undone; or an array of keys. */
function pathOf(v: RegoValue | undefined): Key[] {
  if (typeof v === 'string') {
    if (v === '') return [];
    return v.replace(/^\/+/, '').split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  }
  if (Array.isArray(v)) return v;
  throw new Error('path must be a string or an array');
}

/** OPA's toIndex: a number, "-" for the end, or digits without leading zeros. */
function index(length: number, key: Key): number {
  if (typeof key === 'number') {
    if (!Number.isInteger(key)) throw new Error('invalid number type for indexing');
    return key;
  }
  if (typeof key !== 'string') throw new Error('invalid type for indexing');
  if (key === '-') return length;
  if (!/^-?\d+$/.test(key)) throw new Error('invalid string for indexing');
  if (key !== '0' && key.startsWith('0')) throw new Error('leading zeros are not allowed in JSON paths');
  return Number(key);
}

/** The child at `key`, or an error where OPA's Unfold has one. */
function child(node: RegoValue, key: Key): RegoValue {
  if (isObj(node)) {
    if (typeof key === 'string' && Object.hasOwn(node, key)) return node[key]!;
    throw new Error('path does not exist in object');
  }
  if (node instanceof RegoSet) {
    const found = node.items.find((x) => regoEqual(x, key));
    if (found === undefined) throw new Error('path does not exist in set');
    return found;
  }
  if (Array.isArray(node)) {
    const i = index(node.length, key);
    if (i < 0 || i >= node.length) throw new Error('index out of bounds');
    return node[i]!;
  }
  throw new Error('expected a composite value');
}

/** A copy of `node` with `edit` applied at `path` (the parent of the last key is edited in place of its copy). */
function at(node: RegoValue, path: Key[], edit: (parent: RegoValue, key: Key) => RegoValue): RegoValue {
  if (path.length === 1) return edit(node, path[0]!);
  const [key, ...rest] = path;
  const updated = at(child(node, key!), rest, edit);
  return replaceChild(node, key!, updated);
}

function replaceChild(node: RegoValue, key: Key, value: RegoValue): RegoValue {
  if (isObj(node)) return { ...node, [key as string]: value };
  if (node instanceof RegoSet) return new RegoSet([...node.items.filter((x) => !regoEqual(x, key)), value]);
  const copy = [...(node as RegoValue[])];
  copy[index(copy.length, key)] = value;
  return copy;
}

function insert(parent: RegoValue, key: Key, value: RegoValue): RegoValue {
  if (isObj(parent)) {
    if (typeof key !== 'string') throw new Error('object keys must be strings here');
    return { ...parent, [key]: value };
  }
  if (parent instanceof RegoSet) {
    if (!regoEqual(key, value)) throw new Error('set key does not equal value to be inserted');
    return new RegoSet([...parent.items.filter((x) => !regoEqual(x, key)), value]);
  }
  if (Array.isArray(parent)) {
    const i = index(parent.length, key);
    if (i < 0 || i > parent.length) throw new Error('index for array insertion out of bounds');
    return [...parent.slice(0, i), value, ...parent.slice(i)];
  }
  throw new Error('expected composite type');
}

function remove(parent: RegoValue, key: Key): RegoValue {
  if (isObj(parent)) {
    if (typeof key !== 'string' || !Object.hasOwn(parent, key)) throw new Error('cannot delete child key that does not exist');
    const { [key]: _gone, ...rest } = parent;
    return rest;
  }
  if (parent instanceof RegoSet) {
    if (!parent.items.some((x) => regoEqual(x, key))) throw new Error('cannot delete child key that does not exist');
    return new RegoSet(parent.items.filter((x) => !regoEqual(x, key)));
  }
  if (Array.isArray(parent)) {
    const i = index(parent.length, key);
    if (i < 0 || i > parent.length - 1) throw new Error('index for array delete out of bounds');
    return [...parent.slice(0, i), ...parent.slice(i + 1)];
  }
  throw new Error('expected composite type');
}

/** The document after its root was removed: only a value put at the root revives it (OPA's edit tree). */
const DELETED = Symbol('deleted');
type Doc = RegoValue | typeof DELETED;
const live = (doc: Doc): RegoValue => {
  if (doc === DELETED) throw new Error('deleted node encountered');
  return doc;
};

const render = (doc: Doc, path: Key[]): RegoValue => path.reduce(child, live(doc));
const put = (doc: Doc, path: Key[], value: RegoValue): Doc => (path.length ? at(live(doc), path, (p, k) => insert(p, k, value)) : value);
const drop = (doc: Doc, path: Key[]): Doc => (path.length ? at(live(doc), path, remove) : (live(doc), DELETED));

function apply(doc: Doc, op: RegoValue): Doc {
  if (!isObj(op)) throw new Error('must be an array of JSON-Patch objects');
  if (!('path' in op)) throw new Error("missing required attribute 'path'");
  if (!('op' in op)) throw new Error("missing required attribute 'op'");
  if (typeof op.op !== 'string') throw new Error("attribute 'op' must be a string");
  const path = pathOf(op.path);
  const value = () => {
    if (!('value' in op)) throw new Error("missing required attribute 'value'");
    return op.value!;
  };
  const from = () => {
    if (!('from' in op)) throw new Error("missing required attribute 'from'");
    return pathOf(op.from);
  };
  switch (op.op) {
    case 'add':
      return put(doc, path, value());
    case 'remove':
      return drop(doc, path);
    case 'replace':
      return put(drop(doc, path), path, value());
    case 'move': {
      const f = from();
      const chunk = render(doc, f);
      return put(drop(doc, f), path, chunk);
    }
    case 'copy':
      return put(doc, path, render(doc, from()));
    case 'test':
      if (!regoEqual(render(doc, path), value())) throw new Error('value from EditTree != patch value');
      return doc;
    default:
      throw new Error(`unrecognized op: '${op.op}'`);
  }
}

export const jsonPatchBuiltins: Builtins = {
  'json.patch': (_a, _c, _r, rego) => {
    const ops = parseRego(rego(1));
    if (!Array.isArray(ops)) throw new Error('operand 2 must be an array');
    // A document left deleted at the end makes OPA itself fail; here it is undefined.
    return new RegoText(regoText(live(ops.reduce<Doc>(apply, parseRego(rego(0))))));
  },
};
