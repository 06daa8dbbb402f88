// Go's time layouts ("2006-01-02T15:04:05Z07:00"), as time.format and time.parse_ns read them: the layout split
// into Go's std chunks (its nextStdChunk), a time written with them, and a text read with them.

export type Chunk =
  | { lit: string }
  | { std: 'LongMonth' | 'Month' | 'NumMonth' | 'ZeroMonth' | 'LongWeekDay' | 'WeekDay' | 'Day' | 'UnderDay' | 'ZeroDay' | 'UnderYearDay' | 'ZeroYearDay' }
  | { std: 'Hour' | 'Hour12' | 'ZeroHour12' | 'Minute' | 'ZeroMinute' | 'Second' | 'ZeroSecond' | 'LongYear' | 'Year' | 'PM' | 'pm' | 'TZ' }
  | { std: 'ISO8601TZ' | 'ISO8601SecondsTZ' | 'ISO8601ShortTZ' | 'ISO8601ColonTZ' | 'ISO8601ColonSecondsTZ' }
  | { std: 'NumTZ' | 'NumSecondsTz' | 'NumShortTZ' | 'NumColonTZ' | 'NumColonSecondsTZ' }
  | { std: 'Frac'; digits: number; trim: boolean; sep: string };

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const startsLower = (s: string) => s.length > 0 && s[0]! >= 'a' && s[0]! <= 'z';

/** Go's nextStdChunk, over the whole layout. */
export function chunks(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let lit = '';
  const push = (c: Chunk, skip: number, i: { v: number }) => {
    if (lit) out.push({ lit });
    lit = '';
    out.push(c);
    i.v += skip;
  };
  const at = (i: number, s: string) => layout.startsWith(s, i);
  for (const i = { v: 0 }; i.v < layout.length; ) {
    const p = i.v;
    const c = layout[p]!;
    if (c === 'J' && at(p, 'Jan')) {
      if (at(p, 'January')) push({ std: 'LongMonth' }, 7, i);
      else if (!startsLower(layout.slice(p + 3))) push({ std: 'Month' }, 3, i);
      else (lit += c), i.v++;
    } else if (c === 'M' && at(p, 'Mon')) {
      if (at(p, 'Monday')) push({ std: 'LongWeekDay' }, 6, i);
      else if (!startsLower(layout.slice(p + 3))) push({ std: 'WeekDay' }, 3, i);
      else (lit += c), i.v++;
    } else if (c === 'M' && at(p, 'MST')) push({ std: 'TZ' }, 3, i);
    else if (c === '0' && layout[p + 1]! >= '1' && layout[p + 1]! <= '6') {
      push({ std: (['ZeroMonth', 'ZeroDay', 'ZeroHour12', 'ZeroMinute', 'ZeroSecond', 'Year'] as const)[Number(layout[p + 1]) - 1]! }, 2, i);
    } else if (c === '0' && at(p, '002')) push({ std: 'ZeroYearDay' }, 3, i);
    else if (c === '1') at(p, '15') ? push({ std: 'Hour' }, 2, i) : push({ std: 'NumMonth' }, 1, i);
    else if (c === '2') at(p, '2006') ? push({ std: 'LongYear' }, 4, i) : push({ std: 'Day' }, 1, i);
    else if (c === '_' && at(p, '_2')) {
      // "_2006" is a literal "_" and a year.
      if (at(p, '_2006')) (lit += '_'), i.v++;
      else push({ std: 'UnderDay' }, 2, i);
    } else if (c === '_' && at(p, '__2')) push({ std: 'UnderYearDay' }, 3, i);
    else if (c === '3' || c === '4' || c === '5') push({ std: (['Hour12', 'Minute', 'Second'] as const)[Number(c) - 3]! }, 1, i);
    else if (c === 'P' && at(p, 'PM')) push({ std: 'PM' }, 2, i);
    else if (c === 'p' && at(p, 'pm')) push({ std: 'pm' }, 2, i);
    else if (c === '-' && at(p, '-070000')) push({ std: 'NumSecondsTz' }, 7, i);
    else if (c === '-' && at(p, '-07:00:00')) push({ std: 'NumColonSecondsTZ' }, 9, i);
    else if (c === '-' && at(p, '-0700')) push({ std: 'NumTZ' }, 5, i);
    else if (c === '-' && at(p, '-07:00')) push({ std: 'NumColonTZ' }, 6, i);
    else if (c === '-' && at(p, '-07')) push({ std: 'NumShortTZ' }, 3, i);
    else if (c === 'Z' && at(p, 'Z070000')) push({ std: 'ISO8601SecondsTZ' }, 7, i);
    else if (c === 'Z' && at(p, 'Z07:00:00')) push({ std: 'ISO8601ColonSecondsTZ' }, 9, i);
    else if (c === 'Z' && at(p, 'Z0700')) push({ std: 'ISO8601TZ' }, 5, i);
    else if (c === 'Z' && at(p, 'Z07:00')) push({ std: 'ISO8601ColonTZ' }, 6, i);
    else if (c === 'Z' && at(p, 'Z07')) push({ std: 'ISO8601ShortTZ' }, 3, i);
    else if ((c === '.' || c === ',') && (layout[p + 1] === '0' || layout[p + 1] === '9')) {
      const d = layout[p + 1]!;
      let j = p + 1;
      while (layout[j] === d) j++;
      if (!isDigit(layout[j])) push({ std: 'Frac', digits: j - p - 1, trim: d === '9', sep: c }, j - p, i);
      else (lit += c), i.v++;
    } else (lit += c), i.v++;
  }
  if (lit) out.push({ lit });
  return out;
}

