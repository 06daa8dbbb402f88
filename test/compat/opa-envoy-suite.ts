// The OPA-Envoy compatibility suite: policies in the style of the plugin's examples (test/compat/opa-envoy/*), each
// with requests and the Envoy-observable answer expected. Shared by the tenantgate test and the side-by-side run
// against the plugin (OPA_ENVOY_BIN, test/compat/compare.test.ts).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCheckRequest } from '../../src/check/envoy-request.js';
import { TRUSTED_HEADERS } from '../../src/core/upstream-headers.js';
import { httpStatusOf, type CheckResponseMsg } from '../../src/cli/check-client.js';

/** The project's suite, or another directory of policies and cases in its format (OPA_ENVOY_SUITE). */
export const SUITE_DIR = process.env.OPA_ENVOY_SUITE ?? new URL('./opa-envoy/', import.meta.url).pathname;

export interface CaseRequest {
  method: string;
  path: string;
  headers?: [string, string][];
  body?: string;
  /** base64 of http.raw_body. */
  rawBody?: string;
  /** attributes.source.principal (Istio's SPIFFE id of the caller). */
  principal?: string;
  /** Envoy cut the body at its max_request_bytes (it then sends x-envoy-auth-partial-body: true). */
  partialBody?: boolean;
  /** A whole CheckRequest in its JSON form (snake_case names, as the plugin's tests write them), sent as it is. */
  check?: Record<string, unknown>;
}

/** What Envoy observes; header pairs sorted (the plugin's order comes from a Go map). */
export interface Observed {
  code?: number;
  rpcError?: number;
  ok?: { headers?: string[][]; headersToRemove?: string[]; responseHeadersToAdd?: string[][]; queryParametersToRemove?: string[]; queryParametersToSet?: string[][] };
  denied?: { status: number; headers: string[][]; body: string };
  /** dynamic_metadata without decision_id; null: none at all. */
  metadata?: Record<string, unknown> | null;
}

export interface Case {
  name: string;
  request: CaseRequest;
  expect: Observed;
}

export interface Policy {
  name: string;
  dir: string;
  path: string;
  /** A .proto in dir whose descriptor set decodes gRPC bodies (the plugin's proto-descriptor), or that set (.pb). */
  proto?: string;
  /** The plugin's dry-run and skip-request-body-parse options. */
  options?: { dry_run?: boolean; skip_request_body_parse?: boolean };
  cases: Case[];
}

export function suite(): Policy[] {
  return readdirSync(SUITE_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(SUITE_DIR, d.name);
      const { path, proto, options, cases } = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Omit<Policy, 'name' | 'dir'>;
      return { name: d.name, dir, path, proto, options, cases };
    });
}

/** The policy's descriptor set (as protoc --descriptor_set_out writes it), built from its .proto into `outDir`. */
export async function descriptorSet(policy: Policy, outDir: string): Promise<string | undefined> {
  if (!policy.proto) return undefined;
  // A descriptor set already built (protoc's --descriptor_set_out, as the plugin's own example ships one).
  if (policy.proto.endsWith('.pb')) return join(policy.dir, policy.proto);
  const protobuf = (await import('protobufjs')).default;
  const { default: descriptor } = await import('protobufjs/ext/descriptor/index.js');
  const root = protobuf.loadSync(join(policy.dir, policy.proto));
  const syntax = /^\s*syntax\s*=\s*"(proto[23])"/m.exec(readFileSync(join(policy.dir, policy.proto), 'utf8'))?.[1] ?? 'proto2';
  const set = (root as unknown as { toDescriptor(syntax: string): protobuf.Message & { file: { name: string; package: string; dependency: string[] }[] } }).toDescriptor(syntax);
  // protobufjs writes one file per package, without imports; as protoc's --include_imports set, the policy's files
  // import the well-known types' file.
  const wkt = set.file.find((f) => f.package === 'google.protobuf');
  if (wkt) for (const f of set.file) if (f !== wkt) f.dependency = [...(f.dependency ?? []), wkt.name];
  // protoc names a map's entry message <Field>Entry; protobufjs leaves off "Entry", which Go refuses.
  type Message = { name: string; field?: { typeName?: string }[]; nestedType?: (Message & { options?: { mapEntry?: boolean } })[] };
  const entries = (m: Message) => {
    for (const n of m.nestedType ?? []) {
      entries(n);
      if (!n.options?.mapEntry) continue;
      const old = n.name;
      n.name = `${old}Entry`;
      for (const fd of m.field ?? []) if (fd.typeName === old || fd.typeName?.endsWith(`.${old}`)) fd.typeName = `${fd.typeName.slice(0, -old.length)}${n.name}`;
    }
  };
  for (const f of set.file as unknown as { messageType?: Message[] }[]) for (const m of f.messageType ?? []) entries(m);
  const file = join(outDir, `${policy.name}.pb`);
  writeFileSync(file, (descriptor as unknown as { FileDescriptorSet: protobuf.Type }).FileDescriptorSet.encode(set).finish());
  return file;
}

