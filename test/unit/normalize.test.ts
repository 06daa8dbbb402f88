import { describe, expect, it } from 'vitest';
import { canonicalSegments, normalize, type NormalizedRequest } from '../../src/check/normalize.js';
import { Denial } from '../../src/check/types.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { parseConfig } from '../../src/config.js';

const limits = parseConfig({}).limits;
const ok = (r: NormalizedRequest | Denial): NormalizedRequest => {
  if (r instanceof Denial) throw new Error(r.reason);
  return r;
};

describe('normalize', () => {
  it('parses path and query as OPA-Envoy does', () => {
    const r = ok(normalize(buildCheckRequest({ method: 'get', path: '/api/v1/items?tag=a&tag=b&q=new%0aline' }), limits));
    expect(r.method).toBe('GET');
    expect(r.path).toBe('/api/v1/items');
    expect(r.parsedPath).toEqual(['api', 'v1', 'items']);
    expect(r.parsedQuery).toEqual({ tag: ['a', 'b'], q: ['new\nline'] });
  });

  it.each([
    ['//x/people', ['x', 'people']],
    ['/%2Fmy%2Ftest%2Fpath', ['my', 'test', 'path']],
    ['/a/./b/../c', ['a', 'c']],
    ['/../../etc/passwd', ['etc', 'passwd']],
    ['/a/%2e%2e/b', ['b']],
    ['/a\\..\\b', ['b']],
    ['/', []],
  ])('canonical segments of %s', (path, segs) => {
    expect(canonicalSegments(path)).toEqual(segs);
  });

  it.each(['/a/%zz', '/a/%C3%28', '/a/%00', 'relative'])('refuses %s with 400', (path) => {
    const d = canonicalSegments(path);
    expect(d).toBeInstanceOf(Denial);
    expect((d as Denial).http_status).toBe(400);
  });

  it('joins repeated header_map entries with "," (cookie with "; ") and lower-cases names', () => {
    const req = buildCheckRequest({ method: 'GET', path: '/' }) as any;
    delete req.attributes.request.http.headers;
    req.attributes.request.http.headerMap = {
      headers: [
        { key: 'X-Dup', value: 'one' },
        { key: 'x-dup', rawValue: Buffer.from('two') },
        { key: 'cookie', value: 'a=1' },
        { key: 'Cookie', value: 'b=2' },
      ],
    };
    const r = ok(normalize(req, limits));
    expect(r.headers['x-dup']).toBe('one,two');
    expect(r.headers['cookie']).toBe('a=1; b=2');
  });

  it('lower-cases a direct caller\'s header names', () => {
    const req = buildCheckRequest({ method: 'GET', path: '/' }) as any;
    req.attributes.request.http.headers = { 'X-Tenant-Id': 'acme', ':path': '/' };
    expect(ok(normalize(req, limits)).headers['x-tenant-id']).toBe('acme');
  });

  it('parses JSON and form bodies and spots truncation', () => {
    const json = ok(normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', 'application/json']], body: '{"model":"gpt"}' }), limits));
    expect(json.parsedBody).toEqual({ model: 'gpt' });
    expect(json.truncatedBody).toBe(false);
    const form = ok(normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', 'application/x-www-form-urlencoded']], body: 'a=1&a=2' }), limits));
    expect(form.parsedBody).toEqual({ a: ['1', '2'] });
    const bad = ok(normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', 'application/json']], body: '{"model":' }), limits));
    expect([bad.parsedBody, bad.bodyError]).toEqual([null, 'the request body is not valid JSON']);
    const short = ok(normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', 'application/json'], ['content-length', '100']], body: '{}' }), limits));
    expect(short.truncatedBody).toBe(true);
    const partial = buildCheckRequest({ method: 'POST', path: '/', body: '{}' }) as any;
    partial.attributes.request.http.headers['x-envoy-auth-partial-body'] = 'true';
    expect(ok(normalize(partial, limits)).truncatedBody).toBe(true);
  });

  it('keeps protojson attribute names for the policy', () => {
    const r = ok(normalize(buildCheckRequest({ method: 'GET', path: '/x?y=1', contextExtensions: { route: 'api' } }), limits));
    const http = (r.attributes.request as any).http;
    expect(http.path).toBe('/x?y=1');
    expect(http.headers[':path']).toBe('/x?y=1');
    expect(r.attributes.contextExtensions).toEqual({ route: 'api' });
  });

  it('refuses a malformed method', () => {
    const d = normalize(buildCheckRequest({ method: 'GE T', path: '/' }), limits);
    expect(d).toMatchObject({ http_status: 400, code: 'bad_request', reason: 'the request method is malformed' });
  });
});
