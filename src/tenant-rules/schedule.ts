// Allowed hours and days in a time zone. The local time is computed with Intl once per zone and minute, not per
// request: a formatter's formatToParts costs microseconds.
import type { Weekday } from '../core/tenant-rules.js';

interface Local {
  /** Epoch minute it was computed for. */
  minute: number;
  day: Weekday;
  /** Minutes since local midnight. */
  clock: number;
}

const DAY: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

export class Schedule {
  private readonly format: Intl.DateTimeFormat;
  private readonly days: ReadonlySet<Weekday> | undefined;
  private readonly from: number | undefined;
  private readonly to: number | undefined;
  private local: Local = { minute: -1, day: 'mon', clock: 0 };

  /** Throws when the time zone is not known. */
  constructor(readonly spec: { time_zone: string; days?: readonly Weekday[]; from?: string; to?: string }) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: spec.time_zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    this.days = spec.days ? new Set(spec.days) : undefined;
    this.from = spec.from ? minutes(spec.from) : undefined;
    this.to = spec.to ? minutes(spec.to) : undefined;
  }

  /** Whether the time is within the allowed days and hours ("from" inclusive, "to" exclusive; to < from spans midnight). */
  allows(now: number): boolean {
    const l = this.at(now);
    if (this.days && !this.days.has(l.day)) return false;
    if (this.from === undefined || this.to === undefined) return true;
    return this.from <= this.to ? l.clock >= this.from && l.clock < this.to : l.clock >= this.from || l.clock < this.to;
  }

  describe(): string {
    const s = this.spec;
    return `${s.days ? s.days.join(',') : 'every day'}${s.from ? ` ${s.from}-${s.to}` : ''} ${s.time_zone}`;
  }

  private at(now: number): Local {
    const minute = Math.floor(now / 60_000);
    if (this.local.minute === minute) return this.local;
    const parts = Object.fromEntries(this.format.formatToParts(now).map((p) => [p.type, p.value]));
    this.local = { minute, day: DAY[parts.weekday ?? ''] ?? 'mon', clock: Number(parts.hour) * 60 + Number(parts.minute) };
    return this.local;
  }
}

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}
