// net.cidr_* as OPA has them (topdown/cidr.go), on Go's net package semantics: ParseIP and ParseCIDR (IPv4 with no
// leading zeros, IPv6 with an embedded IPv4, no zones), IPv4-mapped IPv6 addresses taken as IPv4, and addresses
// printed as Go prints them. Results that are sets in OPA are returned as sets.
import { RegoText, str, type Builtins } from '../wasm/builtin.js';
import { parseRego, RegoSet, regoText, type RegoValue } from '../wasm/rego-value.js';

type IP = Uint8Array; // 4 or 16 bytes, as Go's net.IP
interface IPNet {
  ip: IP;
  mask: Uint8Array;
}

const V4_IN_V6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIPv4(s: string): IP | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0') || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIPv6(s: string): IP | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return undefined;
  const all = [...head, ...Array<number>(8 - n).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Go's net.ParseIP: the 16-byte form. */
export function parseIP(s: string): IP | undefined {
  const v4 = s.includes(':') ? undefined : parseIPv4(s);
  if (v4) return Uint8Array.from([...V4_IN_V6, ...v4]);
  return s.includes(':') ? parseIPv6(s) : undefined;
}

/** Go's net.ParseCIDR: the network (address masked) with a 4- or 16-byte mask. */
function parseCIDR(s: string): IPNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const v4 = addr.includes(':') ? undefined : parseIPv4(addr);
  const ip = v4 ?? (addr.includes(':') ? parseIPv6(addr) : undefined);
  const bits = v4 ? 32 : 128;
  if (!ip || !/^\d+$/.test(len) || Number(len) > bits) return undefined;
  const mask = cidrMask(Number(len), bits);
  return { ip: maskIP(ip, mask), mask };
}

function cidrMask(ones: number, bits: number): Uint8Array {
  const m = new Uint8Array(bits / 8);
  for (let i = 0; i < m.length; i++) {
    const n = Math.max(0, Math.min(8, ones - 8 * i));
    m[i] = (0xff << (8 - n)) & 0xff;
  }
  return m;
}

const isV4Mapped = (ip: IP) => ip.length === 16 && V4_IN_V6.every((b, i) => ip[i] === b);
/** Go's IP.To4: the 4-byte form of an IPv4 (or IPv4-mapped) address. */
const to4 = (ip: IP): IP | undefined => (ip.length === 4 ? ip : isV4Mapped(ip) ? ip.subarray(12) : undefined);

/** Go's IP.Mask. */
function maskIP(ip: IP, mask: Uint8Array): IP {
  let m = mask;
  let a = ip;
  if (m.length === 16 && a.length === 4 && m.subarray(0, 12).every((b) => b === 0xff)) m = m.subarray(12);
  if (m.length === 4 && a.length === 16 && isV4Mapped(a)) a = a.subarray(12);
  return a.map((b, i) => b & (m[i] ?? 0));
}

/** Go's networkNumberAndMask: the IPv4 form when the network is IPv4, the mask to match. */
function networkAndMask(n: IPNet): [IP, Uint8Array] | undefined {
  const ip = to4(n.ip) ?? (n.ip.length === 16 ? n.ip : undefined);
  if (!ip) return undefined;
  let m = n.mask;
  if (m.length === 4 && ip.length !== 4) return undefined;
  if (m.length === 16 && ip.length === 4) m = m.subarray(12);
  return [ip, m];
}

/** Go's IPNet.Contains. */
function contains(n: IPNet, ip: IP): boolean {
  const nm = networkAndMask(n);
  if (!nm) return false;
  const [nn, m] = nm;
  const x = to4(ip) ?? ip;
  if (x.length !== nn.length) return false;
  return x.every((b, i) => (nn[i]! & m[i]!) === (b & m[i]!));
}

const ones = (m: Uint8Array) => [...m].reduce((n, b) => n + popcount(b), 0);
const popcount = (b: number) => b.toString(2).split('1').length - 1;

/** The last address of a network (OPA's getLastIP). */
function lastIP(n: IPNet): IP {
  const out = Uint8Array.from(n.ip);
  const m = n.mask.length === out.length ? n.mask : n.mask.subarray(n.mask.length - out.length);
  return out.map((b, i) => b | (~m[i]! & 0xff));
}

/** OPA's net.cidr_contains of a network and an address or a network. */
function cidrContains(a: string, b: string): boolean {
  const netA = parseCIDR(a);
  if (!netA) throw new Error('invalid CIDR');
  const ip = parseIP(b);
  if (ip) return contains(netA, ip);
  const netB = parseCIDR(b);
  if (!netB) throw new Error(`not a valid textual representation of an IP address or CIDR: ${b}`);
  const plainV6 = (n: IPNet) => n.ip.length === 16 && n.mask.length === 16 && !to4(n.ip);
  if (plainV6(netA) && plainV6(netB)) return ones(netA.mask) <= ones(netB.mask) && maskIP(netB.ip, netA.mask).every((x, i) => x === netA.ip[i]);
  return contains(netA, netB.ip) && contains(netA, lastIP(netB));
}

/** Go's IP.String. */
function ipString(ip: IP): string {
  const v4 = to4(ip);
  if (v4) return [...v4].join('.');
  const g = Array.from({ length: 8 }, (_, i) => (ip[2 * i]! << 8) | ip[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The elements of cidr_contains_matches' operand: [cidr, key] pairs (OPA's evalNetCIDRContainsMatchesOperand). */
function matchOperand(v: RegoValue): [string, RegoValue][] {
  const cidrOf = (x: RegoValue): string => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && x.length && typeof x[0] === 'string') return x[0];
    throw new Error('element must be string or non-empty array');
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, i) => [cidrOf(x), i]);
  if (v instanceof RegoSet) return v.items.map((x) => [cidrOf(x), x]);
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [cidrOf(x), k]);
  return [];
}

