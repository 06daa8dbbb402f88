// A real Check call against a running server, printed as a person wants to read it (`tenantgate check`).
import * as grpc from '@grpc/grpc-js';
import { authClientConstructor, loadPackageDefinition } from '../check/protos.js';
import { buildCheckRequest, type HttpRequestSpec } from '../check/envoy-request.js';
import { clientCredentials, type ClientTlsFiles } from '../tls/client-tls.js';
import type { HeaderOption } from '../core/response.js';
import { UnreachableError, isUnreachable } from '../core/errors.js';

/** A header option as the client decodes it from the wire: the model's, with any field possibly absent. */
export type HeaderOptionMsg = { header?: Partial<HeaderOption['header']> & { rawValue?: Buffer }; append?: Partial<HeaderOption['append']> | null };

export interface CheckResponseMsg {
  status?: { code?: number; message?: string };
  okResponse?: { headers?: HeaderOptionMsg[]; headersToRemove?: string[]; responseHeadersToAdd?: HeaderOptionMsg[] };
  deniedResponse?: { status?: { code?: string | number }; headers?: HeaderOptionMsg[]; body?: string };
  dynamicMetadata?: { fields?: Record<string, unknown> };
}

export function createAuthClient(address: string, tls: ClientTlsFiles = {}): grpc.Client & Record<string, unknown> {
  const Client = authClientConstructor();
  return new Client(address, clientCredentials(tls), { 'grpc.enable_channelz': 0 }) as grpc.Client & Record<string, unknown>;
}

export function callCheck(client: grpc.Client, request: unknown, timeoutMs = 5000): Promise<CheckResponseMsg> {
  return new Promise((resolve, reject) => {
    const check = (client as unknown as Record<string, Function>)['Check']!;
    check.call(client, request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: CheckResponseMsg) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export async function checkOnce(address: string, spec: HttpRequestSpec, timeoutMs = 5000, tls: ClientTlsFiles = {}): Promise<CheckResponseMsg> {
  const client = createAuthClient(address, tls);
  try {
    return await callCheck(client, buildCheckRequest(spec), timeoutMs);
  } catch (err) {
    throw isUnreachable(err) ? new UnreachableError(address, 'ext_authz checks') : err;
  } finally {
    client.close();
  }
}

/** protobufjs gives HttpStatus.code as an enum name with `enums: String`; callers want the number. */
export function httpStatusOf(res: CheckResponseMsg): number {
  const c = res.deniedResponse?.status?.code;
  if (typeof c === 'number') return c || 403;
  return (c && statusNumbers().get(c)) || 403;
}

let statusByName: Map<string, number> | undefined;
function statusNumbers(): Map<string, number> {
  if (!statusByName) {
    const e = loadPackageDefinition()['envoy.type.v3.StatusCode'] as unknown as { type: { value: { name: string; number: number }[] } };
    statusByName = new Map(e.type.value.map((v) => [v.name, v.number]));
  }
  return statusByName;
}

export function formatResponse(res: CheckResponseMsg): string {
  const code = res.status?.code ?? 0;
  const lines: string[] = [];
  const hdr = (h: HeaderOptionMsg) => `  ${h.header?.key}: ${h.header?.value ?? h.header?.rawValue?.toString('utf8') ?? ''}`;
  if (code === 0) {
    lines.push(`ALLOW  (grpc status 0)`);
    lines.push('headers to the upstream:');
    for (const h of res.okResponse?.headers ?? []) lines.push(hdr(h));
    if (res.okResponse?.headersToRemove?.length) lines.push(`headers removed: ${res.okResponse.headersToRemove.join(', ')}`);
    if (res.okResponse?.responseHeadersToAdd?.length) {
      lines.push('headers added to the response:');
      for (const h of res.okResponse.responseHeadersToAdd) lines.push(hdr(h));
    }
  } else {
    lines.push(`DENY ${httpStatusOf(res)}  (grpc status ${code}: ${res.status?.message ?? ''})`);
    lines.push('response headers:');
    for (const h of res.deniedResponse?.headers ?? []) lines.push(hdr(h));
    lines.push(`body: ${res.deniedResponse?.body ?? ''}`);
  }
  return lines.join('\n');
}
