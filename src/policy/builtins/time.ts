// time.* as OPA has them (topdown/time.go): nanoseconds since the epoch as exact integers, one clock per evaluation,
// Go's RFC 3339 and duration syntax, and a time zone given as [ns, "Area/City"] (IANA names, "" and "UTC").
import { RawJson, bigintArg, str, type Builtin, type Builtins } from '../wasm/builtin.js';
import { formatGo, parseGo, type CivilTime } from './go-time.js';
import { zoneAbbreviation } from './tz-abbrev.js';

const NS_PER_MS = 1_000_000n;
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;

function safe(ns: bigint): RawJson {
  if (ns < MIN_NS || ns > MAX_NS) throw new Error('time outside of valid range');
  return new RawJson(ns.toString());
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Go's time.Parse(time.RFC3339, s): fractional seconds optional, "Z" or a ±hh:mm offset. */
function parseRfc3339Ns(s: string): bigint {
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
function parseDurationNs(s: string): bigint {
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

interface Civil extends CivilTime {
  weekday: number;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** A time argument as OPA's tzTime reads it: ns, or [ns], [ns, zone] or [ns, zone, layout]; ns a whole number. */
function timeArg(arg: unknown, raw: string | undefined): { ns: bigint; zone: string; layout: string } {
  if (Array.isArray(arg)) {
    if (arg.length === 0 || typeof arg[0] !== 'number') throw new Error('either number (ns) or [number (ns), string (tz)]');
    if (arg.length > 1 && typeof arg[1] !== 'string') throw new Error('the time zone must be a string');
    if (arg.length > 2 && typeof arg[2] !== 'string') throw new Error('the layout must be a string');
    const zone = arg.length > 1 ? (arg[1] as string) : '';
    return { ns: wholeNs(firstElement(raw)), zone: zone === '' ? 'UTC' : zone, layout: arg.length > 2 ? (arg[2] as string) : '' };
  }
  if (typeof arg !== 'number') throw new Error('either number (ns) or [number (ns), string (tz)]');
  return { ns: wholeNs(raw), zone: 'UTC', layout: '' };
}

/** OPA reads the nanoseconds as a float converted exactly to int64, else "timestamp too big". */
function wholeNs(raw: string | undefined): bigint {
  const n = bigintArg(raw);
  if (raw !== undefined && !/^-?\d+$/.test(raw) && !Number.isInteger(Number(raw))) throw new Error('timestamp too big');
  return n;
}

/** The zone's offset from UTC at an instant, in ms ("Local" is the machine's zone, as in OPA). */
function offsetMs(ms: number, zone: string): number {
  if (zone === 'UTC') return 0;
  const c = civilAt(ms, zone);
  return Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second) - (ms - (((ms % 1000) + 1000) % 1000));
}

function civilAt(ms: number, zone: string): Civil {
  if (zone === 'UTC') {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
  }
  let f = zoneFormats.get(zone);
  if (!f) {
    const timeZone = zone === 'Local' ? undefined : zone;
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', era: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'long' });
    zoneFormats.set(zone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const year = parts.era === 'BC' ? 1 - Number(parts.year) : Number(parts.year);
  return { year, month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second), weekday: WEEKDAYS.indexOf(parts.weekday!) };
}

/** The first element's JSON text of an array's JSON text ([ns, "zone", ...]). */
function firstElement(raw: string | undefined): string {
  const m = /^\[\s*(-?[0-9.eE+-]+)\s*[,\]]/.exec(raw ?? '');
  if (!m) throw new Error('expected [ns, zone]');
  return m[1]!;
}

const floorMs = (ns: bigint) => Number(ns / NS_PER_MS) - (ns % NS_PER_MS < 0n ? 1 : 0);

/** The civil time of a time argument in its zone. */
function civil(arg: unknown, raw: string | undefined): Civil {
  const { ns, zone } = timeArg(arg, raw);
  return civilAt(floorMs(ns), zone);
}

/** Go's time.Date in a zone: the civil time normalised, then the zone's offset as Go resolves it. */
function instantOf(y: number, mo: number, d: number, h: number, mi: number, s: number, subMsNs: bigint, zone: string): bigint {
  const asUtc = new Date(0);
  asUtc.setUTCFullYear(y, mo - 1, d);
  asUtc.setUTCHours(h, mi, s, 0);
  const local = asUtc.getTime();
  let off = offsetMs(local, zone);
  const off2 = offsetMs(local - off, zone);
  if (off2 !== off) off = off2;
  return BigInt(local - off) * NS_PER_MS + subMsNs;
}

const addDate: Builtin = ([t, y, m, d], _c, raw) => {
  const { ns, zone } = timeArg(t, raw[0]);
  for (const v of [y, m, d]) if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error('operands must be integers');
  const c = civilAt(floorMs(ns), zone);
  const sub = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return safe(instantOf(c.year + (y as number), c.month + (m as number), c.day + (d as number), c.hour, c.minute, c.second, sub, zone));
};

/** time.diff as OPA computes it: [years, months, days, hours, minutes, seconds] between two times, in the first's zone. */
const diff: Builtin = ([a, b], _c, raw) => {
  const t1 = timeArg(a, raw[0]);
  const t2 = timeArg(b, raw[1]);
  let [x, y] = [t1.ns, t2.ns];
  if (x > y) [x, y] = [y, x];
  const c1 = civilAt(floorMs(x), t1.zone);
  const c2 = civilAt(floorMs(y), t1.zone);
  let year = c2.year - c1.year;
  let month = c2.month - c1.month;
  let day = c2.day - c1.day;
  let hour = c2.hour - c1.hour;
  let min = c2.minute - c1.minute;
  let sec = c2.second - c1.second;
  if (sec < 0) (sec += 60), min--;
  if (min < 0) (min += 60), hour--;
  if (hour < 0) (hour += 24), day--;
  if (day < 0) {
    // Go: the days of c1's month, found as 32 minus the day that "the 32nd" of it lands on.
    const t = new Date(Date.UTC(2000, 0, 1));
    t.setUTCFullYear(c1.year, c1.month - 1, 32);
    day += 32 - t.getUTCDate();
    month--;
  }
  if (month < 0) (month += 12), year--;
  return [year, month, day, hour, min, sec];
};

const date: Builtin = ([t], _c, raw) => {
  const c = civil(t, raw[0]);
  return [c.year, c.month, c.day];
};
const clock: Builtin = ([t], _c, raw) => {
  const c = civil(t, raw[0]);
  return [c.hour, c.minute, c.second];
};

// OPA's names for Go's predefined layouts.
const LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
};

const format: Builtin = ([t], _c, raw) => {
  const { ns, zone, layout } = timeArg(t, raw[0]);
  const ms = floorMs(ns);
  const c = civilAt(ms, zone);
  const offset = offsetMs(ms, zone) / 1000;
  const yearDay = Math.round((Date.UTC(c.year, c.month - 1, c.day) - Date.UTC(c.year, 0, 1)) / 86_400_000) + 1;
  const nanos = Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  const fields = { ...c, nanos, yearDay, offset, abbrev: zoneAbbreviation(zone, ms, offset) };
  return formatGo(LAYOUTS[layout || 'RFC3339Nano'] ?? layout, fields);
};

const parseNs: Builtin = ([l, v]) => {
  const layout = str(l);
  const p = parseGo(LAYOUTS[layout] ?? layout, str(v));
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, 0);
  return safe(BigInt(d.getTime()) * NS_PER_MS + BigInt(p.nanos) - BigInt(p.offset) * 1_000_000_000n);
};

export const timeBuiltins: Builtins = {
  'time.now_ns': (_a, ctx) => safe(ctx.now()),
  'time.parse_rfc3339_ns': ([s]) => safe(parseRfc3339Ns(str(s))),
  'time.parse_duration_ns': ([s]) => new RawJson(parseDurationNs(str(s)).toString()),
  'time.date': date,
  'time.clock': clock,
  'time.weekday': ([t], _c, raw) => WEEKDAYS[civil(t, raw[0]).weekday],
  'time.add_date': addDate,
  'time.format': format,
  'time.parse_ns': parseNs,
  'time.diff': diff,
};
