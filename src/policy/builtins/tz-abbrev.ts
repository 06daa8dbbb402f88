// Time-zone abbreviations as Go prints them for "MST" in a layout: tzdata's own ("EST", "IST", "+0545"), read from
// the system's zoneinfo (TZif) files as Go reads them, each file once. Without the file, the ICU names Node has, and
// Go's numeric form where ICU has none.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ZONEINFO = process.env.ZONEINFO ?? '/usr/share/zoneinfo';
const cache = new Map<string, Map<number, string> | null>();

/** Offset (seconds east) → abbreviation, from a TZif file: its footer's rule first, then its transitions' types. */
function fromTzif(zone: string): Map<number, string> | null {
  if (cache.has(zone)) return cache.get(zone)!;
  let names: Map<number, string> | null = null;
  try {
    if (zone.includes('..')) throw new Error('not a zone name');
    const b = readFileSync(join(ZONEINFO, zone));
    if (b.toString('latin1', 0, 4) !== 'TZif') throw new Error('not a TZif file');
    names = new Map();
    const counts = (at: number) => [0, 1, 2, 3, 4, 5].map((i) => b.readUInt32BE(at + 20 + 4 * i)) as [number, number, number, number, number, number];
    // The version-1 block (4-byte times), then, for version 2 and later, the 8-byte block and the footer.
    let at = 0;
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(at);
    let block = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let timeSize = 4;
    if (b[4]! >= 0x32) {
      at = block;
      [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(at);
      timeSize = 8;
      block = at + 44 + timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut;
    }
    const types = at + 44 + timecnt * timeSize + timecnt;
    const chars = types + typecnt * 6;
    for (let i = 0; i < typecnt; i++) {
      const off = b.readInt32BE(types + 6 * i);
      const idx = b[types + 6 * i + 5]!;
      names.set(off, b.toString('latin1', chars + idx, b.indexOf(0, chars + idx)));
    }
    const footer = b.toString('latin1', block).split('\n')[1] ?? '';
    for (const [off, name] of footerNames(footer)) names.set(off, name);
  } catch {
    names = null;
  }
  cache.set(zone, names);
  return names;
}

/** The standard and daylight names of a POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0", "<+0545>-5:45"). */
function footerNames(rule: string): [number, string][] {
  const m = /^(<[^>]+>|[A-Za-z]{3,})([+-]?\d{1,2}(?::\d{2}){0,2})(?:(<[^>]+>|[A-Za-z]{3,})([+-]?\d{1,2}(?::\d{2}){0,2})?)?/.exec(rule);
  if (!m) return [];
  const seconds = (s: string) => {
    const [h, mi = '0', se = '0'] = s.replace(/^[+-]/, '').split(':');
    return (s.startsWith('-') ? 1 : -1) * (Number(h) * 3600 + Number(mi) * 60 + Number(se));
  };
  const name = (s: string) => s.replace(/^<|>$/g, '');
  const std = seconds(m[2]!);
  const out: [number, string][] = [[std, name(m[1]!)]];
  if (m[3]) out.push([m[4] ? seconds(m[4]) : std + 3600, name(m[3])]);
  return out;
}

const icu = new Map<string, Intl.DateTimeFormat[]>();

/** The abbreviation of `zone` at an instant whose offset is `offset` seconds east of UTC. */
export function zoneAbbreviation(zone: string, ms: number, offset: number): string {
  if (zone === 'UTC') return 'UTC';
  const named = fromTzif(zone)?.get(offset);
  if (named) return named;
  let fs = icu.get(zone);
  if (!fs) icu.set(zone, (fs = ['en-US', 'en-GB'].map((l) => new Intl.DateTimeFormat(l, { timeZone: zone === 'Local' ? undefined : zone, timeZoneName: 'short' }))));
  for (const f of fs) {
    const name = f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value;
    if (name && /^[A-Z]{3,5}$/.test(name) && (name !== 'GMT' || offset === 0) && !/^GMT./.test(name)) return name;
  }
  // tzdata's form for a zone without letters: +hh, or +hhmm when there are minutes.
  const z = Math.abs(offset);
  const mm = Math.floor(z / 60) % 60;
  return `${offset < 0 ? '-' : '+'}${String(Math.floor(z / 3600)).padStart(2, '0')}${mm ? String(mm).padStart(2, '0') : ''}`;
}
