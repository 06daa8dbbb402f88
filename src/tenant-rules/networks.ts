// CIDR lists for tenant rules, matched without allocating: an IPv4 address is read into one 32-bit number and
// compared with each network's masked base. Written here rather than with node's BlockList, whose check() makes a
// native SocketAddress per call: under load that doubled the GC time and cost the typical rule set about 15 µs of
// CPU per check (bench/README.md, "Tenant rules"). IPv6 addresses are read into eight 16-bit words; an IPv4-mapped
// address (::ffff:10.0.0.1, as a dual-stack listener reports an IPv4 client) matches the IPv4 networks.
import { isIPv6 } from 'node:net';

export interface NetworkList {
  v4: { base: number; mask: number }[];
  v6: { words: number[]; bits: number }[];
}

/** A list of addresses and networks, "10.0.0.0/8", "2001:db8::/32" or a single address; throws on a bad entry. */
export function networkList(entries: readonly string[]): NetworkList {
  const list: NetworkList = { v4: [], v6: [] };
  for (const e of entries) {
    const [addr = '', bits, extra] = e.split('/');
    if (extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw new Error(`"${e}" is not an IP address or CIDR network`);
    const v4 = ipv4(addr);
    if (v4 >= 0) {
      const prefix = bits === undefined ? 32 : Number(bits);
      if (prefix > 32) throw new Error(`"${e}": the prefix length must be 0-32`);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      list.v4.push({ base: (v4 & mask) >>> 0, mask });
      continue;
    }
    const words = ipv6(addr);
    if (!words) throw new Error(`"${e}" is not an IP address or CIDR network`);
    const prefix = bits === undefined ? 128 : Number(bits);
    if (prefix > 128) throw new Error(`"${e}": the prefix length must be 0-128`);
    list.v6.push({ words, bits: prefix });
  }
  return list;
}

/** Whether the address is in the list; an address that does not parse is in no list. */
export function inList(list: NetworkList, address: string): boolean {
  let v4 = ipv4(address);
  if (v4 < 0 && address.length > 7 && address.charCodeAt(0) === 0x3a && /^::ffff:/i.test(address)) v4 = ipv4(address.slice(7));
  if (v4 >= 0) {
    for (const n of list.v4) if (((v4 & n.mask) >>> 0) === n.base) return true;
    return false;
  }
  if (!list.v6.length) return false;
  const words = ipv6(address);
  if (!words) return false;
  for (const n of list.v6) if (inPrefix(words, n.words, n.bits)) return true;
  return false;
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number, or -1. */
function ipv4(s: string): number {
  let value = 0;
  let part = -1;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      // No leading zeros ("010" is octal to some parsers): refused, as node's isIP does.
      if (digits > 0 && part === 0) return -1;
      part = (part < 0 ? 0 : part) * 10 + (c - 0x30);
      if (part > 255 || ++digits > 3) return -1;
    } else if (c === 0x2e && part >= 0 && dots < 3) {
      value = value * 256 + part;
      part = -1;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || part < 0) return -1;
  return value * 256 + part;
}

/** An IPv6 address as eight 16-bit words, or undefined. */
function ipv6(s: string): number[] | undefined {
  if (!isIPv6(s)) return undefined;
  const zone = s.indexOf('%');
  const text = zone < 0 ? s : s.slice(0, zone);
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      const v4 = group.includes('.') ? ipv4(group) : -1;
      if (v4 >= 0) out.push(v4 >>> 16, v4 & 0xffff);
      else out.push(parseInt(group, 16));
    }
    return out;
  };
  const a = parse(head);
  if (tail === undefined) return a;
  const b = parse(tail);
  return [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
}

function inPrefix(words: number[], base: number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((words[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}
