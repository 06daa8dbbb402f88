// uuid.parse as OPA has it (its internal/uuid over google/uuid): the forms google/uuid reads, and for versions 1
// and 2 the time, clock sequence and node id.
import { RawJson, str, type Builtins } from '../wasm/builtin.js';

const GREGORIAN_OFFSET = 122192928000000000n; // 100 ns intervals from 1582-10-15 to 1970-01-01

/** The 16 bytes of a UUID in one of google/uuid's forms, or undefined. */
function uuidBytes(s: string): Uint8Array | undefined {
  let hex: string;
  if (s.length === 36 + 9) {
    if (s.slice(0, 9).toLowerCase() !== 'urn:uuid:') return undefined;
    s = s.slice(9);
  } else if (s.length === 36 + 2) {
    if (s[0] !== '{' || s[37] !== '}') return undefined;
    s = s.slice(1, 37);
  }
  if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
    hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  } else if (s.length === 32) hex = s;
  else return undefined;
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined;
  return Buffer.from(hex, 'hex');
}

function variant(b: number): string {
  if ((b & 0xc0) === 0x80) return 'RFC4122';
  if ((b & 0xe0) === 0xc0) return 'Microsoft';
  if ((b & 0xe0) === 0xe0) return 'Future';
  return 'Reserved';
}

function macVariables(b: number): string {
  if ((b & 0b11) === 0b11) return 'local:multicast';
  if ((b & 0b01) === 0b01) return 'global:multicast';
  if ((b & 0b10) === 0b10) return 'local:unicast';
  return 'global:unicast';
}

const DOMAINS = ['Person', 'Group', 'Org'];

export const uuidBuiltins: Builtins = {
  'uuid.parse': ([s]) => {
    const u = uuidBytes(str(s));
    if (!u) return undefined;
    const b = Buffer.from(u);
    const version = u[6]! >> 4;
    const out: Record<string, unknown> = { version, variant: variant(u[8]!) };
    if (version === 1 || version === 2) {
      const t = BigInt(b.readUInt32BE(0)) | (BigInt(b.readUInt16BE(4)) << 32n) | (BigInt(b.readUInt16BE(6) & 0xfff) << 48n);
      const since = t - GREGORIAN_OFFSET;
      // google/uuid's UnixTime (whole seconds and the rest, truncated toward zero), then OPA's sec*1e9+ns, all
      // in int64 arithmetic that wraps around as Go's does.
      const wrap = (v: bigint) => BigInt.asIntN(64, v);
      const ns = wrap(wrap((since / 10_000_000n) * 1_000_000_000n) + (since % 10_000_000n) * 100n);
      out.time = new RawJson(ns.toString());
      out.nodeid = [...u.subarray(10)].map((x) => x.toString(16).padStart(2, '0')).join('-');
      out.macvariables = macVariables(u[10]!);
      out.clocksequence = b.readUInt16BE(8) & 0x3fff;
      if (version === 2) {
        out.id = b.readUInt32BE(0);
        out.domain = DOMAINS[u[9]!] ?? `Domain${u[9]}`;
      }
    }
    return new RawJson(`{${Object.entries(out).map(([k, v]) => `${JSON.stringify(k)}:${v instanceof RawJson ? v.text : JSON.stringify(v)}`).join(',')}}`);
  },
};
