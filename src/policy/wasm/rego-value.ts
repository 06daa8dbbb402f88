// Rego values as OPA prints them (the WASM module's opa_value_dump): JSON, plus sets ("{1, 2}", "set()"). A set is a
// RegoSet here, so builtins that treat sets and arrays differently can tell them apart; regoText writes a value as
// OPA's Go code does (object keys and set members in OPA's order), which is what sprintf prints for a non-string.
import { dataObject } from '../../util/data-object.js';

export class RegoSet {
  constructor(readonly items: RegoValue[]) {}
}

export type RegoValue = null | boolean | number | string | RegoValue[] | { [k: string]: RegoValue } | RegoSet;

/** Parses the text of opa_value_dump. Numbers keep their JSON reading; the text is trusted (the module wrote it). */
export function parseRego(text: string): RegoValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (): RegoValue => {
    ws();
    const c = text[i];
    if (c === '[') {
      i++;
      const out: RegoValue[] = [];
      ws();
      if (text[i] === ']') return i++, out;
      for (;;) {
        out.push(value());
        ws();
        if (text[i++] === ']') return out;
      }
    }
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return i++, {};
      const first = value();
      ws();
      if (text[i] === ':') {
        const obj = dataObject<RegoValue>();
        i++;
        obj[String(first)] = value();
        for (;;) {
          ws();
          if (text[i++] === '}') return obj;
          const k = value();
          ws();
          i++; // ':'
          obj[String(k)] = value();
        }
      }
      const items = [first];
      for (;;) {
        ws();
        if (text[i++] === '}') return new RegoSet(items);
        items.push(value());
      }
    }
    if (text.startsWith('set()', i)) return (i += 5), new RegoSet([]);
    const m = /^(?:"(?:[^"\\]|\\.)*"|true|false|null|-?[0-9][0-9.eE+-]*)/.exec(text.slice(i));
    if (!m) throw new Error('unreadable Rego value');
    i += m[0].length;
    return JSON.parse(m[0]) as RegoValue;
  };
  return value();
}

const RANK = (v: RegoValue): number =>
  v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : typeof v === 'string' ? 3 : Array.isArray(v) ? 4 : v instanceof RegoSet ? 6 : 5;

/** OPA's order of values (ast.Compare): by type, then by value. */
function compareRego(a: RegoValue, b: RegoValue): number {
  const ra = RANK(a);
  const rb = RANK(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'boolean' || typeof a === 'number') return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
  if (typeof a === 'string') return a === b ? 0 : a < (b as string) ? -1 : 1;
  if (a === null) return 0;
  if (Array.isArray(a)) return compareLists(a, b as RegoValue[]);
  if (a instanceof RegoSet) return compareLists(sortedItems(a), sortedItems(b as RegoSet));
  const ak = Object.keys(a).sort();
  const bo = b as Record<string, RegoValue>;
  const bk = Object.keys(bo).sort();
  for (let i = 0; i < Math.min(ak.length, bk.length); i++) {
    const c = compareRego(ak[i]!, bk[i]!) || compareRego((a as Record<string, RegoValue>)[ak[i]!]!, bo[bk[i]!]!);
    if (c) return c;
  }
  return ak.length - bk.length;
}

function compareLists(a: RegoValue[], b: RegoValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareRego(a[i]!, b[i]!);
    if (c) return c;
  }
  return a.length - b.length;
}

const sortedItems = (s: RegoSet) => [...s.items].sort(compareRego);

export const regoEqual = (a: RegoValue, b: RegoValue): boolean => compareRego(a, b) === 0;

/** A value as OPA's Go code prints it (ast.Value.String()). */
export function regoText(v: RegoValue): string {
  if (Array.isArray(v)) return `[${v.map(regoText).join(', ')}]`;
  if (v instanceof RegoSet) return v.items.length ? `{${sortedItems(v).map(regoText).join(', ')}}` : 'set()';
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}: ${regoText(v[k]!)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}
