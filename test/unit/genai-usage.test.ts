// Reading an LLM response's token usage as its body streams by: JSON or Server-Sent Events, split anywhere (in a
// multi-byte character too), bounded in what it keeps.
import { describe, expect, it } from 'vitest';
import { UsageReader, usageOf } from '../../src/genai/usage.js';
import { costOf } from '../../src/genai/prices.js';

const read = (eventStream: boolean, text: string, cuts: number[], max = 1 << 20) => {
  const r = new UsageReader(eventStream, max);
  const bytes = Buffer.from(text);
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    r.push(bytes.subarray(at, c));
    at = c;
  }
  return r.end();
};

describe('UsageReader', () => {
  const json = JSON.stringify({ model: 'gpt-4o', choices: [{ message: { content: 'héllo ✓' } }], usage: { prompt_tokens: 10, completion_tokens: 5 } });

  it('reads a JSON body split anywhere, even inside a character', () => {
    const bytes = Buffer.from(json);
    const inside = bytes.indexOf(Buffer.from('✓')) + 1;
    for (const cuts of [[], [1], [inside], [10, inside, bytes.length - 1]]) expect(read(false, json, cuts), String(cuts)).toEqual({ model: 'gpt-4o', input_tokens: 10, output_tokens: 5 });
  });

  it('keeps the last event with usage of a stream, with LF or CRLF line ends, ignoring [DONE] and comments', () => {
    const ev = (o: object) => `data: ${JSON.stringify(o)}`;
    const lf = [': keep-alive', ev({ model: 'm', choices: [{ delta: { content: 'a' } }] }), '', ev({ model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } }), '', 'data: [DONE]', ''].join('\n');
    expect(read(true, lf, [5, 40, 41])).toEqual({ model: 'm', input_tokens: 3, output_tokens: 4 });
    expect(read(true, lf.replace(/\n/g, '\r\n'), [7])).toEqual({ model: 'm', input_tokens: 3, output_tokens: 4 });
    // The last line without its newline still counts.
    expect(read(true, ev({ usage: { prompt_tokens: 1, completion_tokens: 1 } }), [])).toEqual({ model: null, input_tokens: 1, output_tokens: 1 });
  });

  it('gives up on a JSON body over its limit, and on a line over it in a stream, reading on', () => {
    expect(read(false, json, [], 20)).toBeNull();
    const big = `data: ${'x'.repeat(100)}\n\ndata: ${JSON.stringify({ usage: { prompt_tokens: 2, completion_tokens: 0 } })}\n`;
    expect(read(true, big, [30, 60], 64)).toEqual({ model: null, input_tokens: 2, output_tokens: 0 });
  });

  it('reads input_tokens/output_tokens too; no usage, a bad count or not JSON is none', () => {
    expect(usageOf({ model: 'claude', usage: { input_tokens: 7, output_tokens: 8 } })).toEqual({ model: 'claude', input_tokens: 7, output_tokens: 8 });
    expect(usageOf({ usage: { prompt_tokens: -1 } })).toBeNull();
    expect(usageOf({ usage: { prompt_tokens: 1.5 } })).toBeNull();
    expect(usageOf({ usage: null })).toBeNull();
    expect(read(false, 'not json', [])).toBeNull();
  });

  it('prices by model, a dated version by its family, unknown models not at all', () => {
    const prices = { 'gpt-4o': { input_per_million: 2.5, output_per_million: 10 } };
    expect(costOf(prices, { model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 100_000 })).toBe(3.5);
    expect(costOf(prices, { model: 'gpt-4o-2024-08-06', input_tokens: 400_000, output_tokens: 0 })).toBe(1);
    expect(costOf(prices, { model: 'other', input_tokens: 1, output_tokens: 1 })).toBeNull();
    expect(costOf(prices, { model: null, input_tokens: 1, output_tokens: 1 })).toBeNull();
  });
});
