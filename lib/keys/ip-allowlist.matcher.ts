import { BlockList, isIP } from 'node:net';
import { normalizeAddress } from '../common/client-address.util.js';

/** `true` when `entry` is an IPv4 or IPv6 address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`). */
export function isValidCidr(entry: unknown): entry is string {
  if (typeof entry !== 'string') return false;
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** An allow-list of addresses and CIDR blocks, checked with Node's `BlockList`. */
export class IpAllowList {
  private readonly list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits] = entry.split('/');
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(bits), type);
    }
  }

  allows(address: string | undefined): boolean {
    const normalized = normalizeAddress(address);
    if (!normalized) return false;
    return this.list.check(normalized, isIP(normalized) === 4 ? 'ipv4' : 'ipv6');
  }
}
