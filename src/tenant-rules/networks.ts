// CIDR lists for tenant rules: node's BlockList (the address parsing and matching Node itself uses), built once.
import { BlockList, isIP } from 'node:net';

/** A list of addresses and networks, "10.0.0.0/8", "2001:db8::/32" or a single address; throws on a bad entry. */
export function networkList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    if (!family || extra !== undefined) throw new Error(`"${e}" is not an IP address or CIDR network`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr!, type);
      continue;
    }
    const prefix = Number(bits);
    if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`"${e}": the prefix length must be 0-${family === 4 ? 32 : 128}`);
    list.addSubnet(addr!, prefix, type);
  }
  return list;
}

/** Whether the address is in the list; an address that does not parse is in no list. */
export function inList(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (!family) return false;
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
