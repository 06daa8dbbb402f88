import { describe, expect, it } from 'vitest';
import { parseBody, scanJson } from '../../src/check/body.js';
import { normalize } from '../../src/check/normalize.js';
import { type NormalizedRequest } from '../../src/core/request.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { parseConfig } from '../../src/core/config.js';
import { Denial } from '../../src/core/types.js';

const limits = parseConfig({}).limits;
const req = (body: string, contentType = 'application/json') =>
  normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', contentType]], body }), limits) as NormalizedRequest;

describe('parseBody', () => {
  it('parses JSON (also +json) and form bodies', () => {
    const json = req('{"model":"gpt"}');
    expect(parseBody(json, 64)).toBeUndefined();
    expect(json.parsedBody).toEqual({ model: 'gpt' });
    const problem = req('{"a":1}', 'application/problem+json; charset=utf-8');
    parseBody(problem, 64);
    expect(problem.parsedBody).toEqual({ a: 1 });
    const form = req('a=1&a=2', 'application/x-www-form-urlencoded');
    parseBody(form, 64);
    expect(form.parsedBody).toEqual({ a: ['1', '2'] });
  });

  it('leaves invalid JSON to the policy, with the reason', () => {
    const bad = req('{"model":');
    expect(parseBody(bad, 64)).toBeUndefined();
    expect([bad.parsedBody, bad.bodyError]).toEqual([null, 'the request body is not valid JSON']);
  });

  it('refuses nesting deeper than the limit with 400, without a stack overflow at any depth', () => {
    for (const depth of [65, 10_000, 1_000_000]) {
      const d = parseBody(req('['.repeat(depth) + ']'.repeat(depth)), 64);
      expect(d).toBeInstanceOf(Denial);
      expect(d).toMatchObject({ http_status: 400, code: 'bad_request', reason: 'the request body is nested deeper than 64 levels' });
    }
    const ok = req('{"a":'.repeat(63) + '1' + '}'.repeat(63));
    expect(parseBody(ok, 64)).toBeUndefined();
    expect(ok.parsedBody).not.toBeNull();
  });

  it('refuses a key repeated in one object, escapes included, and allows it in different objects', () => {
    for (const body of ['{"model":"a","model":"b"}', '{"model":"a","mod\\u0065l":"b"}', '{"x":{"k":1,"k":2}}', '[{"a":1},{"b":[{"c":1,"c":2}]}]']) {
      expect(parseBody(req(body), 64), body).toBeInstanceOf(Denial);
    }
    expect(parseBody(req('{"model":"gpt","model":"x"}'), 64)).toMatchObject({ reason: 'the request body repeats the key "model" in one object' });
    for (const body of ['{"a":{"a":{"a":1}}}', '[{"k":1},{"k":2}]', '{"s":"{\\"k\\":1,\\"k\\":2}"}', '{"a":"x","b":"a"}']) {
      expect(parseBody(req(body), 64), body).toBeUndefined();
    }
  });

  it('scans strings with brackets and escaped quotes as text', () => {
    expect(scanJson('{"a":"[[[[[[[[\\"]]]"}', 2)).toBeNull();
  });
});
