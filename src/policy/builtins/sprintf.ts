// `sprintf` as OPA has it: Go's fmt.Sprintf over the arguments converted as OPA converts them (integers as int64,
// numbers with a fraction or an exponent as float64, strings as strings, anything else as its Rego text).
import { arr, str, type Builtin } from '../wasm/builtin.js';
import { parseRego, regoText, type RegoValue } from '../wasm/rego-value.js';

type Arg = { kind: 'int'; v: bigint } | { kind: 'float'; v: number } | { kind: 'string'; v: string };

interface Spec {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  zero: boolean;
  space: boolean;
  width?: number;
  prec?: number;
}

export const sprintf: Builtin = (args, _ctx, raw, rego) => {
  const format = str(args[0]);
  const list = arr(args[1]);
  // The arguments' own JSON text tells an integer from a float (1 and 1.0 print differently).
  const texts = splitTopLevel(raw[1]!);
  let values: RegoValue[] | undefined;
  const converted: Arg[] = list.map((v, i) => toArg(v, texts[i], () => regoText((values ??= parseRego(rego(1)) as RegoValue[])[i]!)));
  return goSprintf(format, converted);
};

function toArg(v: unknown, text: string | undefined, regoText: () => string): Arg {
  if (typeof v === 'number') {
    const t = text ?? String(v);
    if (/[.eE]/.test(t)) return { kind: 'float', v };
    return { kind: 'int', v: BigInt(t) };
  }
  if (typeof v === 'string') return { kind: 'string', v };
  return { kind: 'string', v: regoText() };
}

/** The top-level elements' JSON text of a JSON array's text. */
function splitTopLevel(json: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 1;
  let inString = false;
  for (let i = 1; i < json.length - 1; i++) {
    const c = json[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(json.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = json.slice(start, json.length - 1).trim();
  if (last) out.push(last);
  return out;
}

function goSprintf(format: string, args: Arg[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; ) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    const spec: Spec = { plus: false, minus: false, sharp: false, zero: false, space: false };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '+') spec.plus = true;
      else if (f === '-') spec.minus = true;
      else if (f === '#') spec.sharp = true;
      else if (f === '0') spec.zero = true;
      else if (f === ' ') spec.space = true;
      else break;
    }
    let digits = '';
    while (i < format.length && /\d/.test(format[i]!)) digits += format[i++];
    if (digits) spec.width = Number(digits);
    if (format[i] === '.') {
      i++;
      let p = '';
      while (i < format.length && /\d/.test(format[i]!)) p += format[i++];
      spec.prec = p ? Number(p) : 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = format[i++]!;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[argi++]!, spec);
  }
  if (argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map((a) => `${typeName(a)}=${plain(a)}`).join(', ') + ')';
  }
  return out;
}

const typeName = (a: Arg) => (a.kind === 'int' ? (a.v >= -(2n ** 63n) && a.v < 2n ** 63n ? 'int64' : '*big.Int') : a.kind === 'float' ? 'float64' : 'string');
const plain = (a: Arg): string => (a.kind === 'int' ? a.v.toString() : a.kind === 'float' ? formatFloat(a.v, 'g', -1) : a.v);
const bad = (verb: string, a: Arg, spec: Spec) => `%!${verb}(${typeName(a)}=${formatOne('v', a, spec)})`;

function formatOne(verb: string, a: Arg, spec: Spec): string {
  return a.kind === 'int' ? formatInt(verb, a, spec) : a.kind === 'float' ? formatFloatArg(verb, a.v, spec) : formatString(verb, a, spec);
}

