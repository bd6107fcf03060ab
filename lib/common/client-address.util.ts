import { isIP } from 'node:net';

/** Just the parts of an Express or Fastify request the library reads. */
export interface IncomingRequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
  url?: string;
  originalUrl?: string;
  /** Node's headers as received, repeats included (Express: the request itself; Fastify: `raw`). */
  rawHeaders?: string[];
  raw?: { rawHeaders?: string[] };
}

/**
 * The client address, trusting exactly `trustedProxies` hops of `X-Forwarded-For` counted from the right
 * (the entries our own proxies appended). Entries further left are the client's own claims and are ignored,
 * so a spoofed header can neither hide a client nor pin its traffic on somebody else.
 */
export function clientAddress(request: IncomingRequestLike, trustedProxies: number): string | undefined {
  const socketAddress = normalizeAddress(request.socket?.remoteAddress);
  if (trustedProxies === 0) return socketAddress;
  const header = request.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  // A missing or unreadable trusted hop means the proxies are not set up as configured: the address is
  // unknown (and so inside no allow-list) rather than the proxy's own.
  if (!raw) return undefined;
  const hops = raw
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  // The socket peer is the nearest proxy; each trusted proxy adds the address it saw at the right end.
  return normalizeAddress(hops[hops.length - trustedProxies]);
}

/** A bare IP address (IPv4-mapped IPv6 unwrapped), or `undefined` when `value` is not one. */
export function normalizeAddress(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const address = value.startsWith('::ffff:') && isIP(value.slice(7)) === 4 ? value.slice(7) : value;
  return isIP(address) ? address : undefined;
}
