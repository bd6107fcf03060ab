import { beforeEach, describe, expect, it } from '@jest/globals';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import type { ApiKeyModuleOptions } from '../../../lib/interfaces/api-key-options.interface.js';
import { DenylistMirror } from '../../../lib/denylist/denylist.mirror.js';
import { MemoryDenylistStore } from '../../../lib/denylist/memory-denylist.store.js';
import { KEY_REVOCATION_HORIZON_MS, TokenDenylist } from '../../../lib/denylist/token.denylist.js';

const START = 1_700_000_000_000;
const MINUTE = 60_000;

describe('DenylistMirror', () => {
  it('denies an id until its expiry, not at it', () => {
    const mirror = new DenylistMirror();
    mirror.set('token:a', START + 1000);
    expect(mirror.has('token:a', START)).toBe(true);
    expect(mirror.has('token:a', START + 999)).toBe(true);
    expect(mirror.has('token:a', START + 1000)).toBe(false);
  });

  it('does not deny an id it was never given', () => {
    const mirror = new DenylistMirror();
    expect(mirror.has('token:a', START)).toBe(false);
    mirror.set('token:b', START + 1000);
    expect(mirror.has('token:a', START)).toBe(false);
    expect(mirror.has('key:b', START)).toBe(false);
  });

  it('forgets an expired entry when it is read', () => {
    const mirror = new DenylistMirror();
    mirror.set('token:a', START + 1000);
    mirror.set('token:b', START + 5000);
    expect(mirror.has('token:a', START + 2000)).toBe(false);
    expect(mirror.size).toBe(1);
    // Read again at an earlier instant: the entry is gone, not resurrected.
    expect(mirror.has('token:a', START)).toBe(false);
  });

  it('keeps the later expiry when an id is set twice, in either order', () => {
    const mirror = new DenylistMirror();
    mirror.set('key:a', START + 5000);
    mirror.set('key:a', START + 1000);
    expect(mirror.has('key:a', START + 4000)).toBe(true);
    mirror.set('key:b', START + 1000);
    mirror.set('key:b', START + 5000);
    expect(mirror.has('key:b', START + 4000)).toBe(true);
    expect(mirror.size).toBe(2);
  });

  it('prunes every expired entry and keeps the others', () => {
    const mirror = new DenylistMirror();
    mirror.set('token:a', START + 1000);
    mirror.set('token:b', START + 2000);
    mirror.set('token:c', START + 3000);
    mirror.prune(START + 2000);
    expect(mirror.size).toBe(1);
    expect(mirror.has('token:c', START + 2000)).toBe(true);
  });

  it('prunes at most once a minute of its clock', () => {
    const mirror = new DenylistMirror();
    mirror.prune(START);
    mirror.set('token:a', START + 1000);
    mirror.prune(START + 2000);
    expect(mirror.size).toBe(1);
    mirror.prune(START + MINUTE - 1);
    expect(mirror.size).toBe(1);
    mirror.prune(START + MINUTE);
    expect(mirror.size).toBe(0);
  });

  it('prunes within the minute when forced', () => {
    const mirror = new DenylistMirror();
    mirror.prune(START);
    mirror.set('token:a', START + 1000);
    mirror.prune(START + 2000, true);
    expect(mirror.size).toBe(0);
  });

  it('prunes again when its clock goes back', () => {
    const mirror = new DenylistMirror();
    mirror.prune(START + 10 * MINUTE);
    mirror.set('token:a', START + 1000);
    mirror.prune(START + 2000);
    expect(mirror.size).toBe(0);
  });
});