const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** A civil date and time, as its fields (month and day from 1). */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface Fields extends CivilTime {
  nanos: number;
  weekday: number;
  yearDay: number;
  /** Seconds east of UTC, and the zone's abbreviation. */
  offset: number;
  abbrev: string;
}

const pad = (n: number, w: number) => (n < 0 ? '-' + String(-n).padStart(w, '0') : String(n).padStart(w, '0'));

/** Go's Time.Format. */
export function formatGo(layout: string, f: Fields): string {
  let out = '';
  for (const c of chunks(layout)) {
    if ('lit' in c) {
      out += c.lit;
      continue;
    }
    out += formatChunk(c, f);
  }
  return out;
}

function formatChunk(c: Exclude<Chunk, { lit: string }>, f: Fields): string {
  const h12 = f.hour % 12 === 0 ? 12 : f.hour % 12;
  switch (c.std) {
    case 'Year': return pad(((f.year % 100) + 100) % 100, 2);
    case 'LongYear': return pad(f.year, 4);
    case 'Month': return LONG_MONTHS[f.month - 1]!.slice(0, 3);
    case 'LongMonth': return LONG_MONTHS[f.month - 1]!;
    case 'NumMonth': return String(f.month);
    case 'ZeroMonth': return pad(f.month, 2);
    case 'WeekDay': return LONG_DAYS[f.weekday]!.slice(0, 3);
    case 'LongWeekDay': return LONG_DAYS[f.weekday]!;
    case 'Day': return String(f.day);
    case 'UnderDay': return f.day < 10 ? ` ${f.day}` : String(f.day);
    case 'ZeroDay': return pad(f.day, 2);
    case 'UnderYearDay': return String(f.yearDay).padStart(3, ' ');
    case 'ZeroYearDay': return pad(f.yearDay, 3);
    case 'Hour': return pad(f.hour, 2);
    case 'Hour12': return String(h12);
    case 'ZeroHour12': return pad(h12, 2);
    case 'Minute': return String(f.minute);
    case 'ZeroMinute': return pad(f.minute, 2);
    case 'Second': return String(f.second);
    case 'ZeroSecond': return pad(f.second, 2);
    case 'PM': return f.hour >= 12 ? 'PM' : 'AM';
    case 'pm': return f.hour >= 12 ? 'pm' : 'am';
    case 'TZ': return f.abbrev || zoneText(f.offset, false, false, false);
    case 'Frac': {
      const s = String(f.nanos).padStart(9, '0').slice(0, c.digits);
      if (!c.trim) return c.sep + s;
      const t = s.replace(/0+$/, '');
      return t ? c.sep + t : '';
    }
    default: {
      const iso = c.std.startsWith('ISO8601');
      if (iso && f.offset === 0) return 'Z';
      const colon = c.std.includes('Colon');
      const seconds = c.std.includes('Seconds');
      const short = c.std.includes('Short');
      return zoneText(f.offset, colon, seconds, short);
    }
  }
}

