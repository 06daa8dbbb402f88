// Envoy's external processing filter (envoy.service.ext_proc.v3.ExternalProcessor/Process), on the response path:
// one bidirectional stream per HTTP request. The request's headers name the decision and the caller (tenantgate's
// trusted headers, set by ext_authz before this filter runs); the response's headers say whether it streams; its
// body is read for the token usage as it passes, and every message is answered at once with "continue, unchanged":
// the processor never holds or alters the response. At the end of the body the usage goes to the sink.
import type * as grpc from '@grpc/grpc-js';
import { UsageReader, type TokenUsage } from './usage.js';
import { costOf, type PriceTable } from './prices.js';

type HeaderMap = { headers?: { key?: string; value?: string; rawValue?: Uint8Array }[] };
type Body = { body?: Uint8Array; endOfStream?: boolean };
export interface ProcessingRequest {
  requestHeaders?: { headers?: HeaderMap; endOfStream?: boolean };
  responseHeaders?: { headers?: HeaderMap; endOfStream?: boolean };
  requestBody?: Body;
  responseBody?: Body;
  requestTrailers?: unknown;
  responseTrailers?: unknown;
}

/** What a response used, and whose it was. */
export interface UsedTokens extends TokenUsage {
  decision_id: string | null;
  tenant: string | null;
  user: string | null;
  api_key_id: string | null;
  /** US dollars, from genai.models; null when the model has no price. */
  cost_usd: number | null;
}

export interface ExtProcOptions {
  prices: PriceTable;
  maxResponseBytes: number;
  used(u: UsedTokens): void;
  /** A stream that could not be read (a message of no known kind): logged by the caller, the stream ended. */
  failed(err: Error): void;
}

const CONTINUE = Object.freeze({});

function headerValues(map: HeaderMap | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    const key = h.key?.toLowerCase();
    if (!key || !names.includes(key)) continue;
    out[key] = h.rawValue && h.rawValue.length ? Buffer.from(h.rawValue).toString('latin1') : (h.value ?? '');
  }
  return out;
}

const REQUEST_HEADERS = ['x-decision-id', 'x-tenant-id', 'x-user-id', 'x-api-key-id'] as const;

/** One stream: Envoy's messages for one HTTP request, each answered in order. */
export function processStream(call: grpc.ServerDuplexStream<ProcessingRequest, unknown>, opts: ExtProcOptions): void {
  let who: Record<string, string> = {};
  let reader: UsageReader | undefined;
  let done = false;
  const finish = () => {
    if (done || !reader) return;
    done = true;
    const u = reader.end();
    if (u) opts.used({ ...u, decision_id: who['x-decision-id'] ?? null, tenant: who['x-tenant-id'] ?? null, user: who['x-user-id'] ?? null, api_key_id: who['x-api-key-id'] ?? null, cost_usd: costOf(opts.prices, u) });
  };
  call.on('data', (m: ProcessingRequest) => {
    if (m.requestHeaders) {
      who = headerValues(m.requestHeaders.headers, REQUEST_HEADERS);
      call.write({ requestHeaders: { response: CONTINUE } });
    } else if (m.requestBody) call.write({ requestBody: { response: CONTINUE } });
    else if (m.requestTrailers) call.write({ requestTrailers: {} });
    else if (m.responseHeaders) {
      const type = headerValues(m.responseHeaders.headers, ['content-type'])['content-type'] ?? '';
      reader = new UsageReader(/^text\/event-stream\b/i.test(type), opts.maxResponseBytes);
      call.write({ responseHeaders: { response: CONTINUE } });
      if (m.responseHeaders.endOfStream) finish();
    } else if (m.responseBody) {
      if (m.responseBody.body?.length) reader?.push(m.responseBody.body);
      call.write({ responseBody: { response: CONTINUE } });
      if (m.responseBody.endOfStream) finish();
    } else if (m.responseTrailers) {
      finish();
      call.write({ responseTrailers: {} });
    } else {
      opts.failed(new Error('a ProcessingRequest of no known kind'));
      call.end();
    }
  });
  call.on('end', () => {
    finish();
    call.end();
  });
  // A stream Envoy resets (the client went away) ends here: what was read of the body is not a usage.
  call.on('error', () => undefined);
}
