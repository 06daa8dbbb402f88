// A decision as the OPA-Envoy plugin turns it into a CheckResponse (its internal.go check and envoyauth/response.go):
// a boolean, or an object whose every field is honoured; a decision it cannot read is an error (the RPC fails, and
// Envoy applies its failure mode). What tenantgate adds: the client's copies of tenantgate's trusted headers are
// removed on an allow unless the policy sets them (so the upstream can trust them), and dynamic_metadata carries
// the decision id, as the plugin's does.

/** HeaderValueOption with `append` unset, as the plugin sends it (Envoy then appends to a header the request has). */
export interface PluginHeader {
  header: { key: string; value: string };
}

export interface PluginResponse {
  status: { code: number; message?: string };
  okResponse?: {
    headers: PluginHeader[];
    headersToRemove: string[];
    responseHeadersToAdd: PluginHeader[];
    queryParametersToRemove: string[];
    queryParametersToSet: { key: string; value: string }[];
  };
  deniedResponse?: { status: { code: number }; headers: PluginHeader[]; body: string };
  dynamicMetadata: Record<string, unknown>;
}

/** Why the plugin would fail the RPC for this decision (gRPC UNKNOWN, with this message). */
export class DecisionError extends Error {
  override name = 'DecisionError';
}

const OK = 0;
const PERMISSION_DENIED = 7;

// The HTTP status codes Envoy's StatusCode enum names (envoy/type/v3/http_status.proto).
const ENVOY_STATUS = new Set([
  100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
  412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export interface ResponseOptions {
  decisionId: string;
  dryRun: boolean;
  /** tenantgate's trusted header names, removed from an allowed request unless the policy sets them. */
  trustedHeaders: readonly string[];
}

export function pluginResponse(decision: unknown, o: ResponseOptions): PluginResponse {
  const allowed = isAllowed(decision);
  const resp: PluginResponse = { status: { code: allowed ? OK : PERMISSION_DENIED }, dynamicMetadata: {} };
  if (isObject(decision)) {
    const headers = headerOptions(decision, 'headers');
    const metadata = decision.dynamic_metadata;
    if (metadata !== undefined) {
      if (!isObject(metadata)) throw new DecisionError(`type assertion error, expected dynamic_metadata to be of type 'object' but got '${goType(metadata)}'`);
      resp.dynamicMetadata = { ...metadata };
    }
    if (allowed) {
      resp.okResponse = {
        headers,
        headersToRemove: [...strings(decision, 'request_headers_to_remove'), ...unsetTrusted(headers, o.trustedHeaders)],
        responseHeadersToAdd: headerOptions(decision, 'response_headers_to_add'),
        queryParametersToRemove: strings(decision, 'query_parameters_to_remove'),
        queryParametersToSet: queryToSet(decision),
      };
    } else {
      resp.deniedResponse = { status: { code: httpStatus(decision) }, headers, body: body(decision) };
    }
  } else if (allowed) {
    // A boolean allow: the plugin sends no HTTP response at all; tenantgate still strips spoofed trusted headers.
    resp.okResponse = { headers: [], headersToRemove: [...o.trustedHeaders], responseHeadersToAdd: [], queryParametersToRemove: [], queryParametersToSet: [] };
  }
  if (o.dryRun && resp.status.code !== OK) {
    resp.status = { code: OK };
    resp.deniedResponse = undefined;
    resp.okResponse = { headers: [], headersToRemove: [...o.trustedHeaders], responseHeadersToAdd: [], queryParametersToRemove: [], queryParametersToSet: [] };
  }
  resp.dynamicMetadata.decision_id = o.decisionId;
  return resp;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's %T of a JSON value, for the plugin's error messages. */
function goType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'json.Number';
  if (Array.isArray(v)) return '[]interface {}';
  if (v === null) return '<nil>';
  return 'map[string]interface {}';
}

function isAllowed(decision: unknown): boolean {
  if (typeof decision === 'boolean') return decision;
  if (!isObject(decision)) throw new DecisionError(`illegal value for policy evaluation result: ${goType(decision)}`);
  if (!('allowed' in decision)) throw new DecisionError('unable to determine evaluation result due to missing "allowed" key');
  if (typeof decision.allowed !== 'boolean') throw new DecisionError(`type assertion error, expected allowed to be of type 'boolean' but got '${goType(decision.allowed)}'`);
  return decision.allowed;
}

function strings(decision: Record<string, unknown>, field: string): string[] {
  const v = decision[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new DecisionError(`type assertion error, expected ${field} to be of type '[]string' but got '${goType(v)}'`);
  return v.map((x) => {
    if (typeof x !== 'string') throw new DecisionError(`type assertion error, expected ${field} value to be of type 'string' but got '${goType(x)}'`);
    return x;
  });
}

/** `headers` or `response_headers_to_add`: an object (string or list-of-strings values) or a list of such objects. */
function headerOptions(decision: Record<string, unknown>, field: string): PluginHeader[] {
  const v = decision[field];
  if (v === undefined) return [];
  const maps = Array.isArray(v) ? v : [v];
  const out: PluginHeader[] = [];
  for (const m of maps) {
    if (!isObject(m)) throw new DecisionError(`type assertion error, expected headers to be of type 'object' but got '${goType(m)}'`);
    for (const [key, value] of Object.entries(m)) {
      const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
      if (!values) throw new DecisionError(`type assertion error for header '${key}'`);
      for (const x of values) {
        if (typeof x !== 'string') throw new DecisionError(`invalid value type ${goType(x)} for header '${key}'`);
        out.push({ header: { key, value: x } });
      }
    }
  }
  return out;
}

function unsetTrusted(headers: PluginHeader[], trusted: readonly string[]): string[] {
  const set = new Set(headers.map((h) => h.header.key.toLowerCase()));
  return trusted.filter((t) => !set.has(t));
}

function queryToSet(decision: Record<string, unknown>): { key: string; value: string }[] {
  const v = decision.query_parameters_to_set;
  if (v === undefined) return [];
  if (!isObject(v)) throw new DecisionError(`type assertion error, expected query_parameters_to_set to be a map but got '${goType(v)}'`);
  const out: { key: string; value: string }[] = [];
  for (const [key, value] of Object.entries(v)) {
    if (typeof value === 'string') out.push({ key, value });
    else if (Array.isArray(value)) {
      for (const x of value) {
        if (typeof x !== 'string') throw new DecisionError(`type assertion error: expected array element to be string but got '${goType(x)}'`);
        out.push({ key, value: x });
      }
    } else throw new DecisionError(`type assertion error, expected value to be string or array but got '${goType(value)}'`);
  }
  return out;
}

function body(decision: Record<string, unknown>): string {
  const v = decision.body;
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new DecisionError(`type assertion error, expected body to be of type 'string' but got '${goType(v)}'`);
  return v;
}

function httpStatus(decision: Record<string, unknown>): number {
  const v = decision.http_status;
  if (v === undefined) return 403;
  if (typeof v !== 'number') throw new DecisionError(`type assertion error, expected http_status to be of type 'number' but got '${goType(v)}'`);
  if (!Number.isInteger(v)) throw new DecisionError(`error converting JSON number to int: strconv.ParseInt: parsing "${v}": invalid syntax`);
  if (!ENVOY_STATUS.has(v)) throw new DecisionError(`invalid HTTP status code ${v}`);
  return v;
}
