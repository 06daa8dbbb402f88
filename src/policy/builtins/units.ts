// units.parse and units.parse_bytes as OPA has them (topdown/parse_units.go, parse_bytes.go), in exact rational
// arithmetic: a decimal amount (exponent allowed) times an SI or binary unit.
import { RawJson, str, type Builtins } from '../wasm/builtin.js';

const K = 1000n;
const Ki = 1024n;
const SI = [1n, K, K ** 2n, K ** 3n, K ** 4n, K ** 5n, K ** 6n];
const BIN = [1n, Ki, Ki ** 2n, Ki ** 3n, Ki ** 4n, Ki ** 5n, Ki ** 6n];
const PREFIX = ['', 'k', 'm', 'g', 't', 'p', 'e'];

/** Amount and unit, split as OPA does (extractNumAndUnit): digits, ".", "+", "-", and an exponent of at most six
 *  digits make the amount; the rest is the unit. */
function split(s: string): [string, string] {
  const digit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!digit(c) && c !== '.' && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') return [s.slice(0, i), s.slice(i)];
    if (c === 'e' || c === 'E') {
      const next = s[i + 1];
      if (i === s.length - 1 || (!digit(next) && next !== '+' && next !== '-')) return [s.slice(0, i), s.slice(i)];
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (digit(s[end])) end++;
      if (end - (i + 1) > 6) throw new Error('exponent too large');
    }
  }
  return [s, ''];
}

/** A decimal string as a fraction n/d, or an error. */
function rational(num: string): [bigint, bigint] {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(num);
  if (!m || (m[2] === '' && !m[3])) throw new Error('could not parse amount to a number');
  const frac = m[3] ?? '';
  let n = BigInt((m[2] || '0') + frac) * (m[1] === '-' ? -1n : 1n);
  let d = 10n ** BigInt(frac.length);
  const e = Number(m[4] ?? 0);
  if (e > 0) n *= 10n ** BigInt(e);
  else if (e < 0) d *= 10n ** BigInt(-e);
  return [n, d];
}

/** n/d as OPA writes a big.Rat: an integer when it is one, else 10 decimals, rounded. */
function ratText(n: bigint, d: bigint): RawJson {
  if (n % d === 0n) return new RawJson((n / d).toString());
  const neg = n < 0n;
  const scaled = ((neg ? -n : n) * 10n ** 10n * 2n + d) / (2n * d);
  const s = scaled.toString().padStart(11, '0');
  return new RawJson(`${neg ? '-' : ''}${s.slice(0, -10)}.${s.slice(-10)}`);
}

function unitFactor(unit: string): [bigint, bigint] {
  if (unit === 'm') return [1n, 1000n];
  if (unit === '') return [1n, 1n];
  const u = unit.length > 1 ? unit[0]! + unit.slice(1).toLowerCase() : unit;
  const i = PREFIX.indexOf(u[0]!.toLowerCase());
  if (u.length === 1 && i > 0 && (u === u.toUpperCase() || u === 'k' || u === 'g' || u === 't' || u === 'p' || u === 'e')) return [SI[i]!, 1n];
  if (u.length === 2 && u[1] === 'i' && i > 0) return [BIN[i]!, 1n];
  throw new Error(`unit ${unit} not recognized`);
}

export const unitsBuiltins: Builtins = {
  'units.parse': ([x]) => {
    const s = str(x).replaceAll('"', '');
    if (s.includes(' ')) throw new Error('spaces not allowed in resource strings');
    const [num, unit] = split(s);
    if (num === '') throw new Error('no amount provided');
    const [un, ud] = unitFactor(unit);
    const [n, d] = rational(num);
    return ratText(n * un, d * ud);
  },
  'units.parse_bytes': ([x]) => {
    const s = str(x).toLowerCase().replaceAll('"', '');
    if (s.includes(' ')) throw new Error('spaces not allowed in resource strings');
    const [num, unit] = split(s);
    if (num === '') throw new Error('no byte amount provided');
    const i = PREFIX.indexOf(unit.replace(/i?b?$/, ''));
    const valid = unit === '' || (i > 0 && /^[kmgtpe](b|i|ib)?$/.test(unit));
    if (!valid) throw new Error(`byte unit ${unit} not recognized`);
    const factor = unit === '' ? 1n : unit.includes('i') ? BIN[i]! : SI[i]!;
    const [n, d] = rational(num);
    return new RawJson(((n * factor) / d).toString());
  },
};
