import { describe, expect, it } from 'vitest';
import { canonicalSegments, normalize } from '../../src/check/normalize.js';
import { type NormalizedRequest } from '../../src/core/request.js';
import { Denial } from '../../src/core/types.js';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { parseConfig } from '../../src/core/config.js';

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

  it("reads a query parameter named like an Object.prototype member as any other", () => {
    const r = ok(normalize(buildCheckRequest({ method: 'GET', path: '/api/v1/items?constructor=1&__proto__=2&toString=3&__proto__=4' }), limits));
    expect(JSON.stringify(r.parsedQuery)).toBe('{"constructor":["1"],"__proto__":["2","4"],"toString":["3"]}');
    expect(Object.keys(r.parsedQuery)).toEqual(['constructor', '__proto__', 'toString']);
  });

  it.each([
    ['/api/v1/admin/', ['api', 'v1', 'admin']],
    ['/a%20b/c', ['a b', 'c']],
    ['/a%2eb', ['a.b']],
    ['/', []],
  ])('canonical segments of %s', (path, segs) => {
    expect(canonicalSegments(path)).toEqual(segs);
  });

  // Each of these is read one way by some upstreams and another way by others: refused, never guessed at.
  it.each([
    ['/api/v1/admin/.', 'a dot segment'],
    ['/api/v1/admin/x/..', 'a dot segment'],
    ['/a/%2e%2e/b', 'a dot segment'],
    ['/healthz/..;/api/v1/admin', '";" path parameters'],
    ['/api/v1/admin;/users', '";" path parameters'],
    ['/api/v1/admin%3b/api', '";" path parameters'],
    ['/api/v1/admin%3B/users', '";" path parameters'],
    ['//x/people', 'an empty segment'],
    ['/api//v1', 'an empty segment'],
    ['/%2Fmy%2Ftest%2Fpath', 'an encoded separator'],
    ['/a%5c..%5cb', 'an encoded separator'],
    ['/a\\..\\b', 'a backslash'],
    ['/a/%252e%252e/b', 'double percent-encoding'],
  ])('refuses the ambiguous path %s with 400', (path, what) => {
    const d = canonicalSegments(path);
    expect(d).toBeInstanceOf(Denial);
    expect((d as Denial).http_status).toBe(400);
    expect((d as Denial).reason).toBe(`the request path is ambiguous (${what}): upstream servers read such paths differently, so it is refused`);
  });

  it.each([
    ['//x/people', ['x', 'people']],
    ['/%2Fmy%2Ftest%2Fpath', ['my', 'test', 'path']],
    ['/a/./b/../c', ['a', 'c']],
    ['/../../etc/passwd', ['etc', 'passwd']],
    ['/a\\..\\b', ['b']],
  ])('resolves %s when ambiguous paths are allowed (a normalising proxy in front)', (path, segs) => {
    expect(canonicalSegments(path, false)).toEqual(segs);
  });

  it('a path seen before gets the same parts, whichever choice on ambiguous paths came first', () => {
    const lenient = parseConfig({ limits: { reject_ambiguous_paths: false } }).limits;
    const req = () => buildCheckRequest({ method: 'GET', path: '/memo//x/./y?q=1' });
    expect(ok(normalize(req(), lenient)).path).toBe('/memo/x/y');
    expect(normalize(req(), limits)).toBeInstanceOf(Denial);
    expect(ok(normalize(req(), lenient)).parsedPath).toEqual(['memo', 'x', 'y']);
    const strict = () => buildCheckRequest({ method: 'GET', path: '/memo/a%20b?q=1&q=2' });
    expect(ok(normalize(strict(), limits)).parsedPath).toEqual(['memo', 'a b']);
    expect(ok(normalize(strict(), lenient)).parsedPath).toEqual(['memo', 'a b']);
  });

  it('the parts shared by requests with the same path cannot be changed by one of them', () => {
    const path = '/api/v1/shared?tag=a';
    const first = ok(normalize(buildCheckRequest({ method: 'GET', path }), limits));
    expect(() => first.parsedPath.push('admin')).toThrow(TypeError);
    expect(() => first.parsedQuery['tag']!.push('b')).toThrow(TypeError);
    expect(() => (first.parsedQuery['role'] = ['admin'])).toThrow(TypeError);
    const second = ok(normalize(buildCheckRequest({ method: 'GET', path }), limits));
    expect(second.parsedPath).toEqual(['api', 'v1', 'shared']);
    expect(JSON.stringify(second.parsedQuery)).toBe('{"tag":["a"]}');
  });

  it('takes the choice from limits.reject_ambiguous_paths', () => {
    const req = buildCheckRequest({ method: 'GET', path: '/a/../b' });
    expect(normalize(req, limits)).toBeInstanceOf(Denial);
    expect(ok(normalize(req, parseConfig({ limits: { reject_ambiguous_paths: false } }).limits)).path).toBe('/b');
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

  it('reads header names like "constructor" or "__proto__" as names like any other, in header_map too', () => {
    const entries: [string, string][] = [['constructor', 'a'], ['__proto__', 'b'], ['toString', 'c'], ['Constructor', 'd']];
    const fromMap = buildCheckRequest({ method: 'GET', path: '/' }) as any;
    delete fromMap.attributes.request.http.headers;
    fromMap.attributes.request.http.headerMap = { headers: entries.map(([key, value]) => ({ key, value })) };
    const upper = buildCheckRequest({ method: 'GET', path: '/' }) as any;
    upper.attributes.request.http.headers = JSON.parse('{"Constructor": "a,d", "__PROTO__": "b", "toString": "c"}');
    for (const req of [fromMap, upper]) {
      const h = ok(normalize(req, limits)).headers;
      expect(Object.keys(h).sort()).toEqual(['__proto__', 'constructor', 'tostring']);
      expect([h['constructor'], h['__proto__'], h['tostring']]).toEqual(['a,d', 'b', 'c']);
    }
  });

  it('lower-cases a direct caller\'s header names', () => {
    const req = buildCheckRequest({ method: 'GET', path: '/' }) as any;
    req.attributes.request.http.headers = { 'X-Tenant-Id': 'acme', ':path': '/' };
    expect(ok(normalize(req, limits)).headers['x-tenant-id']).toBe('acme');
  });

  it('leaves the body unparsed (parseBody does that once the caller is known) and spots truncation', () => {
    const json = ok(normalize(buildCheckRequest({ method: 'POST', path: '/', headers: [['content-type', 'application/json']], body: '{"model":"gpt"}' }), limits));
    expect([json.body, json.parsedBody, json.truncatedBody]).toEqual(['{"model":"gpt"}', null, false]);
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
