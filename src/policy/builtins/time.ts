// time.* as OPA has them (topdown/time.go): nanoseconds since the epoch as exact integers, one clock per evaluation,
// Go's RFC 3339 and duration syntax, and a time zone given as [ns, "Area/City"] (IANA names, "" and "UTC").
import { RawJson, bigintArg, str, type Builtin, type Builtins } from '../wasm/builtin.js';

const NS_PER_MS = 1_000_000n;
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;

function safe(ns: bigint): RawJson {
  if (ns < MIN_NS || ns > MAX_NS) throw new Error('time outside of valid range');
  return new RawJson(ns.toString());
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Go's time.Parse(time.RFC3339, s): fractional seconds optional, "Z" or a ±hh:mm offset. */
export function parseRfc3339Ns(s: string): bigint {
  const m = RFC3339.exec(s);
  if (!m) throw new Error(`cannot parse ${JSON.stringify(s)} as RFC 3339`);
  const [, y, mo, d, h, mi, se, frac = '', zone] = m as unknown as string[];
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(Number(y), month) || Number(h) > 23 || Number(mi) > 59 || Number(se) > 59) {
    throw new Error('time out of range');
  }
  let ms = BigInt(Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(se)));
  if (Number(y) < 100) ms = BigInt(new Date(0).setUTCFullYear(Number(y), month - 1, day)) + BigInt(((Number(h) * 60 + Number(mi)) * 60 + Number(se)) * 1000);
  let ns = ms * NS_PER_MS + BigInt(frac.padEnd(9, '0') || '0');
  if (zone !== 'Z') {
    const sign = zone![0] === '-' ? -1n : 1n;
    const oh = Number(zone!.slice(1, 3));
    const om = Number(zone!.slice(4, 6));
    if (oh > 23 || om > 59) throw new Error('time zone offset out of range');
    ns -= sign * BigInt((oh * 60 + om) * 60) * 1_000_000_000n;
  }
  return ns;
}

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
  y: 31_536_000_000_000_000n,
};

/** Go's time.ParseDuration, with OPA's d, w and y (24 h, 7 d, 365 d). */
export function parseDurationNs(s: string): bigint {
  if (s === '') throw new Error('invalid duration');
  let rest = s;
  let sign = 1n;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1n;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw new Error('invalid duration');
  let total = 0n;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h|d|w|y)/;
  while (rest) {
    const m = re.exec(rest);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw new Error('invalid duration');
    const unit = UNITS[m[3]!]!;
    const frac = m[2] ?? '';
    total += BigInt(m[1] || '0') * unit + (frac ? (BigInt(frac) * unit) / 10n ** BigInt(frac.length) : 0n);
    rest = rest.slice(m[0].length);
  }
  const v = sign * total;
  if (v < MIN_NS || v > MAX_NS) throw new Error('invalid duration');
  return v;
}

interface Civil {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** The civil time of ns (or [ns, zone]) in UTC or in the named IANA zone. */
function civil(arg: unknown, raw: string | undefined): Civil {
  let ns: bigint;
  let zone = 'UTC';
  if (Array.isArray(arg)) {
    if (arg.length !== 2 || typeof arg[1] !== 'string') throw new Error('expected [ns, zone]');
    ns = bigintArg(firstElement(raw));
    zone = arg[1] === '' ? 'UTC' : arg[1];
  } else ns = bigintArg(raw);
  const ms = Number(ns / NS_PER_MS) - (ns % NS_PER_MS < 0n ? 1 : 0);
  if (zone === 'UTC') {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
  }
  let f = zoneFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'long' });
    zoneFormats.set(zone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday!),
  };
}

/** The first element's JSON text of a two-element array's JSON text ([ns, "zone"]). */
function firstElement(raw: string | undefined): string {
  const m = /^\[\s*(-?[0-9.eE+-]+)\s*,/.exec(raw ?? '');
  if (!m) throw new Error('expected [ns, zone]');
  return m[1]!;
}

const date: Builtin = ([t], _c, raw) => {
  const c = civil(t, raw[0]);
  return [c.year, c.month, c.day];
};
const clock: Builtin = ([t], _c, raw) => {
  const c = civil(t, raw[0]);
  return [c.hour, c.minute, c.second];
};

export const timeBuiltins: Builtins = {
  'time.now_ns': (_a, ctx) => safe(ctx.now()),
  'time.parse_rfc3339_ns': ([s]) => safe(parseRfc3339Ns(str(s))),
  'time.parse_duration_ns': ([s]) => new RawJson(parseDurationNs(str(s)).toString()),
  'time.date': date,
  'time.clock': clock,
  'time.weekday': ([t], _c, raw) => WEEKDAYS[civil(t, raw[0]).weekday],
};
