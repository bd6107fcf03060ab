import { beforeEach, describe, expect, it } from '@jest/globals';
import { TtlCache } from '../../../lib/common/ttl.cache.js';

describe('TtlCache', () => {
  let now: number;
  const clock = (): number => now;

  beforeEach(() => {
    now = 1_700_000_000_000;
  });

  it('returns a value until its ttl has passed, then forgets it', () => {
    const cache = new TtlCache<string>(10, 5000, clock);
    cache.set('a', 'A');
    expect(cache.get('a')).toBe('A');
    now += 4999;
    expect(cache.get('a')).toBe('A');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('counts the ttl from the last set, not the first', () => {
    const cache = new TtlCache<number>(10, 1000, clock);
    cache.set('a', 1);
    now += 800;
    cache.set('a', 2);
    now += 800;
    expect(cache.get('a')).toBe(2);
    now += 200;
    expect(cache.get('a')).toBeUndefined();
  });

  it('returns undefined for keys never set', () => {
    const cache = new TtlCache<number>(10, 1000, clock);
    expect(cache.get('missing')).toBeUndefined();
  });

  it('never holds more than max entries: the oldest set goes first', () => {
    const cache = new TtlCache<number>(3, 60_000, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.set('d', 4);
    expect(cache.size).toBe(3);
    expect(cache.get('a')).toBeUndefined();
    expect([cache.get('b'), cache.get('c'), cache.get('d')]).toEqual([2, 3, 4]);
  });

  it('re-setting a key makes it the newest, and does not evict anything', () => {
    const cache = new TtlCache<number>(2, 60_000, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBe(2);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(10);
    expect(cache.get('c')).toBe(3);
  });

  it('delete removes one entry and clear removes all', () => {
    const cache = new TtlCache<number>(10, 60_000, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.delete('b');
    cache.delete('never-set');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.size).toBe(2);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
  });

  it('keeps falsy values apart from misses', () => {
    const cache = new TtlCache<number | null | string>(10, 1000, clock);
    cache.set('zero', 0);
    cache.set('null', null);
    cache.set('empty', '');
    expect(cache.get('zero')).toBe(0);
    expect(cache.get('null')).toBeNull();
    expect(cache.get('empty')).toBe('');
  });
});
