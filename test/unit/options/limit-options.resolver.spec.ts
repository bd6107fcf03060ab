import { describe, expect, it } from '@jest/globals';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import type { ApiKeyModuleOptions } from '../../../lib/interfaces/api-key-options.interface.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';

const DEV: NodeJS.ProcessEnv = { NODE_ENV: 'development' };

function problem(options: ApiKeyModuleOptions): string {
  try {
    resolveOptions(options, DEV);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return (error as Error).message;
  }
  throw new Error(`resolveOptions(${JSON.stringify(options)}) did not throw`);
}

describe('rate-limit options', () => {
  it('resolves the single rateLimit as the limit named default, sliding, in the exact mode', () => {
    const resolved = resolveOptions({ rateLimit: { limit: 100, window: '1m' } }, DEV);
    expect(resolved.rateLimit).toEqual({ limit: 100, windowSeconds: 60 });
    expect(resolved.rateLimits).toEqual([
      { name: 'default', limit: 100, windowSeconds: 60, policy: 'sliding' },
    ]);
    expect(resolved.rateLimitLease).toBeUndefined();
  });

  it('resolves named limits in order, with their policies', () => {
    const resolved = resolveOptions(
      {
        rateLimits: {
          burst: { limit: 10, window: '1s' },
          even: { limit: 60, window: '1m', policy: 'smooth' },
        },
      },
      DEV,
    );
    expect(resolved.rateLimits).toEqual([
      { name: 'burst', limit: 10, windowSeconds: 1, policy: 'sliding' },
      { name: 'even', limit: 60, windowSeconds: 60, policy: 'smooth' },
    ]);
  });

  it('leases 10 units by default in the leased mode, or the lease given', () => {
    const redis = 'redis://127.0.0.1:6379';
    expect(resolveOptions({ redis, rateLimitMode: 'leased' }, DEV).rateLimitLease).toBe(10);
    expect(resolveOptions({ redis, rateLimitMode: 'leased', rateLimitLease: 50 }, DEV).rateLimitLease).toBe(
      50,
    );
    expect(
      resolveOptions({ redis, rateLimitMode: 'exact', rateLimitLease: 50 }, DEV).rateLimitLease,
    ).toBeUndefined();
  });

  it('refuses both forms at once, bad names, policies, modes and leases, and leasing without Redis', () => {
    expect(
      problem({ rateLimit: { limit: 1, window: '1s' }, rateLimits: { burst: { limit: 1, window: '1s' } } }),
    ).toMatch(/Give rateLimit or rateLimits, not both/);
    expect(problem({ rateLimits: { '1st': { limit: 1, window: '1s' } } })).toMatch(/rateLimits name "1st"/);
    expect(problem({ rateLimits: {} })).toMatch(/one or more named limits/);
    expect(problem({ rateLimit: { limit: 1, window: '1s', policy: 'leaky' as never } })).toMatch(
      /rateLimit.policy must be 'sliding' or 'smooth'/,
    );
    expect(problem({ rateLimitMode: 'fast' as never })).toMatch(/rateLimitMode must be 'exact' or 'leased'/);
    expect(problem({ rateLimitMode: 'leased' })).toMatch(/needs the redis option/);
    expect(problem({ rateLimitLease: 0 })).toMatch(/rateLimitLease must be a whole number/);
  });
});
