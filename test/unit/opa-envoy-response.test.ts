// The OPA-Envoy mode's answer for a decision, as the plugin's envoyauth/response.go builds it: every field, and
// the errors that fail the RPC.
import { describe, expect, it } from 'vitest';
import { DecisionError, pluginResponse } from '../../src/opa-envoy/response.js';

const o = { decisionId: 'd-1', dryRun: false, trustedHeaders: ['x-tenant-id', 'x-user-id'] };

describe('pluginResponse', () => {
  it('a boolean allow: OK, only the trusted headers removed; a boolean deny: PERMISSION_DENIED with no HTTP answer', () => {
    expect(pluginResponse(true, o)).toEqual({
      status: { code: 0 },
      okResponse: { headers: [], headersToRemove: ['x-tenant-id', 'x-user-id'], responseHeadersToAdd: [], queryParametersToRemove: [], queryParametersToSet: [] },
      dynamicMetadata: { decision_id: 'd-1' },
    });
    expect(pluginResponse(false, o)).toEqual({ status: { code: 7 }, dynamicMetadata: { decision_id: 'd-1' } });
  });

  it('an object allow: headers (lists and lists of objects), removals, query changes and metadata; a policy header keeps its trusted name', () => {
    const r = pluginResponse(
      {
        allowed: true,
        headers: [{ 'x-a': '1' }, { 'x-a': ['2', '3'], 'x-user-id': 'u' }],
        response_headers_to_add: { 'x-r': 'v' },
        request_headers_to_remove: ['x-secret'],
        query_parameters_to_remove: ['debug'],
        query_parameters_to_set: { lang: 'en', tag: ['a', 'b'] },
        dynamic_metadata: { k: 1 },
      },
      o,
    );
    expect(r).toEqual({
      status: { code: 0 },
      okResponse: {
        headers: [{ header: { key: 'x-a', value: '1' } }, { header: { key: 'x-a', value: '2' } }, { header: { key: 'x-a', value: '3' } }, { header: { key: 'x-user-id', value: 'u' } }],
        headersToRemove: ['x-secret', 'x-tenant-id'],
        responseHeadersToAdd: [{ header: { key: 'x-r', value: 'v' } }],
        queryParametersToRemove: ['debug'],
        queryParametersToSet: [
          { key: 'lang', value: 'en' },
          { key: 'tag', value: 'a' },
          { key: 'tag', value: 'b' },
        ],
      },
      dynamicMetadata: { k: 1, decision_id: 'd-1' },
    });
  });

  it('an object deny: the status (403 by default), headers and body as written', () => {
    expect(pluginResponse({ allowed: false }, o).deniedResponse).toEqual({ status: { code: 403 }, headers: [], body: '' });
    expect(pluginResponse({ allowed: false, http_status: 401, headers: { 'www-authenticate': 'Basic' }, body: 'no' }, o).deniedResponse).toEqual({
      status: { code: 401 },
      headers: [{ header: { key: 'www-authenticate', value: 'Basic' } }],
      body: 'no',
    });
  });

  it('dry-run answers a deny as an allow, keeping the metadata', () => {
    const r = pluginResponse({ allowed: false, http_status: 401, dynamic_metadata: { why: 'x' } }, { ...o, dryRun: true });
    expect(r.status).toEqual({ code: 0 });
    expect(r.deniedResponse).toBeUndefined();
    expect(r.okResponse?.headersToRemove).toEqual(['x-tenant-id', 'x-user-id']);
    expect(r.dynamicMetadata).toEqual({ why: 'x', decision_id: 'd-1' });
  });

  it.each([
    [undefined, 'illegal value for policy evaluation result'],
    ['yes', 'illegal value for policy evaluation result: string'],
    [{}, 'missing "allowed" key'],
    [{ allowed: 'true' }, "expected allowed to be of type 'boolean'"],
    [{ allowed: true, headers: { 'x-n': 1 } }, "type assertion error for header 'x-n'"],
    [{ allowed: true, headers: { 'x-n': [1] } }, "invalid value type json.Number for header 'x-n'"],
    [{ allowed: true, headers: 'x' }, "expected headers to be of type 'object'"],
    [{ allowed: false, http_status: 418 }, 'invalid HTTP status code 418'],
    [{ allowed: false, http_status: '403' }, "expected http_status to be of type 'number'"],
    [{ allowed: false, body: 1 }, "expected body to be of type 'string'"],
    [{ allowed: true, request_headers_to_remove: 'x' }, "expected request_headers_to_remove to be of type '[]string'"],
    [{ allowed: true, query_parameters_to_set: { a: 1 } }, 'expected value to be string or array'],
    [{ allowed: true, dynamic_metadata: [] }, "expected dynamic_metadata to be of type 'object'"],
  ])('a decision it cannot read fails the RPC: %j', (decision, message) => {
    expect(() => pluginResponse(decision, o)).toThrow(DecisionError);
    expect(() => pluginResponse(decision, o)).toThrow(message);
  });
});