function formatInt(verb: string, a: Arg & { kind: 'int' }, spec: Spec): string {
  const neg = sign(a.v < 0n, spec);
  const digits = (radix: number) => precInt(abs(a.v).toString(radix), spec);
  switch (verb) {
    case 'v':
    case 'd':
      return pad(neg + digits(10), spec, true);
    case 'b':
      return pad(neg + (spec.sharp ? '0b' : '') + digits(2), spec, true);
    case 'o':
      return pad(neg + (spec.sharp ? '0' : '') + digits(8), spec, true);
    case 'O':
      return pad(neg + '0o' + digits(8), spec, true);
    case 'x':
    case 'X': {
      const body = (spec.sharp ? '0x' : '') + digits(16);
      return pad(neg + (verb === 'X' ? body.toUpperCase() : body), spec, true);
    }
    case 'c':
      return pad(rune(a.v), spec, false);
    case 'q':
      return pad(quoteRune(rune(a.v)), spec, false);
    case 'U':
      // Go prints the integer as a uint64: a negative one wraps around.
      return pad('U+' + BigInt.asUintN(64, a.v).toString(16).toUpperCase().padStart(spec.prec ?? 4, '0'), spec, false);
    default:
      return bad(verb, a, spec);
  }
}

function formatFloatArg(verb: string, v: number, spec: Spec): string {
  const neg = sign(v < 0 || Object.is(v, -0), spec);
  switch (verb) {
    case 'v':
      return pad(neg + formatFloat(Math.abs(v), 'g', spec.prec ?? -1), spec, true);
    case 'b':
      return pad(neg + binaryFloat(Math.abs(v)), spec, Number.isFinite(v));
    case 'x':
    case 'X': {
      const h = neg + hexFloat(Math.abs(v), spec.prec);
      return pad(verb === 'X' ? h.toUpperCase() : h, spec, Number.isFinite(v));
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      const prec = spec.prec ?? (verb === 'g' || verb === 'G' ? -1 : 6);
      const body = formatFloat(Math.abs(v), verb.toLowerCase() as 'e' | 'f' | 'g', prec);
      return pad(neg + (verb === 'E' || verb === 'G' ? body.toUpperCase() : body), spec, Number.isFinite(v));
    }
    default:
      return bad(verb, { kind: 'float', v }, spec);
  }
}

function formatString(verb: string, a: Arg & { kind: 'string' }, spec: Spec): string {
  switch (verb) {
    case 'v':
    case 's':
      return pad(spec.prec !== undefined ? [...a.v].slice(0, spec.prec).join('') : a.v, spec, false);
    case 'q':
      return pad(JSON.stringify(a.v), spec, false);
    case 'x':
    case 'X': {
      const h = Buffer.from(a.v, 'utf8').toString('hex');
      return pad(verb === 'X' ? h.toUpperCase() : h, spec, false);
    }
    default:
      return bad(verb, a, spec);
  }
}

const abs = (v: bigint) => (v < 0n ? -v : v);

/** An integer as a character; one that is not a Unicode scalar value is U+FFFD, as in Go. */
function rune(v: bigint): string {
  const n = Number(v);
  return v < 0n || v > 0x10ffffn || (n >= 0xd800 && n <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(n);
}

const ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', "'": "\\'", '\\': '\\\\' };

/** Go's strconv.QuoteRune: printable characters as they are, the rest escaped. */
function quoteRune(c: string): string {
  const cp = c.codePointAt(0)!;
  if (ESCAPES[c]) return `'${ESCAPES[c]}'`;
  if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]|\u0020/u.test(c)) return `'${c}'`;
  if (cp < 0x80) return `'\\x${cp.toString(16).padStart(2, '0')}'`;
  return cp < 0x10000 ? `'\\u${cp.toString(16).padStart(4, '0')}'` : `'\\U${cp.toString(16).padStart(8, '0')}'`;
}

function sign(negative: boolean, spec: Spec): string {
  return negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
}

function precInt(digits: string, spec: Spec): string {
  if (spec.prec === undefined) return digits;
  if (spec.prec === 0 && digits === '0') return '';
  return digits.padStart(spec.prec, '0');
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  const w = spec.width ?? 0;
  const len = [...s].length;
  if (len >= w) return s;
  if (spec.minus) return s + ' '.repeat(w - len);
  // Go pads strings with zeros too under the 0 flag; numbers keep their sign first, and not with a precision.
  if (spec.zero && !numeric) return '0'.repeat(w - len) + s;
  if (spec.zero && numeric && spec.prec === undefined) {
    const signed = /^[+\- ]/.test(s) ? 1 : 0;
    return s.slice(0, signed) + '0'.repeat(w - len) + s.slice(signed);
  }
  return ' '.repeat(w - len) + s;
}

