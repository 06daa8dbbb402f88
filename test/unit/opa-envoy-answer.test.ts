// The OPA-Envoy mode's encoded answers (check/opa-envoy-answer.ts): kept per cached policy value, each with its own
// decision id, and the same bytes as the general serializer gives, decoded with Envoy's protos.
import { describe, expect, it } from 'vitest';
import { AnswerEncoder } from '../../src/check/opa-envoy-answer.js';
import { authServiceDefinition } from '../../src/check/protos.js';
import { pluginResponse } from '../../src/opa-envoy/response.js';
import { toValue } from '../../src/check/respond.js';

const def = authServiceDefinition().Check!;
const decode = (b: Uint8Array) => def.responseDeserialize(Buffer.from(b)) as Record<string, any>;
const options = (decisionId: string) => ({ decisionId, dryRun: false, trustedHeaders: ['x-tenant-id'] });
/** What the general path sends: the whole response through proto-loader. */
const general = (value: unknown, id: string) => {
  const r = pluginResponse(value, options(id));
  return decode(def.responseSerialize({ ...r, dynamicMetadata: { fields: Object.fromEntries(Object.entries(r.dynamicMetadata).map(([k, v]) => [k, toValue(v)])) } }));
};

describe('AnswerEncoder', () => {
  const value = Object.freeze({ allowed: true, headers: Object.freeze({ 'x-a': '1' }), dynamic_metadata: Object.freeze({ score: 7 }) });

  it('answers a cached value again with the next decision id, the rest as the general path writes it', () => {
    const enc = new AnswerEncoder(def.responseSerialize);
    for (const id of ['d-1', 'd-2']) {
      const ours = decode(enc.encode(value, pluginResponse(value, options(id)), id));
      expect(ours).toEqual(general(value, id));
      expect(ours.dynamicMetadata.fields.decision_id).toEqual({ stringValue: id, kind: 'stringValue' });
    }
  });

  it('a boolean decision and a value that is not frozen: the same bytes as the general path', () => {
    const enc = new AnswerEncoder(def.responseSerialize);
    expect(decode(enc.encode(false, pluginResponse(false, options('d-3')), 'd-3'))).toEqual(general(false, 'd-3'));
    const open = { allowed: false, http_status: 429, body: 'no' };
    expect(decode(enc.encode(open, pluginResponse(open, options('d-4')), 'd-4'))).toEqual(general(open, 'd-4'));
    const changed = { ...open, body: 'changed' };
    expect(decode(enc.encode(changed, pluginResponse(changed, options('d-5')), 'd-5')).deniedResponse.body).toBe('changed');
  });
});