/** -0700, -07:00, -07, -070000 or -07:00:00 for an offset in seconds. */
function zoneText(offset: number, colon: boolean, seconds: boolean, short: boolean): string {
  const sign = offset < 0 ? '-' : '+';
  const z = Math.abs(offset);
  const hh = pad(Math.floor(z / 3600), 2);
  const mm = pad(Math.floor(z / 60) % 60, 2);
  if (short) return sign + hh;
  const sep = colon ? ':' : '';
  return sign + hh + sep + mm + (seconds ? sep + pad(z % 60, 2) : '');
}

export interface Parsed extends CivilTime {
  nanos: number;
  /** Seconds east of UTC. */
  offset: number;
}

class Bad extends Error {}

/** Go's getnum: one or two digits (exactly two when `fixed`). */
function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigit(s[0])) throw new Bad('bad number');
  if (!isDigit(s[1])) {
    if (fixed) throw new Bad('bad number');
    return [Number(s[0]), s.slice(1)];
  }
  return [Number(s.slice(0, 2)), s.slice(2)];
}

/** Go's getnum3: one to three digits (exactly three when `fixed`). */
function getnum3(s: string, fixed: boolean): [number, string] {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigit(s[i]); i++) n = n * 10 + Number(s[i]);
  if (i === 0 || (fixed && i !== 3)) throw new Bad('bad number');
  return [n, s.slice(i)];
}

/** Go's skip: the layout's literal text, where a run of spaces matches a run of spaces. */
function skip(value: string, prefix: string): string {
  let v = value;
  let p = prefix;
  while (p.length) {
    if (p[0] === ' ') {
      if (v.length && v[0] !== ' ') throw new Bad('literal mismatch');
      p = p.replace(/^ +/, '');
      v = v.replace(/^ +/, '');
      continue;
    }
    if (!v.length || v[0] !== p[0]) throw new Bad('literal mismatch');
    p = p.slice(1);
    v = v.slice(1);
  }
  return v;
}

function lookup(names: string[], v: string): [number, string] {
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (v.length >= n.length && v.slice(0, n.length).toLowerCase() === n.toLowerCase()) return [i, v.slice(n.length)];
  }
  throw new Bad('bad name');
}

/** Go's parseNanoseconds of ".ddd" (n characters, the separator included). */
function nanos(value: string, n: number): number {
  if (value[0] !== '.' && value[0] !== ',') throw new Bad('bad fraction');
  const digits = value.slice(1, n);
  if (!/^\d+$/.test(digits)) throw new Bad('bad fraction');
  return Number(digits.slice(0, 9).padEnd(9, '0'));
}

/** Go's parseTimeZone: how many characters of `v` are a zone abbreviation, or 0. */
function tzLength(v: string): number {
  if (v.length < 3) return 0;
  if (v.startsWith('ChST') || v.startsWith('MeST')) return 4;
  if (v.startsWith('GMT')) return 3 + (v.length > 3 ? signedOffset(v.slice(3)) : 0);
  if (v[0] === '+' || v[0] === '-') return signedOffset(v);
  let n = 0;
  while (n < 6 && n < v.length && v[n]! >= 'A' && v[n]! <= 'Z') n++;
  if (n === 3) return 3;
  if (n === 4 && (v[3] === 'T' || v.startsWith('WITA'))) return 4;
  if (n === 5 && v[4] === 'T') return 5;
  return 0;
}

/** Go's parseSignedOffset: a sign and an hour of at most 23 (any number of digits), or 0. */
function signedOffset(v: string): number {
  const m = /^[+-](\d+)/.exec(v);
  if (!m || Number(m[1]) > 23) return 0;
  return m[0].length;
}

const SHORT = (names: string[]) => names.map((n) => n.slice(0, 3));

/** Go's atoi of a short string: an optional sign, then digits only. */
function atoi(s: string): number {
  const m = /^([+-]?)(\d+)$/.exec(s);
  if (!m) throw new Bad('bad number');
  return m[1] === '-' ? -Number(m[2]) : Number(m[2]);
}

interface State extends Parsed {
  yday: number;
  pm: boolean;
  am: boolean;
  /** What the text said of the zone, in Go's order of precedence: "UTC" or "Z", a numeric offset, an abbreviation. */
  utc: boolean;
  numeric: number | undefined;
  named: number | undefined;
}

