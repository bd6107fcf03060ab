import { describe, expect, it } from '@jest/globals';
import {
  clientAddress,
  normalizeAddress,
  type IncomingRequestLike,
} from '../../../lib/common/client-address.util.js';

function request(remoteAddress: string | undefined, forwardedFor?: string | string[]): IncomingRequestLike {
  return {
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    socket: { remoteAddress },
  };
}

const PROXY = '10.0.0.2';

describe('clientAddress', () => {
  it('with 0 trusted proxies uses the socket address and ignores X-Forwarded-For', () => {
    expect(clientAddress(request('203.0.113.7', '198.51.100.1'), 0)).toBe('203.0.113.7');
    expect(clientAddress(request('203.0.113.7'), 0)).toBe('203.0.113.7');
  });

  it('with 1 trusted proxy takes the rightmost entry', () => {
    expect(clientAddress(request(PROXY, '203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddress(request(PROXY, '198.51.100.1, 203.0.113.7'), 1)).toBe('203.0.113.7');
  });

  it('with 2 trusted proxies takes the second entry from the right', () => {
    expect(clientAddress(request(PROXY, '203.0.113.7, 10.0.0.1'), 2)).toBe('203.0.113.7');
  });

  it('is not moved by entries the client added on the left', () => {
    const honest = clientAddress(request(PROXY, '203.0.113.7'), 1);
    for (const spoofed of [
      '1.1.1.1, 203.0.113.7',
      '127.0.0.1,10.0.0.1, 203.0.113.7',
      'garbage, 203.0.113.7',
    ]) {
      expect(clientAddress(request(PROXY, spoofed), 1)).toBe(honest);
    }
    expect(clientAddress(request(PROXY, '8.8.8.8, 9.9.9.9, 203.0.113.7, 10.0.0.1'), 2)).toBe('203.0.113.7');
  });

  it('reads repeated X-Forwarded-For headers as one list', () => {
    expect(clientAddress(request(PROXY, ['1.1.1.1', '203.0.113.7']), 1)).toBe('203.0.113.7');
  });

  it('trims spaces and skips empty entries', () => {
    expect(clientAddress(request(PROXY, '  203.0.113.7  ,'), 1)).toBe('203.0.113.7');
  });

  it('accepts IPv6 entries', () => {
    expect(clientAddress(request(PROXY, '2001:db8::1'), 1)).toBe('2001:db8::1');
  });

  it('unwraps IPv4-mapped IPv6 addresses, from the socket and from the header', () => {
    expect(clientAddress(request('::ffff:203.0.113.7'), 0)).toBe('203.0.113.7');
    expect(clientAddress(request('::ffff:10.0.0.2', '::ffff:203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddress(request('::ffff:10.0.0.2', 'junk'), 1)).toBeUndefined();
  });

  // The proxy's own address would sit inside an internal allow-list such as 10.0.0.0/8 and admit everyone:
  // an unreadable trusted hop makes the client address unknown instead.
  it.each(['not-an-ip', '203.0.113.7:5555', '999.1.1.1', 'unknown', '<script>'])(
    "knows no address, rather than the proxy's, when the trusted entry is %j",
    (entry) => {
      expect(clientAddress(request(PROXY, `1.1.1.1, ${entry}`), 1)).toBeUndefined();
    },
  );

  it('knows no address when the header is missing, empty, or shorter than the trusted hops', () => {
    expect(clientAddress(request(PROXY), 1)).toBeUndefined();
    expect(clientAddress(request(PROXY, ''), 1)).toBeUndefined();
    expect(clientAddress(request(PROXY, ' , '), 1)).toBeUndefined();
    expect(clientAddress(request(PROXY, '203.0.113.7'), 2)).toBeUndefined();
  });

  it('returns undefined when no address is known', () => {
    expect(clientAddress({ headers: {} }, 0)).toBeUndefined();
    expect(clientAddress(request(undefined, 'junk'), 1)).toBeUndefined();
  });
});

describe('normalizeAddress', () => {
  it('returns bare IPv4 and IPv6 addresses and unwraps IPv4-mapped ones', () => {
    expect(normalizeAddress('192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('::1')).toBe('::1');
  });

  it.each([undefined, '', 'localhost', '192.0.2.1/24', '::ffff:not-ip'])(
    'returns undefined for %j',
    (value) => {
      expect(normalizeAddress(value)).toBeUndefined();
    },
  );
});