/** The CheckRequest Envoy would send for a case. */
export function checkRequestOf(r: CaseRequest): Record<string, unknown> {
  if (r.check) return camelCased(r.check) as Record<string, unknown>;
  const req = buildCheckRequest({ method: r.method, path: r.path, headers: r.headers, body: r.body }) as {
    attributes: { source?: Record<string, unknown>; request: { http: Record<string, unknown> } };
  };
  if (r.principal) req.attributes.source = { ...(req.attributes.source ?? {}), principal: r.principal };
  if (r.rawBody !== undefined) req.attributes.request.http.rawBody = Buffer.from(r.rawBody, 'base64');
  if (r.partialBody) (req.attributes.request.http.headers as Record<string, string>)['x-envoy-auth-partial-body'] = 'true';
  return req;
}

/** Field names in camelCase as the gRPC client takes them; the keys of maps (headers, ...) as they are. */
function camelCased(v: unknown, isMap = false): unknown {
  if (Array.isArray(v)) return v.map((x) => camelCased(x));
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [isMap ? k : k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camelCased(x, !isMap && MAPS.has(k))]),
  );
}
const MAPS = new Set(['headers', 'context_extensions', 'contextExtensions', 'filter_metadata', 'filterMetadata', 'fields']);

const TRUSTED: ReadonlySet<string> = new Set(TRUSTED_HEADERS);
const pairs = (hs: { header?: { key?: string; value?: string } }[] | undefined) => (hs ?? []).map((h) => [h.header?.key ?? '', h.header?.value ?? '']).sort(byPair);
const byPair = (a: string[], b: string[]) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1);

/**
 * A CheckResponse as Envoy observes it. tenantgate's removal of its own trusted headers (the one deliberate addition,
 * docs/opa-envoy.md) is left out, so that the plugin's answers and tenantgate's compare as they are.
 */
export function observe(res: CheckResponseMsg | { rpcError: number }): Observed {
  if ('rpcError' in res) return { rpcError: res.rpcError };
  const out: Observed = { code: res.status?.code ?? 0 };
  const ok = res.okResponse;
  if (ok) {
    const o: NonNullable<Observed['ok']> = {};
    const headers = pairs(ok.headers);
    if (headers.length) o.headers = headers;
    const remove = (ok.headersToRemove ?? []).filter((h) => !TRUSTED.has(h)).sort();
    if (remove.length) o.headersToRemove = remove;
    const add = pairs(ok.responseHeadersToAdd);
    if (add.length) o.responseHeadersToAdd = add;
    const okAny = ok as { queryParametersToRemove?: string[]; queryParametersToSet?: { key?: string; value?: string }[] };
    if (okAny.queryParametersToRemove?.length) o.queryParametersToRemove = [...okAny.queryParametersToRemove].sort();
    if (okAny.queryParametersToSet?.length) o.queryParametersToSet = okAny.queryParametersToSet.map((q) => [q.key ?? '', q.value ?? '']).sort(byPair);
    if (Object.keys(o).length) out.ok = o;
  }
  const denied = res.deniedResponse;
  if (denied) {
    const body = denied.body ?? '';
    out.denied = { status: httpStatusOf(res as CheckResponseMsg), headers: pairs(denied.headers), body: body.startsWith('request_parse_error:') ? '<request_parse_error>' : body };
  }
  const meta = fromStruct(res.dynamicMetadata as StructMsg | undefined);
  if (meta === null) out.metadata = null;
  else {
    delete meta.decision_id;
    if (Object.keys(meta).length) out.metadata = meta;
  }
  return out;
}

type StructMsg = { fields?: Record<string, ValueMsg> };
type ValueMsg = { nullValue?: unknown; numberValue?: number; stringValue?: string; boolValue?: boolean; structValue?: StructMsg; listValue?: { values?: ValueMsg[] }; kind?: string };

function fromStruct(s: StructMsg | undefined | null): Record<string, unknown> | null {
  if (!s) return null;
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, fromValue(v)]));
}

function fromValue(v: ValueMsg): unknown {
  if (v.structValue) return fromStruct(v.structValue);
  if (v.listValue) return (v.listValue.values ?? []).map(fromValue);
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return null;
}



/** One case against a server at `address`: the CheckResponse as Envoy observes it, or the RPC's error code. */
export async function runCase(address: string, c: Case): Promise<Observed> {
  const { createAuthClient, callCheck } = await import('../../src/cli/check-client.js');
  const client = createAuthClient(address);
  try {
    return observe(await callCheck(client, checkRequestOf(c.request), 5000));
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code !== 'number') throw err;
    return observe({ rpcError: code });
  } finally {
    client.close();
  }
}