describe('MemoryDenylistStore', () => {
  let now: number;
  const clock = (): number => now;

  beforeEach(() => {
    now = START;
  });

  it('denies what it was given until its expiry', async () => {
    const store = new MemoryDenylistStore(clock);
    await store.start();
    await store.add('token:a', START + 1000);
    expect(store.has('token:a', START + 999)).toBe(true);
    expect(store.has('token:a', START + 1000)).toBe(false);
    expect(store.has('token:b', START)).toBe(false);
    await store.stop();
  });

  it('keeps the later expiry when an id is added twice', async () => {
    const store = new MemoryDenylistStore(clock);
    await store.add('key:a', START + 5000);
    await store.add('key:a', START + 1000);
    expect(store.has('key:a', START + 4000)).toBe(true);
  });

  it('drops expired entries as new ones are added, so memory follows the live revocations only', async () => {
    const store = new MemoryDenylistStore(clock);
    for (let i = 0; i < 100; i++) await store.add(`token:${i}`, START + 1000);
    now = START + 2 * MINUTE;
    await store.add('token:late', now + 1000);
    const { mirror } = store as unknown as { mirror: DenylistMirror };
    expect(mirror.size).toBe(1);
  });
});

describe('TokenDenylist', () => {
  let now: number;

  beforeEach(() => {
    now = START;
  });

  function denylist(options: ApiKeyModuleOptions = {}): TokenDenylist {
    const resolved = resolveOptions({ clock: () => now, ...options }, {});
    return new TokenDenylist(new MemoryDenylistStore(resolved.clock), resolved);
  }

  it('denies a revoked key for the longest token lifetime any configuration allows (24 h + 5 min)', async () => {
    const list = denylist();
    await list.revokeKey('key_a');
    const horizon = START + KEY_REVOCATION_HORIZON_MS;
    expect(KEY_REVOCATION_HORIZON_MS).toBe(24 * 60 * MINUTE + 5 * MINUTE);
    expect(list.isKeyRevoked('key_a', horizon - 1)).toBe(true);
    expect(list.isKeyRevoked('key_a', horizon)).toBe(false);
  });

  it("keeps that horizon whatever this process's own tokenTtl is: a minter may use a longer one", async () => {
    const list = denylist({ tokenTtl: '10m', clockTolerance: '30s' });
    await list.revokeKey('key_a');
    expect(list.isKeyRevoked('key_a', START + 23 * 60 * MINUTE)).toBe(true);
  });

  it('counts the horizon from the injected clock, not the system time', async () => {
    now = START - 365 * 24 * 60 * MINUTE;
    const list = denylist();
    await list.revokeKey('key_a');
    expect(list.isKeyRevoked('key_a', now + 15 * MINUTE)).toBe(true);
    expect(list.isKeyRevoked('key_a', START)).toBe(false);
  });

  it('refuses every token of a revoked key as key_revoked, and no token of another key', async () => {
    const list = denylist();
    await list.revokeKey('key_a');
    expect(list.tokenRefusal('jti1', 'key_a', START)).toBe('key_revoked');
    expect(list.tokenRefusal('jti2', 'key_a', START)).toBe('key_revoked');
    expect(list.tokenRefusal('jti1', 'key_b', START)).toBeUndefined();
    expect(list.isKeyRevoked('key_b', START)).toBe(false);
  });

  it('refuses a revoked token as revoked until the expiry it was given, and no other token', async () => {
    const list = denylist();
    await list.revokeToken('jti1', START + 1000);
    expect(list.tokenRefusal('jti1', 'key_a', START + 999)).toBe('revoked');
    expect(list.tokenRefusal('jti1', 'key_a', START + 1000)).toBeUndefined();
    expect(list.tokenRefusal('jti2', 'key_a', START)).toBeUndefined();
    // A revoked token does not revoke its key.
    expect(list.isKeyRevoked('key_a', START)).toBe(false);
  });

  it('names the key revocation first when both apply', async () => {
    const list = denylist();
    await list.revokeToken('jti1', START + MINUTE);
    await list.revokeKey('key_a');
    expect(list.tokenRefusal('jti1', 'key_a', START)).toBe('key_revoked');
  });

  it('keeps token and key entries apart even when a jti looks like a key id', async () => {
    const list = denylist();
    await list.revokeToken('key_a', START + MINUTE);
    expect(list.isKeyRevoked('key_a', START)).toBe(false);
    expect(list.tokenRefusal('other', 'key_a', START)).toBeUndefined();
  });
});