/** Go's time.Parse of `value` with `layout` (the local zone being UTC, as in OPA's containers): the civil fields and offset. */
export function parseGo(layout: string, value: string): Parsed {
  const st: State = { year: 0, month: -1, day: -1, hour: 0, minute: 0, second: 0, nanos: 0, offset: 0, yday: -1, pm: false, am: false, utc: false, numeric: undefined, named: undefined };
  const cs = chunks(layout);
  let v = value;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if ('lit' in c) v = skip(v, c.lit);
    else v = parseChunk(c, v, st, cs.slice(i + 1).find((x) => 'std' in x));
  }
  if (v.length) throw new Bad('extra text');
  if (st.pm && st.hour < 12) st.hour += 12;
  else if (st.am && st.hour === 12) st.hour = 0;
  resolveDay(st);
  return { ...st, offset: st.utc ? 0 : (st.numeric ?? st.named ?? 0) };
}

const leap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
const daysIn = (m: number, y: number) => (m === 2 && leap(y) ? 29 : DAYS_BEFORE[m]! - DAYS_BEFORE[m - 1]!);

/** The month and day from the day of the year, or the defaults (January, the 1st); then the day checked. */
function resolveDay(st: State): void {
  if (st.yday >= 0) {
    let yday = st.yday;
    let m = 0;
    let d = 0;
    if (leap(st.year)) {
      if (yday === 31 + 29) [m, d] = [2, 29];
      else if (yday > 31 + 29) yday--;
    }
    if (yday < 1 || yday > 365) throw new Bad('day-of-year out of range');
    if (m === 0) {
      m = Math.floor((yday - 1) / 31) + 1;
      if (DAYS_BEFORE[m]! < yday) m++;
      d = yday - DAYS_BEFORE[m - 1]!;
    }
    if ((st.month >= 0 && st.month !== m) || (st.day >= 0 && st.day !== d)) throw new Bad('day-of-year does not match');
    st.month = m;
    st.day = d;
  } else {
    if (st.month < 0) st.month = 1;
    if (st.day < 0) st.day = 1;
  }
  if (st.day < 1 || st.day > daysIn(st.month, st.year)) throw new Bad('day out of range');
}

function parseChunk(c: Exclude<Chunk, { lit: string }>, v: string, st: State, next: Chunk | undefined): string {
  const date = parseDate(c, v, st);
  if (date !== undefined) return date;
  let rest = v;
  const range = (ok: boolean, what: string) => {
    if (!ok) throw new Bad(`${what} out of range`);
  };
  switch (c.std) {
    case 'Hour':
      [st.hour, rest] = getnum(v, false);
      range(st.hour < 24, 'hour');
      return rest;
    case 'Hour12':
    case 'ZeroHour12':
      [st.hour, rest] = getnum(v, c.std === 'ZeroHour12');
      range(st.hour <= 12, 'hour');
      return rest;
    case 'Minute':
    case 'ZeroMinute':
      [st.minute, rest] = getnum(v, c.std === 'ZeroMinute');
      range(st.minute < 60, 'minute');
      return rest;
    case 'Second':
    case 'ZeroSecond':
      return parseSecond(c.std, v, st, next);
    case 'PM':
    case 'pm':
      return parseAmPm(c.std, v, st);
    case 'TZ':
      return parseZoneName(v, st);
    case 'Frac':
      return parseFrac(c, v, st);
    default:
      return parseOffset(c.std, v, st);
  }
}

/** The year, month, weekday and day chunks; undefined for any other. */
function parseDate(c: Exclude<Chunk, { lit: string }>, v: string, st: State): string | undefined {
  let rest = v;
  switch (c.std) {
    case 'Year': {
      if (v.length < 2) throw new Bad('bad year');
      const y = atoi(v.slice(0, 2));
      st.year = y >= 69 ? y + 1900 : y + 2000;
      return v.slice(2);
    }
    case 'LongYear':
      if (v.length < 4 || !isDigit(v[0])) throw new Bad('bad year');
      st.year = atoi(v.slice(0, 4));
      return v.slice(4);
    case 'Month':
    case 'LongMonth':
      [st.month, rest] = lookup(c.std === 'Month' ? SHORT(LONG_MONTHS) : LONG_MONTHS, v);
      st.month++;
      return rest;
    case 'NumMonth':
    case 'ZeroMonth':
      [st.month, rest] = getnum(v, c.std === 'ZeroMonth');
      if (st.month <= 0 || st.month > 12) throw new Bad('month out of range');
      return rest;
    case 'WeekDay':
    case 'LongWeekDay':
      return lookup(c.std === 'WeekDay' ? SHORT(LONG_DAYS) : LONG_DAYS, v)[1];
    case 'Day':
    case 'UnderDay':
    case 'ZeroDay':
      [st.day, rest] = getnum(c.std === 'UnderDay' && v[0] === ' ' ? v.slice(1) : v, c.std === 'ZeroDay');
      return rest;
    case 'UnderYearDay':
    case 'ZeroYearDay': {
      let s = v;
      for (let i = 0; i < 2; i++) if (c.std === 'UnderYearDay' && s[0] === ' ') s = s.slice(1);
      [st.yday, rest] = getnum3(s, c.std === 'ZeroYearDay');
      return rest;
    }
    default:
      return undefined;
  }
}