export const netBuiltins: Builtins = {
  'net.cidr_is_valid': ([s]) => typeof s === 'string' && parseCIDR(s) !== undefined,
  'net.cidr_contains_matches': (_a, _c, _r, rego) => {
    const out: RegoValue[] = [];
    for (const [c1, k1] of matchOperand(parseRego(rego(0)))) for (const [c2, k2] of matchOperand(parseRego(rego(1)))) if (cidrContains(c1, c2)) out.push([k1, k2]);
    return new RegoText(regoText(new RegoSet(out)));
  },
  'net.cidr_expand': ([s]) => {
    const n = parseCIDR(str(s));
    if (!n) throw new Error('invalid CIDR');
    const host = n.mask.length * 8 - ones(n.mask);
    // OPA has no bound (it would run until the evaluation is cancelled); a million addresses is past any use.
    if (host > 20) throw new Error('net.cidr_expand: too many addresses');
    const out: string[] = [];
    const ip = Uint8Array.from(n.ip);
    for (let i = 0; i < 2 ** host; i++) {
      out.push(ipString(ip));
      for (let j = ip.length - 1; j >= 0; j--) {
        ip[j] = (ip[j]! + 1) & 0xff;
        if (ip[j] !== 0) break;
      }
    }
    return new RegoText(regoText(new RegoSet(out)));
  },
};

// net.cidr_merge as OPA computes it (topdown/cidr.go and its internal/cidr/merge): addresses as 128-bit numbers
// (IPv4 as IPv4-mapped), ranges sorted by their last then first address, merged from the end when they touch or
// overlap, and each merged range written as the fewest CIDRs; a range that merged with nothing keeps its own text.
interface Range {
  first: bigint;
  last: bigint;
  /** The network's own text (Go's IPNet.String), when it merged with nothing. */
  text?: string;
  /**
   * An IPv4-mapped IPv6 network ("::ffff:10.1.2.3/125"). OPA's GetAddressRange prefixes its 16 bytes once more, and
   * the 28-byte range it gets merges with nothing: it is kept as it is.
   */
  apart?: boolean;
}

const V4_BASE = 0xffffn << 32n;
const toBig = (ip: IP) => (ip.length === 4 ? V4_BASE | BigInt(`0x${Buffer.from(ip).toString('hex')}`) : BigInt(`0x${Buffer.from(ip).toString('hex')}`));

function fromBig(n: bigint, v4: boolean): IP {
  const hex = (v4 ? n & 0xffffffffn : n).toString(16).padStart(v4 ? 8 : 32, '0');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Go's generateIPNet: a CIDR, or a bare IPv4 address with its classful default mask (the address left unmasked). */
function rangeOf(v: RegoValue): Range {
  if (typeof v !== 'string') throw new Error('element must be string');
  const ip = parseIP(v);
  if (ip) {
    const v4 = to4(ip);
    if (!v4) throw new Error('IPv6 invalid: needs prefix length');
    const ones = v4[0]! < 0x80 ? 8 : v4[0]! < 0xc0 ? 16 : 24;
    const base = toBig(v4);
    const host = (1n << BigInt(32 - ones)) - 1n;
    return { first: base & ~host, last: (base & ~host) | host, text: `${ipString(v4)}/${ones}` };
  }
  const n = parseCIDR(v);
  if (!n) throw new Error('invalid CIDR');
  const [nn, m] = networkAndMask(n)!;
  if (n.ip.length === 16 && nn.length === 4) return { first: 0n, last: 0n, text: `${ipString(nn)}/${ones(m)}`, apart: true };
  const bits = (nn.length === 4 ? 96 : 0) + ones(n.mask) - (n.mask.length === 16 && nn.length === 4 ? 96 : 0);
  const first = toBig(nn);
  const host = (1n << BigInt(128 - bits)) - 1n;
  return { first, last: first | host, text: `${ipString(nn)}/${ones(m)}` };
}

/** The fewest CIDRs that cover [first, last] exactly. */
function rangeToCidrs(first: bigint, last: bigint): string[] {
  const v4 = first >> 32n === 0xffffn && last >> 32n === 0xffffn;
  const width = v4 ? 32 : 128;
  const out: string[] = [];
  let cur = first;
  while (cur <= last) {
    let size = 0;
    while (size < width && (cur & ((1n << BigInt(size + 1)) - 1n)) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= last) size++;
    out.push(`${ipString(fromBig(cur, v4))}/${width - size}`);
    cur += 1n << BigInt(size);
  }
  return out;
}

function mergeRanges(all: Range[]): string[] {
  const ranges = all.filter((r) => !r.apart);
  ranges.sort((a, b) => (a.last !== b.last ? (a.last < b.last ? -1 : 1) : a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i]!;
    const prev = ranges[i - 1]!;
    const before = cur.first === V4_BASE || cur.first === 0n ? cur.first : cur.first - 1n;
    if (before <= prev.last) {
      ranges[i - 1] = { first: prev.first < cur.first ? prev.first : cur.first, last: cur.last };
      ranges.splice(i, 1);
    }
  }
  return [...ranges.flatMap((r) => (r.text ? [r.text] : rangeToCidrs(r.first, r.last))), ...all.filter((r) => r.apart).map((r) => r.text!)];
}

netBuiltins['net.cidr_merge'] = (_a, _c, _r, rego) => {
  const v = parseRego(rego(0));
  const items = Array.isArray(v) ? v : v instanceof RegoSet ? v.items : undefined;
  if (!items) throw new Error('operand must be an array');
  return new RegoText(regoText(new RegoSet(mergeRanges(items.map(rangeOf)))));
};
