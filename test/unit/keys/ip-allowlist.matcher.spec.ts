import { describe, expect, it } from '@jest/globals';
import { IpAllowList, isValidCidr } from '../../../lib/keys/ip-allowlist.matcher.js';

describe('isValidCidr', () => {
  it.each([
    '10.0.0.1',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '192.168.1.1/32',
    '2001:db8::1',
    '2001:db8::/32',
    '::/0',
    '::1/128',
    '::ffff:10.0.0.1',
  ])('accepts %j', (entry) => {
    expect(isValidCidr(entry)).toBe(true);
  });

  it.each([
    '',
    'abc',
    '10.0.0.0/33',
    '2001:db8::/129',
    '1.2.3.4/8/1',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/8.5',
    '10.0.0.0/ 8',
    '256.0.0.1',
    '10.0.0',
    '10.0.0.0/1000',
    'example.com',
    '/8',
  ])('refuses %j', (entry) => {
    expect(isValidCidr(entry)).toBe(false);
  });

  it.each([undefined, null, 10, ['10.0.0.1']])('refuses the non-string %j', (entry) => {
    expect(isValidCidr(entry)).toBe(false);
  });
});

describe('IpAllowList', () => {
  it('allows exact IPv4 addresses and refuses their neighbours', () => {
    const list = new IpAllowList(['203.0.113.7']);
    expect(list.allows('203.0.113.7')).toBe(true);
    expect(list.allows('203.0.113.8')).toBe(false);
    expect(list.allows('203.0.113.6')).toBe(false);
  });

  it('allows members of an IPv4 block and refuses addresses just outside it', () => {
    const list = new IpAllowList(['10.0.0.0/8', '192.168.1.0/24']);
    expect(list.allows('10.0.0.0')).toBe(true);
    expect(list.allows('10.255.255.255')).toBe(true);
    expect(list.allows('11.0.0.0')).toBe(false);
    expect(list.allows('9.255.255.255')).toBe(false);
    expect(list.allows('192.168.1.200')).toBe(true);
    expect(list.allows('192.168.2.1')).toBe(false);
  });

  it('allows exact IPv6 addresses and members of an IPv6 block', () => {
    const list = new IpAllowList(['2001:db8::/32', 'fe80::1']);
    expect(list.allows('2001:db8::1')).toBe(true);
    expect(list.allows('2001:db8:ffff:ffff::1')).toBe(true);
    expect(list.allows('2001:db9::1')).toBe(false);
    expect(list.allows('fe80::1')).toBe(true);
    expect(list.allows('fe80::2')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 client addresses against IPv4 entries', () => {
    expect(new IpAllowList(['10.0.0.0/8']).allows('::ffff:10.0.0.1')).toBe(true);
    expect(new IpAllowList(['10.0.0.1']).allows('::ffff:10.0.0.1')).toBe(true);
    expect(new IpAllowList(['10.0.0.2']).allows('::ffff:10.0.0.1')).toBe(false);
    expect(new IpAllowList(['192.168.0.0/16']).allows('::ffff:10.0.0.1')).toBe(false);
  });

  it('does not let an IPv4 entry admit IPv6 clients or the reverse', () => {
    expect(new IpAllowList(['0.0.0.0/0']).allows('2001:db8::1')).toBe(false);
    expect(new IpAllowList(['2001:db8::/32']).allows('10.0.0.1')).toBe(false);
  });

  it('refuses missing or unparsable addresses', () => {
    const list = new IpAllowList(['0.0.0.0/0', '::/0']);
    expect(list.allows(undefined)).toBe(false);
    expect(list.allows('')).toBe(false);
    expect(list.allows('not-an-ip')).toBe(false);
    expect(list.allows('10.0.0.1')).toBe(true);
  });

  it('allows nobody when empty', () => {
    expect(new IpAllowList([]).allows('10.0.0.1')).toBe(false);
  });
});
