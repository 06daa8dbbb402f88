// Strict protojson check of an Envoy config against Envoy's official protos (from @grpc/grpc-js-xds): every key
// must be a field of its message (proto or JSON name), every Any must name a loaded type, enums must be known
// values, durations well formed. protobufjs' own fromObject ignores unknown fields, hence this walk.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { ENVOY_PROTO_DIRS } from '../../src/check/protos.js';

const FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

let root: protobuf.Root | undefined;
export function envoyRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => {
      for (const dir of ENVOY_PROTO_DIRS) {
        const p = join(dir, target);
        if (existsSync(p)) return p;
      }
      return target;
    };
    r.loadSync(FILES, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

const WRAPPERS: Record<string, (v: unknown) => boolean> = {
  'google.protobuf.BoolValue': (v) => typeof v === 'boolean',
  'google.protobuf.StringValue': (v) => typeof v === 'string',
  'google.protobuf.UInt32Value': (v) => Number.isInteger(v) && (v as number) >= 0,
  'google.protobuf.UInt64Value': (v) => (Number.isInteger(v) && (v as number) >= 0) || (typeof v === 'string' && /^\d+$/.test(v)),
  'google.protobuf.Int32Value': (v) => Number.isInteger(v),
  'google.protobuf.Int64Value': (v) => Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v)),
  'google.protobuf.DoubleValue': (v) => typeof v === 'number',
  'google.protobuf.FloatValue': (v) => typeof v === 'number',
};

/** Returns the problems found (empty: the config is valid). */
export function checkMessage(typeName: string, value: unknown): string[] {
  const errors: string[] = [];
  walk(envoyRoot().lookupType(typeName), value, typeName, errors);
  return errors;
}

function walk(type: protobuf.Type, value: unknown, path: string, errors: string[]): void {
  const full = type.fullName.replace(/^\./, '');
  if (full === 'google.protobuf.Struct' || full === 'google.protobuf.Value' || full === 'google.protobuf.ListValue') return;
  if (full === 'google.protobuf.Duration') {
    if (typeof value !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(value)) errors.push(`${path}: not a duration ("0.25s")`);
    return;
  }
  if (full === 'google.protobuf.Timestamp') {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) errors.push(`${path}: not a timestamp`);
    return;
  }
  if (WRAPPERS[full]) {
    if (!WRAPPERS[full]!(value)) errors.push(`${path}: not a valid ${full}`);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${path}: expected an object for ${full}`);
    return;
  }
  const fields = value as Record<string, unknown>;
  if (full === 'google.protobuf.Any') {
    const url = fields['@type'];
    if (typeof url !== 'string' || !url.startsWith('type.googleapis.com/')) {
      errors.push(`${path}: Any without a type.googleapis.com/ @type`);
      return;
    }
    const inner = envoyRoot().lookup(url.slice('type.googleapis.com/'.length));
    if (!(inner instanceof protobuf.Type)) {
      errors.push(`${path}: unknown type ${url}`);
      return;
    }
    const { ['@type']: _t, ...rest } = fields;
    walk(inner, rest, `${path}<${inner.name}>`, errors);
    return;
  }
  const byJsonName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) byJsonName.set(f.name, f).set(camel(f.name), f);
  const oneofsSeen = new Map<string, string>();
  for (const [key, v] of Object.entries(fields)) {
    const f = byJsonName.get(key);
    const p = `${path}.${key}`;
    if (!f) {
      errors.push(`${p}: unknown field of ${full}`);
      continue;
    }
    if (f.partOf) {
      const other = oneofsSeen.get(f.partOf.name);
      if (other) errors.push(`${p}: oneof ${f.partOf.name} already set by ${other}`);
      oneofsSeen.set(f.partOf.name, key);
    }
    if (f.map) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) errors.push(`${p}: expected a map`);
      else for (const [k, x] of Object.entries(v)) scalarOrMessage(f, x, `${p}.${k}`, errors);
    } else if (f.repeated) {
      if (!Array.isArray(v)) errors.push(`${p}: expected a list`);
      else v.forEach((x, i) => scalarOrMessage(f, x, `${p}[${i}]`, errors));
    } else {
      scalarOrMessage(f, v, p, errors);
    }
  }
}

function scalarOrMessage(f: protobuf.Field, v: unknown, path: string, errors: string[]): void {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return walk(t, v, path, errors);
  if (t instanceof protobuf.Enum) {
    if (!(typeof v === 'string' && v in t.values) && !(typeof v === 'number' && Object.values(t.values).includes(v))) errors.push(`${path}: unknown ${t.name} value ${JSON.stringify(v)}`);
    return;
  }
  const ok =
    f.type === 'string' ? typeof v === 'string'
    : f.type === 'bool' ? typeof v === 'boolean'
    : f.type === 'bytes' ? typeof v === 'string'
    : ['double', 'float'].includes(f.type) ? typeof v === 'number'
    : Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v));
  if (!ok) errors.push(`${path}: not a ${f.type}`);
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