function parseSecond(std: 'Second' | 'ZeroSecond', v: string, st: State, next: Chunk | undefined): string {
  let rest: string;
  [st.second, rest] = getnum(v, std === 'ZeroSecond');
  if (st.second >= 60) throw new Bad('second out of range');
  // A fraction in the text with none in the layout is read anyway, as Go does.
  if (rest.length >= 2 && (rest[0] === '.' || rest[0] === ',') && isDigit(rest[1]) && !(next && 'std' in next && next.std === 'Frac')) {
    let n = 2;
    while (n < rest.length && isDigit(rest[n])) n++;
    st.nanos = nanos(rest, Math.min(n, 10));
    return rest.slice(n);
  }
  return rest;
}

function parseAmPm(std: 'PM' | 'pm', v: string, st: State): string {
  if (v.length < 2) throw new Bad('bad am/pm');
  const p = v.slice(0, 2);
  if (p === (std === 'PM' ? 'PM' : 'pm')) st.pm = true;
  else if (p === (std === 'PM' ? 'AM' : 'am')) st.am = true;
  else throw new Bad('bad am/pm');
  return v.slice(2);
}

function parseZoneName(v: string, st: State): string {
  if (v.startsWith('UTC')) {
    st.utc = true;
    return v.slice(3);
  }
  const n = tzLength(v);
  if (n === 0) throw new Bad('bad zone');
  const name = v.slice(0, n);
  // An abbreviation Go's local zone (UTC) does not know is a zone of offset zero, except GMT+h.
  st.named = name.length > 3 && name.startsWith('GMT') ? atoi(name.slice(3)) * 3600 : 0;
  return v.slice(n);
}

function parseFrac(c: Extract<Chunk, { std: 'Frac' }>, v: string, st: State): string {
  if (!c.trim) {
    const n = 1 + c.digits;
    if (v.length < n) throw new Bad('bad fraction');
    st.nanos = nanos(v, Math.min(n, 10));
    return v.slice(n);
  }
  if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigit(v[1])) return v;
  let i = 0;
  while (i + 1 < v.length && isDigit(v[i + 1])) i++;
  st.nanos = nanos(v, Math.min(1 + i, 10));
  return v.slice(1 + i);
}

function parseOffset(std: string, v: string, st: State): string {
  if (std.startsWith('ISO8601') && v[0] === 'Z') {
    st.utc = true;
    return v.slice(1);
  }
  const colon = std.includes('Colon');
  const seconds = std.includes('Seconds');
  const short = std.includes('Short');
  const len = short ? 3 : colon ? (seconds ? 9 : 6) : seconds ? 7 : 5;
  if (v.length < len) throw new Bad('bad offset');
  if (colon && (v[3] !== ':' || (seconds && v[6] !== ':'))) throw new Bad('bad offset');
  const hh = v.slice(1, 3);
  const mm = short ? '00' : colon ? v.slice(4, 6) : v.slice(3, 5);
  const ss = seconds ? (colon ? v.slice(7, 9) : v.slice(5, 7)) : '00';
  const [hr] = getnum(hh, true);
  const [mi] = getnum(mm, true);
  const [se] = getnum(ss, true);
  if (hr > 24 || mi > 60 || se > 60) throw new Bad('time zone offset out of range');
  const off = (hr * 60 + mi) * 60 + se;
  if (v[0] === '+') st.numeric = off;
  else if (v[0] === '-') st.numeric = -off;
  else throw new Bad('bad offset');
  return v.slice(len);
}
