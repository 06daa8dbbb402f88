// An emulator of Envoy's ext_authz HTTP filter as a client (ENVOY-EXTAUTHZ.md section 3.8): it builds the
// CheckRequest as Envoy does, calls the real server over gRPC with a deadline, and applies the answer the way
// Envoy would, so tests assert what the upstream or the client really gets.
import type * as grpc from '@grpc/grpc-js';
import { buildCheckRequest, type HttpRequestSpec } from '../../src/check/envoy-request.js';
import { callCheck, httpStatusOf, type CheckResponseMsg, type HeaderOptionMsg } from '../../src/cli/check-client.js';

export interface EnvoyOptions {
  timeoutMs?: number;
  statusOnError?: number;
  failureModeAllow?: boolean;
  /** 1.37 turns an unset `append` into a duplicate header (regression #43310): the strict choice. */
  version?: '1.36' | '1.37';
  /** Override the CheckRequest (to send something Envoy would not). */
  rawRequest?: unknown;
}

export type EnvoyResult =
  | {
      outcome: 'upstream';
      /** Request headers as the upstream receives them (a name with two values means a duplicate). */
      headers: Record<string, string[]>;
      responseHeadersToAdd: HeaderOptionMsg[];
      dynamicMetadata: Record<string, unknown>;
      response: CheckResponseMsg;
    }
  | {
      outcome: 'denied';
      status: number;
      grpcStatus: number;
      headers: Record<string, string[]>;
      body: string;
      dynamicMetadata: Record<string, unknown>;
      response: CheckResponseMsg;
    }
  | { outcome: 'error'; status: number; error: grpc.ServiceError };

export async function envoyCheck(client: grpc.Client, spec: HttpRequestSpec, opts: EnvoyOptions = {}): Promise<EnvoyResult> {
  const request = opts.rawRequest ?? buildCheckRequest(spec);
  let res: CheckResponseMsg;
  try {
    res = await callCheck(client, request, opts.timeoutMs ?? 1000);
  } catch (err) {
    // An RPC failure is Envoy's error path, never a deny.
    if (opts.failureModeAllow) throw new Error('failure_mode_allow would let this request through');
    return { outcome: 'error', status: opts.statusOnError ?? 403, error: err as grpc.ServiceError };
  }
  const meta = fromStruct(res.dynamicMetadata);
  const code = res.status?.code ?? 0;
  if (code === 0) {
    const headers: Record<string, string[]> = {};
    const reqHeaders = (buildCheckRequestHeaders(request) ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(reqHeaders)) if (!k.startsWith(':')) headers[k] = [v];
    for (const opt of res.okResponse?.headers ?? []) {
      const key = opt.header!.key!.toLowerCase();
      const value = opt.header!.value ?? '';
      const append = opt.append?.value;
      if (append === true) {
        if (headers[key]) headers[key] = [headers[key]!.join(',') + ',' + value];
      } else if (append === undefined && opts.version !== '1.36') {
        (headers[key] ??= []).push(value);
      } else {
        headers[key] = [value];
      }
    }
    // Removal happens after the sets: a header both set and removed ends up removed.
    for (const name of res.okResponse?.headersToRemove ?? []) {
      const key = name.toLowerCase();
      if (!key.startsWith(':') && key !== 'host') delete headers[key];
    }
    return { outcome: 'upstream', headers, responseHeadersToAdd: res.okResponse?.responseHeadersToAdd ?? [], dynamicMetadata: meta, response: res };
  }
  const denied = res.deniedResponse;
  const used = (denied?.headers ?? []).filter((h) => h.append?.value !== true);
  const headers: Record<string, string[]> = {};
  for (const h of used) (headers[h.header!.key!.toLowerCase()] ??= []).push(h.header!.value ?? '');
  const body = denied?.body ?? '';
  if (body && !headers['content-type']) headers['content-type'] = ['text/plain'];
  return { outcome: 'denied', status: denied?.status?.code ? httpStatusOf(res) : 403, grpcStatus: code, headers, body, dynamicMetadata: meta, response: res };
}

function buildCheckRequestHeaders(request: unknown): unknown {
  return (request as { attributes?: { request?: { http?: { headers?: unknown } } } }).attributes?.request?.http?.headers;
}

/** google.protobuf.Struct (as decoded by protobufjs) → plain JS. */
export function fromStruct(s: { fields?: Record<string, unknown> } | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v as Record<string, unknown>);
  return out;
}

function fromValue(v: Record<string, unknown>): unknown {
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('structValue' in v) return fromStruct(v.structValue as { fields?: Record<string, unknown> });
  if ('listValue' in v) return ((v.listValue as { values?: Record<string, unknown>[] }).values ?? []).map(fromValue);
  return null;
}
