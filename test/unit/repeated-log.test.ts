import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { RepeatedLog } from '../../src/telemetry/repeated-log.js';
import { createLogger } from '../../src/telemetry/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb(); } });
  return { lines, log: createLogger('info', out as never) };
}

describe('RepeatedLog', () => {
  it('writes the first line of a kind per interval, counts the rest, and says how many on the next line', async () => {
    const { lines, log } = capture();
    let now = 1_000_000;
    const r = new RepeatedLog(log, 10_000, () => now);
    for (let i = 0; i < 1000; i++) r.warn('redis', { i }, 'redis failed');
    r.error('other', {}, 'another kind is not held back');
    now += 10_000;
    r.warn('redis', { i: 1000 }, 'redis failed');
    await new Promise((res) => setImmediate(res));
    expect(lines.map((l) => [l.msg, l.i, l.suppressed_since_last])).toEqual([
      ['redis failed', 0, undefined],
      ['another kind is not held back', undefined, undefined],
      ['redis failed', 1000, 999],
    ]);
    expect(r.totalSuppressed).toBe(999);
    expect(r.suppressed.get('redis')).toBe(999);
  });
});
