import { describe, expect, it } from '@jest/globals';
import { resolveOptions } from '../../../lib/options/options.resolver.js';
import type { ApiKeyModuleOptions } from '../../../lib/interfaces/api-key-options.interface.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';

const PEPPER = 'a-stable-random-pepper-of-32-chars!';
const DEV: NodeJS.ProcessEnv = { NODE_ENV: 'development' };
const PROD: NodeJS.ProcessEnv = { NODE_ENV: 'production' };

/** The InvalidOptionsError `resolveOptions` throws, or a failure when it does not throw one. */
function optionsError(options: ApiKeyModuleOptions, env: NodeJS.ProcessEnv = DEV): InvalidOptionsError {
  try {
    resolveOptions(options, env);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error(`resolveOptions(${JSON.stringify(options)}) did not throw`);
}

describe('resolveOptions', () => {
  it('fills every default when nothing is given', () => {
    const resolved = resolveOptions({}, DEV);
    expect(resolved.pepper).toBeUndefined();
    expect(resolved.header).toBe('X-API-Key');
    expect(resolved.headerKey).toBe('x-api-key');
    expect(resolved.prefixes).toEqual({ live: 'kb_live_', test: 'kb_test_' });
    expect(resolved.defaultEnvironment).toBe('live');
    expect(resolved.cache).toEqual({ ttlMs: 5000, max: 10_000 });
    expect(resolved.storeTimeoutMs).toBe(2000);
    expect(resolved.usageFlushMs).toBe(5000);
    expect(resolved.queryKeyParameters).toEqual(['api_key', 'apiKey', 'key']);
    expect(resolved.trustedProxies).toBe(0);
    expect(resolved.rateLimit).toBeUndefined();
    expect(resolved.realm).toBe('api');
    expect(resolved.challenge).toBe(
      'Bearer realm="api", resource_metadata="http://localhost/.well-known/oauth-protected-resource", ApiKey realm="api", header="X-API-Key"',
    );
    expect(resolved.clock).toBe(Date.now);
  });

  it('accepts no options at all outside production', () => {
    expect(() => resolveOptions(undefined, {})).not.toThrow();
  });

  describe('signing', () => {
    // `{ alg, privateKey: process.env.KEYBRIDGE_SIGNING_KEY }` with the variable unset, as in the README.
    const unset = { signing: { alg: 'EdDSA' as const, privateKey: undefined } };

    it('treats an entry without any key like no signing option in development: a key for the process', () => {
      const resolved = resolveOptions(unset, DEV);
      expect(resolved.tokens.keys.ephemeral).toBe(true);
      expect(resolved.tokens.keys.active.signingKey).toBeDefined();
    });

    it('refuses it in production, naming the option and the variable to set', () => {
      const message = optionsError(
        { pepper: PEPPER, issuer: 'https://api.example.com', ...unset },
        PROD,
      ).message;
      expect(message).toMatch(/signing is required when NODE_ENV=production/);
      expect(message).toContain('KEYBRIDGE_SIGNING_KEY');
    });

    it('still refuses a list whose entry has no key, and names every missing secret in production', () => {
      expect(optionsError({ signing: [{ alg: 'EdDSA' }] }).message).toMatch(/needs a privateKey/);
      const message = optionsError({}, PROD).message;
      for (const name of ['KEYBRIDGE_PEPPER', 'KEYBRIDGE_ISSUER', 'KEYBRIDGE_SIGNING_KEY'])
        expect(message).toContain(name);
    });
  });

  describe('pepper', () => {
    it('is required in production, and the error says so', () => {
      const error = optionsError({}, PROD);
      expect(error.message).toMatch(/pepper/);
      expect(error.message).toMatch(/production/);
      expect(error.code).toBe('invalid_options');
      expect(optionsError({ pepper: '' }, PROD).message).toMatch(/pepper/);
    });

    it('is kept when long enough, in production too', () => {
      expect(resolveOptions({ pepper: PEPPER }, PROD, false).pepper).toBe(PEPPER);
    });

    it('refuses a short pepper and says how long it must be', () => {
      const error = optionsError({ pepper: 'short' });
      expect(error.message).toMatch(/pepper/);
      expect(error.message).toMatch(/32/);
      expect(optionsError({ pepper: 'x'.repeat(31) }, PROD).message).toMatch(/pepper/);
      expect(resolveOptions({ pepper: 'x'.repeat(32) }, DEV).pepper).toBe('x'.repeat(32));
    });

    it('never puts the pepper in the error message', () => {
      const secret = 'tooShortSecret123';
      expect(optionsError({ pepper: secret }).message).not.toContain(secret);
    });

    it('refuses a pepper that is not a string', () => {
      expect(optionsError({ pepper: 12345 as unknown as string }).message).toMatch(/pepper/);
    });
  });

  describe('header', () => {
    it('applies a custom header and its lower-case lookup key', () => {
      const resolved = resolveOptions({ header: 'Api-Key' }, DEV);
      expect(resolved.header).toBe('Api-Key');
      expect(resolved.headerKey).toBe('api-key');
      expect(resolved.challenge).toContain('header="Api-Key"');
    });

    it.each(['', 'X API Key', 'X-API-Key:', 'X-Clé', 'X-API-Key\r\nX-Evil: 1', 'X"Key'])(
      'refuses %j',
      (header) => {
        expect(optionsError({ header }).message).toMatch(/header/);
      },
    );
  });

  describe('prefixes', () => {
    it('applies custom prefixes, keeping the default for the one not given', () => {
      expect(resolveOptions({ prefixes: { live: 'acme_' } }, DEV).prefixes).toEqual({
        live: 'acme_',
        test: 'kb_test_',
      });
      expect(resolveOptions({ prefixes: { live: 'acme_prod_', test: 'acme_dev_' } }, DEV).prefixes).toEqual({
        live: 'acme_prod_',
        test: 'acme_dev_',
      });
    });

    it.each([
      ['upper case', { live: 'KB_live_' }, /prefixes\.live/],
      ['no trailing underscore', { test: 'kb_test' }, /prefixes\.test/],
      ['a dash', { live: 'kb-live_' }, /prefixes\.live/],
      ['empty', { live: '' }, /prefixes\.live/],
      ['live equal to test', { live: 'kb_', test: 'kb_' }, /must differ/],
      ['live a prefix of test', { live: 'kb_', test: 'kb_test_' }, /neither may start with the other/],
      ['test a prefix of live', { live: 'kb_test_live_' }, /neither may start with the other/],
    ])('refuses %s', (_label, prefixes, message) => {
      expect(optionsError({ prefixes }).message).toMatch(message);
    });

    // Known bug: a prefix that is not a string crashes with a TypeError instead of an InvalidOptionsError.
    it('refuses a prefix that is not a string with InvalidOptionsError', () => {
      expect(optionsError({ prefixes: { live: 42 as unknown as string } }).message).toMatch(/prefixes\.live/);
    });

    // Known bug: `prefixes: { live: process.env.UNSET }` crashes with a TypeError; like every other
    // option here, an undefined field should mean "the default".
    it('keeps the default for a prefix given as undefined', () => {
      expect(resolveOptions({ prefixes: { live: undefined } }, DEV).prefixes).toEqual({
        live: 'kb_live_',
        test: 'kb_test_',
      });
    });
  });

  describe('cache', () => {
    it('applies a custom ttl and size, or turns the cache off', () => {
      expect(resolveOptions({ cache: { ttl: '30s', max: 50 } }, DEV).cache).toEqual({
        ttlMs: 30_000,
        max: 50,
      });
      expect(resolveOptions({ cache: { ttl: 2 } }, DEV).cache).toEqual({ ttlMs: 2000, max: 10_000 });
      expect(resolveOptions({ cache: false }, DEV).cache).toBe(false);
    });

    it.each([
      [{ ttl: '0s' }, /cache\.ttl/],
      [{ ttl: 'soon' }, /cache\.ttl/],
      [{ ttl: -5 }, /cache\.ttl/],
      [{ max: 0 }, /cache\.max/],
      [{ max: 1.5 }, /cache\.max/],
      [{ max: -10 }, /cache\.max/],
    ])('refuses %j', (cache, message) => {
      expect(optionsError({ cache }).message).toMatch(message);
    });
  });

  describe('trustedProxies', () => {
    it('applies a whole number of hops', () => {
      expect(resolveOptions({ trustedProxies: 2 }, DEV).trustedProxies).toBe(2);
      expect(resolveOptions({ trustedProxies: 0 }, DEV).trustedProxies).toBe(0);
    });

    it.each([-1, 1.5, Number.NaN, '1' as unknown as number, true as unknown as number])(
      'refuses %j',
      (value) => {
        expect(optionsError({ trustedProxies: value }).message).toMatch(/trustedProxies/);
      },
    );
  });

  describe('rateLimit', () => {
    it('applies a limit per window, in seconds', () => {
      expect(resolveOptions({ rateLimit: { limit: 100, window: '1m' } }, DEV).rateLimit).toEqual({
        limit: 100,
        windowSeconds: 60,
      });
      expect(resolveOptions({ rateLimit: { limit: 5, window: 1 } }, DEV).rateLimit).toEqual({
        limit: 5,
        windowSeconds: 1,
      });
    });

    it.each([
      [{ limit: 0, window: '1m' }, /rateLimit\.limit/],
      [{ limit: -1, window: '1m' }, /rateLimit\.limit/],
      [{ limit: 2.5, window: '1m' }, /rateLimit\.limit/],
      [{ limit: 10, window: '500ms' }, /rateLimit\.window/],
      [{ limit: 10, window: 'hourly' }, /rateLimit\.window/],
      [{ limit: 10, window: 0 }, /rateLimit\.window/],
    ])('refuses %j', (rateLimit, message) => {
      expect(optionsError({ rateLimit }).message).toMatch(message);
    });
  });

  describe('timings', () => {
    it('applies storeTimeout and usageFlushInterval', () => {
      const resolved = resolveOptions({ storeTimeout: '750ms', usageFlushInterval: '10s' }, DEV);
      expect(resolved.storeTimeoutMs).toBe(750);
      expect(resolved.usageFlushMs).toBe(10_000);
    });

    it('applies quotaSync, each field defaulting on its own', () => {
      expect(resolveOptions({}, DEV).quotaSync).toEqual({ flushMs: 1000, lease: 100, mode: 'exact' });
      expect(resolveOptions({ quotaSync: { lease: 20 } }, DEV).quotaSync).toEqual({
        flushMs: 1000,
        lease: 20,
        mode: 'exact',
      });
      expect(resolveOptions({ quotaSync: { flushInterval: '250ms' } }, DEV).quotaSync).toEqual({
        flushMs: 250,
        lease: 100,
        mode: 'exact',
      });
    });

    it("applies quotaSync.mode: 'leased' with or without Redis, 'exact' by default", () => {
      const redis = { connection: 'redis://127.0.0.1:6379' };
      expect(resolveOptions({ redis, quotaSync: { mode: 'leased' } }, DEV).quotaSync).toEqual({
        flushMs: 1000,
        lease: 100,
        mode: 'leased',
      });
      expect(resolveOptions({ quotaSync: { mode: 'leased', lease: 5 } }, DEV).quotaSync.mode).toBe('leased');
      expect(resolveOptions({ redis, quotaSync: { mode: 'exact' } }, DEV).quotaSync.mode).toBe('exact');
      expect(resolveOptions({ redis, quotaSync: {} }, DEV).quotaSync.mode).toBe('exact');
    });

    it.each([
      [{ storeTimeout: '0s' }, /storeTimeout/],
      [{ storeTimeout: 'never' }, /storeTimeout/],
      [{ usageFlushInterval: '50ms' }, /usageFlushInterval/],
      [{ usageFlushInterval: -1 }, /usageFlushInterval/],
      [{ quotaSync: { flushInterval: '1ms' } }, /quotaSync\.flushInterval/],
      [{ quotaSync: { lease: 0 } }, /quotaSync\.lease/],
      [{ quotaSync: { lease: 2.5 } }, /quotaSync\.lease/],
      [
        { quotaSync: { mode: 'redis' as unknown as 'leased' } },
        /quotaSync\.mode must be 'exact'.*or 'leased'/,
      ],
      [{ quotaSync: { mode: null as unknown as 'leased' } }, /quotaSync\.mode/],
    ])('refuses %j', (options, message) => {
      expect(optionsError(options).message).toMatch(message);
    });

    // Known bug: Node timers cannot wait longer than 2^31-1 ms (about 24.8 days); a longer delay is
    // silently replaced by 1 ms. A storeTimeout of '30d' would then fail every key-store call with 503,
    // and a usageFlushInterval of '30d' would flush every millisecond.
    it.each([{ storeTimeout: '30d' }, { usageFlushInterval: '30d' }])(
      'refuses %j, longer than a Node timer can wait',
      (options) => {
        expect(optionsError(options).message).toMatch(Object.keys(options)[0]);
      },
    );
  });

  describe('other options', () => {
    it('applies realm, defaultEnvironment, queryKeyParameters, onEvent and clock', () => {
      const onEvent = (): void => {};
      const clock = (): number => 42;
      const resolved = resolveOptions(
        { realm: 'orders', defaultEnvironment: 'test', queryKeyParameters: [], onEvent, clock },
        DEV,
      );
      expect(resolved.realm).toBe('orders');
      expect(resolved.challenge).toBe(
        'Bearer realm="orders", resource_metadata="http://localhost/.well-known/oauth-protected-resource", ApiKey realm="orders", header="X-API-Key"',
      );
      expect(resolved.defaultEnvironment).toBe('test');
      expect(resolved.queryKeyParameters).toEqual([]);
      expect(resolved.onEvent).toBe(onEvent);
      expect(resolved.clock()).toBe(42);
    });

    it.each([
      [{ realm: 'a "quoted" realm' }, /realm/],
      [{ realm: 'line\nbreak' }, /realm/],
      [{ defaultEnvironment: 'staging' as 'live' }, /defaultEnvironment/],
      [{ queryKeyParameters: 'api_key' as unknown as string[] }, /queryKeyParameters/],
      [{ queryKeyParameters: [1] as unknown as string[] }, /queryKeyParameters/],
      [{ onEvent: 'log' as unknown as () => void }, /onEvent/],
      [{ clock: 0 as unknown as () => number }, /clock/],
    ])('refuses %j', (options, message) => {
      expect(optionsError(options).message).toMatch(message);
    });
  });

  it('lists every problem in one error', () => {
    const error = optionsError(
      {
        header: 'bad header',
        prefixes: { live: 'LIVE' },
        cache: { ttl: 'never' },
        trustedProxies: -1,
        rateLimit: { limit: 10, window: '10ms' },
      },
      PROD,
    );
    for (const field of [
      'pepper',
      'header',
      'prefixes.live',
      'cache.ttl',
      'trustedProxies',
      'rateLimit.window',
      'issuer',
      'signing',
    ]) {
      expect(error.message).toContain(field);
    }
    expect(error.message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(8);
  });
});

describe('resolveOptions: dpop', () => {
  it('keeps nonces off by default, with a 5 min nonce lifetime and a 60 s proof age', () => {
    expect(resolveOptions({}, DEV).dpop).toEqual({
      nonce: false,
      nonceLifetimeMs: 300_000,
      proofMaxAgeMs: 60_000,
    });
    expect(
      resolveOptions({ dpop: { nonce: true, nonceLifetime: '1m', proofMaxAge: '30s' } }, DEV).dpop,
    ).toEqual({
      nonce: true,
      nonceLifetimeMs: 60_000,
      proofMaxAgeMs: 30_000,
    });
  });

  it('names each bad dpop setting', () => {
    const error = optionsError({
      dpop: { nonce: 'yes' as never, nonceLifetime: '1s', proofMaxAge: '1h' },
    });
    expect(error.message).toMatch(/dpop\.nonce must be true or false/);
    expect(error.message).toMatch(/dpop\.nonceLifetime must be a duration/);
    expect(error.message).toMatch(/dpop\.proofMaxAge must be a duration/);
    expect(optionsError({ dpop: null as never }).message).toMatch(/dpop must be an object/);
  });
});