/** Go's %b of a float: the mantissa as an integer and the power of two, "4503599627370496p-52". */
function binaryFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return 'Inf';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let exp = -1074;
  if (biased !== 0) {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  return `${mant}p${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
}

/** Go's %x of a float: 0x1.<hex mantissa>p±<exponent>, trailing zeros dropped (or rounded to prec hex digits). */
function hexFloat(v: number, prec: number | undefined): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return 'Inf';
  if (v === 0) return prec ? `0x0.${'0'.repeat(prec)}p+00` : '0x0p+00';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  let exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp === 0) {
    // Subnormal: normalise so that the leading digit is 1, as Go does.
    exp = 1;
    while (!(mant & (1n << 52n))) {
      mant <<= 1n;
      exp--;
    }
    mant &= (1n << 52n) - 1n;
  }
  exp -= 1023;
  let digits = mant.toString(16).padStart(13, '0');
  let lead = 1;
  if (prec !== undefined && prec < 13) {
    const shift = BigInt((13 - prec) * 4);
    let m = (mant | (1n << 52n)) >> (shift - 1n);
    m = (m + 1n) >> 1n; // round half up, as strconv does on the bits it drops (ties aside)
    if (m >> BigInt(prec * 4) >= 2n) {
      m >>= 1n;
      exp++;
    }
    lead = Number(m >> BigInt(prec * 4));
    digits = prec ? (m & ((1n << BigInt(prec * 4)) - 1n)).toString(16).padStart(prec, '0') : '';
  } else {
    digits = prec === undefined ? digits.replace(/0+$/, '') : digits.padEnd(prec, '0');
  }
  const e = `${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return `0x${lead}${digits ? '.' + digits : ''}p${e}`;
}

/** Go's strconv.FormatFloat for 'e', 'f' and 'g' (prec -1: the shortest that reads back the same). */
function formatFloat(v: number, verb: 'e' | 'f' | 'g', prec: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  // toFixed turns to exponents from 1e21; such doubles are whole numbers, written out exactly as Go does.
  if (verb === 'f' && prec >= 0 && Math.abs(v) >= 1e21) return BigInt(v).toString() + (prec ? '.' + '0'.repeat(prec) : '');
  if (verb === 'f') return prec < 0 ? shortestFixed(v) : v.toFixed(Math.min(prec, 100));
  if (verb === 'e') return goExp(prec < 0 ? v.toExponential() : v.toExponential(Math.min(prec, 100)));
  // 'g' (Go's strconv): %e when the exponent is < -4 or >= the precision (6 when shortest), else %f, with no
  // trailing zeros either way.
  const shortest = prec < 0;
  const p = prec === 0 ? 1 : prec;
  const e = shortest ? v.toExponential() : trimZerosExp(v.toExponential(p - 1));
  const exp = Number(e.slice(e.indexOf('e') + 1));
  const nd = e.slice(0, e.indexOf('e')).replace('.', '').length;
  let eprec = shortest ? 6 : p;
  if (!shortest && eprec > nd && nd >= exp + 1) eprec = nd;
  if (exp < -4 || exp >= eprec) return goExp(e);
  return shortest ? shortestFixed(v) : trimZeros(v.toFixed(Math.max(0, p - 1 - exp)));
}

function shortestFixed(v: number): string {
  const s = String(v);
  if (!/e/.test(s)) return s;
  // String() switches to exponents at 1e21 and 1e-7; write the digits out.
  const [m, e] = s.split('e') as [string, string];
  const exp = Number(e);
  const [int, frac = ''] = m.split('.') as [string, string?];
  const digits = int + frac;
  if (exp > 0) return digits + '0'.repeat(Math.max(0, exp - frac.length));
  return '0.' + '0'.repeat(-exp - 1) + digits;
}

const trimZeros = (s: string) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
const trimZerosExp = (s: string) => {
  const [m, e] = s.split('e') as [string, string];
  return `${trimZeros(m)}e${e}`;
};

/** JavaScript's exponent ("1e+21", "1.5e-7") as Go writes it: at least two digits ("1e+21", "1.5e-07"). */
function goExp(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}
