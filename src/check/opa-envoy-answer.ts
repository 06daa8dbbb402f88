// The encoded answer of the OPA-Envoy mode. Apart from its decision id, an answer is a function of the policy's
// value alone, and a value from the decision cache is the same (frozen) object from check to check: its encoding
// is kept, and each check adds only its decision id to the dynamic metadata. proto-loader's generic serializer
// (fromObject, then encode) was the largest part of a cached check in this mode.
import protobuf from 'protobufjs';
import type { PluginResponse } from '../opa-envoy/response.js';
import { encodeStructEntry, own } from './encode.js';
import { toValue } from './respond.js';
import type { StructValue } from '../core/response.js';

interface Encoded {
  /** CheckResponse fields 1-3 (status, denied or ok response), encoded. */
  head: Uint8Array;
  /** The entries of the policy's own dynamic metadata, encoded (the decision id is added per check). */
  meta: Uint8Array;
}

export class AnswerEncoder {
  private readonly byValue = new WeakMap<object, Encoded>();
  private readonly byBoolean = new Map<boolean, Encoded>();

  constructor(private readonly serialize: (message: unknown) => Uint8Array) {}

  /** The bytes of `resp` (the answer to `value`), with `decisionId`; kept per value when the value cannot change. */
  encode(value: unknown, resp: PluginResponse, decisionId: string): Uint8Array {
    const frozen = typeof value === 'object' && value !== null && Object.isFrozen(value);
    let e = typeof value === 'boolean' ? this.byBoolean.get(value) : frozen ? this.byValue.get(value) : undefined;
    if (!e) {
      e = this.build(resp);
      if (typeof value === 'boolean') this.byBoolean.set(value, e);
      else if (frozen) this.byValue.set(value, e);
    }
    const w = protobuf.Writer.create();
    encodeStructEntry(w, 'decision_id', { stringValue: decisionId });
    const id = w.finish();
    const out = protobuf.Writer.create();
    out.uint32(34).uint32(e.meta.byteLength + id.byteLength);
    const tail = out.finish();
    return Buffer.concat([e.head, tail, e.meta, id]);
  }

  private build(resp: PluginResponse): Encoded {
    const { dynamicMetadata, ...rest } = resp;
    const head = own(this.serialize(rest));
    const w = protobuf.Writer.create();
    for (const [k, v] of Object.entries(dynamicMetadata)) if (k !== 'decision_id') encodeStructEntry(w, k, toValue(v) as StructValue);
    return { head, meta: own(w.finish()) };
  }
}
