// Calendar windows in UTC: minute, day, and month (optionally anchored on a billing day of the month).

export type WindowName = 'minute' | 'day' | 'month';

export interface Window {
  /** ISO time the window started. */
  start: number;
  /** Epoch ms the window ends (exclusive). */
  end: number;
}

export function minuteWindow(now: number): Window {
  const start = now - (now % 60_000);
  return { start, end: start + 60_000 };
}

export function dayWindow(now: number): Window {
  const start = now - (now % 86_400_000);
  return { start, end: start + 86_400_000 };
}

/** The billing month containing `now`: from the anchor day (1-28, default 1) 00:00 UTC to the next one. */
export function monthWindow(now: number, anchorDay = 1): Window {
  const d = new Date(now);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  if (d.getUTCDate() < anchorDay) m -= 1;
  if (m < 0) {
    m += 12;
    y -= 1;
  }
  return { start: Date.UTC(y, m, anchorDay), end: Date.UTC(y, m + 1, anchorDay) };
}

export function windowOf(name: WindowName, now: number, anchorDay?: number): Window {
  return name === 'minute' ? minuteWindow(now) : name === 'day' ? dayWindow(now) : monthWindow(now, anchorDay);
}
