// A decoded protobuf message as Go's protojson.Marshal writes it (what the OPA-Envoy plugin gives a policy as the
// parsed_body of a gRPC request): JSON field names, no zero values, 64-bit integers as strings, enums by name,
// bytes in base64, and the well-known types in their JSON forms (Timestamp, Duration, Struct, wrappers, Any, ...).
import protobuf from 'protobufjs';

type Msg = Record<string, unknown>;

const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`));
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** protoc's JSON name of a field: underscores dropped, the letter after each upper-cased. */
const jsonName = (f: protobuf.Field): string => (f.options?.json_name as string | undefined) ?? f.name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

export function protojson(msg: Msg, type: protobuf.Type): unknown {
  const wkt = wellKnown(msg, type);
  if (wkt !== undefined) return wkt;
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    f.resolve();
    const v = msg[f.name];
    if (!populated(msg, f, v)) continue;
    const entry = mapEntry(f);
    if (f.map) out[jsonName(f)] = Object.fromEntries(Object.entries(v as Msg).map(([k, x]) => [k, value(f, x)]));
    else if (entry) out[jsonName(f)] = Object.fromEntries((v as Msg[]).map((e) => [String(scalar('string', e.key ?? defaultOf(entry.key.type))), value(entry.value, e.value ?? defaultOf(entry.value.type))]));
    else if (f.repeated) out[jsonName(f)] = (v as unknown[]).map((x) => value(f, x));
    else out[jsonName(f)] = value(f, v);
  }
  return out;
}

/**
 * A map read from a descriptor set: protobufjs leaves it a repeated <Field>Entry message of a key and a value (it
 * makes map fields only from .proto text), which protojson writes as an object.
 */
function mapEntry(f: protobuf.Field): { key: protobuf.Field; value: protobuf.Field } | undefined {
  const t = f.resolvedType;
  if (!f.repeated || !(t instanceof protobuf.Type) || t.name.toLowerCase() !== `${f.name.replace(/_/g, '')}entry`.toLowerCase()) return undefined;
  const key = t.fieldsById[1];
  const value = t.fieldsById[2];
  if (!key || key.name !== 'key' || !value || value.name !== 'value' || t.fieldsArray.length !== 2) return undefined;
  value.resolve();
  return { key, value };
}

/**
 * Go's protoreflect notion of a populated field, which both protojson and the plugin's protomap go by: set when it
 * has presence (a oneof member, `optional`, a message), else when it is not its zero value.
 */
export function populated(msg: Msg, f: protobuf.Field, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (f.map) return Object.keys(v as object).length > 0;
  if (f.repeated) return (v as unknown[]).length > 0;
  if (f.partOf) return msg[f.partOf.name] === f.name;
  if (f.resolvedType instanceof protobuf.Type) return true;
  // proto2 (and editions') explicit presence: set when decoded, whatever the value; an unset one reads as its
  // declared default from the prototype.
  if ((f as unknown as { hasPresence: boolean }).hasPresence) return Object.prototype.hasOwnProperty.call(msg, f.name);
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length > 0;
  return String(v) !== '0';
}

function value(f: protobuf.Field, v: unknown): unknown {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return protojson(v as Msg, t);
  if (t instanceof protobuf.Enum) return t.valuesById[v as number] ?? v;
  return scalar(f.type, v);
}

function scalar(type: string, v: unknown): unknown {
  if (v instanceof Uint8Array || (type === 'bytes' && Array.isArray(v))) return Buffer.from(v as Uint8Array).toString('base64');
  if (LONG.has(type)) return String(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (type === 'float' && typeof v === 'number') return shortestFloat32(v);
  return v;
}

/** A float32 as Go writes it (strconv 'g', -1, 32): the shortest decimal that reads back as the same float32. */
function shortestFloat32(v: number): number {
  for (let p = 1; p < 10; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** A fraction of a second as protojson writes it: none, or 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const s = String(nanos).padStart(9, '0');
  return '.' + (s.endsWith('000000') ? s.slice(0, 3) : s.endsWith('000') ? s.slice(0, 6) : s);
}

function wellKnown(msg: Msg, type: protobuf.Type): unknown {
  const name = type.fullName;
  if (WRAPPERS.has(name)) return scalar(type.fields.value!.type, msg.value ?? defaultOf(type.fields.value!.type));
  switch (name) {
    case '.google.protobuf.Timestamp': {
      const seconds = Number(String(msg.seconds ?? 0));
      const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
      return `${iso}${fraction(Number(msg.nanos ?? 0))}Z`;
    }
    case '.google.protobuf.Duration': {
      const seconds = BigInt(String(msg.seconds ?? 0));
      const nanos = Number(msg.nanos ?? 0);
      const negative = seconds < 0n || nanos < 0;
      return `${negative ? '-' : ''}${(seconds < 0n ? -seconds : seconds).toString()}${fraction(Math.abs(nanos))}s`;
    }
    case '.google.protobuf.Struct':
      return structJson(msg);
    case '.google.protobuf.Value':
      return jsonValue(msg);
    case '.google.protobuf.ListValue':
      return ((msg.values as Msg[] | undefined) ?? []).map(jsonValue);
    case '.google.protobuf.Empty':
      return {};
    case '.google.protobuf.FieldMask':
      return ((msg.paths as string[] | undefined) ?? []).map((p) => p.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())).join(',');
    case '.google.protobuf.Any':
      return anyJson(msg, type);
    default:
      return undefined;
  }
}

const defaultOf = (t: string) => (t === 'bool' ? false : t === 'string' ? '' : t === 'bytes' ? new Uint8Array(0) : 0);

function jsonValue(v: Msg): unknown {
  // The set member of the `kind` oneof (unset members read as their defaults, so presence is asked of the oneof).
  const kind = (v.kind as string | undefined) ?? Object.keys(v).find((k) => k.endsWith('Value') || k.endsWith('_value'));
  switch (kind) {
    case 'structValue':
    case 'struct_value':
      return structJson(v[kind] as Msg);
    case 'listValue':
    case 'list_value':
      return (((v[kind] as Msg).values as Msg[] | undefined) ?? []).map(jsonValue);
    case 'stringValue':
    case 'string_value':
    case 'numberValue':
    case 'number_value':
    case 'boolValue':
    case 'bool_value':
      return v[kind];
    default:
      return null;
  }
}

/** google.protobuf.Struct as its JSON (structpb's AsMap). */
export function structJson(msg: Msg): Record<string, unknown> {
  const fields = msg.fields as Record<string, Msg> | { key?: string; value?: Msg }[] | undefined;
  // From a descriptor set the map is a list of entries (see mapEntry); from .proto text, an object.
  const entries: [string, Msg | undefined][] = Array.isArray(fields) ? fields.map((e) => [e.key ?? '', e.value]) : Object.entries(fields ?? {});
  return Object.fromEntries(entries.map(([k, v]) => [k, v ? jsonValue(v) : null]));
}

/**
 * Any: the packed message with "@type" (a well-known one under "value"). Like the plugin, which resolves it among the
 * types compiled into it, only the well-known types are known: any other makes the body unreadable (a 400).
 */
function anyJson(msg: Msg, type: protobuf.Type): unknown {
  const url = String(msg.type_url ?? msg.typeUrl ?? '');
  const name = url.slice(url.lastIndexOf('/') + 1);
  if (!name.startsWith('google.protobuf.')) throw new Error(`unable to resolve "${url}": not found`);
  const packed = type.root.lookupType(name);
  const inner = packed.decode((msg.value as Uint8Array | undefined) ?? new Uint8Array(0)) as unknown as Msg;
  const json = protojson(inner, packed);
  return wellKnown(inner, packed) !== undefined ? { '@type': url, value: json } : { '@type': url, ...(json as Msg) };
}
