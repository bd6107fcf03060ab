import type { ApiKeyModuleExtras, ApiKeyModuleOptions } from '../interfaces/api-key-options.interface.js';
import type { KeyPrefixes } from '../interfaces/key-prefixes.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { InvalidOptionsError } from '../errors/index.js';
import { DEFAULT_KEY_PREFIXES, isValidPrefix } from '../keys/api-key.format.js';
import { DefaultApiKeyOptions } from './api-key-options.defaults.js';
import { durationOption, HOUR_MS, limitOption } from './option.parsers.js';
import { resolveDenylist, resolveRedis, resolveRoutes } from './store-options.resolver.js';
import { resolveDpop } from './dpop-options.resolver.js';
import { resolveTokens } from './token-options.resolver.js';
import { resolveRateLimits } from './limit-options.resolver.js';

/** An HTTP token without `.`: passport-headerapikey reads the header through a dotted-path lookup. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+^_`|~-]+$/;
const MIN_PEPPER_LENGTH = 32;

/** Validates user options and merges the defaults; throws one error that lists every problem found. */
export function resolveOptions(
  options: ApiKeyModuleOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  oauth: ApiKeyModuleExtras['oauth'] = {},
): ResolvedApiKeyOptions {
  const resolved = new DefaultApiKeyOptions();
  const problems: string[] = [];

  if (options.pepper !== undefined && options.pepper !== '') {
    if (typeof options.pepper !== 'string' || options.pepper.length < MIN_PEPPER_LENGTH) {
      problems.push(
        `pepper must be a string of at least ${MIN_PEPPER_LENGTH} characters; generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
      );
    } else {
      resolved.pepper = options.pepper;
    }
  } else if (env.NODE_ENV === 'production') {
    problems.push(
      'pepper is required when NODE_ENV=production: set it (for example from KEYBRIDGE_PEPPER) to a random secret of at least 32 characters, and keep it stable, since changing it invalidates every key.',
    );
  }

  if (options.header !== undefined) {
    if (typeof options.header !== 'string' || !HEADER_NAME.test(options.header)) {
      problems.push(`header must be a valid HTTP header name, got ${JSON.stringify(options.header)}.`);
    } else {
      resolved.header = options.header;
      resolved.headerKey = options.header.toLowerCase();
    }
  }

  const prefixes: KeyPrefixes = {
    live: options.prefixes?.live ?? DEFAULT_KEY_PREFIXES.live,
    test: options.prefixes?.test ?? DEFAULT_KEY_PREFIXES.test,
  };
  const badPrefixes = (['live', 'test'] as const).filter((env) => !isValidPrefix(prefixes[env]));
  for (const env of badPrefixes) {
    problems.push(
      `prefixes.${env} must be lower-case letters and digits in "_"-separated words ending in "_" (like "kb_live_"), got ${JSON.stringify(prefixes[env])}.`,
    );
  }
  if (badPrefixes.length === 0) {
    if (prefixes.live.startsWith(prefixes.test) || prefixes.test.startsWith(prefixes.live)) {
      problems.push('prefixes.live and prefixes.test must differ, and neither may start with the other.');
    }
    resolved.prefixes = prefixes;
  }

  if (options.defaultEnvironment !== undefined) {
    if (options.defaultEnvironment !== 'live' && options.defaultEnvironment !== 'test') {
      problems.push(`defaultEnvironment must be "live" or "test".`);
    } else resolved.defaultEnvironment = options.defaultEnvironment;
  }

  if (options.cache === false) {
    resolved.cache = false;
  } else if (options.cache !== undefined) {
    const ttlMs = durationOption(problems, 'cache.ttl', options.cache.ttl, 1, HOUR_MS, '"5s"') ?? 5000;
    const max = options.cache.max ?? 10_000;
    if (!Number.isInteger(max) || max < 1) problems.push('cache.max must be a positive integer.');
    resolved.cache = { ttlMs, max };
  }

  resolved.storeTimeoutMs =
    durationOption(problems, 'storeTimeout', options.storeTimeout, 1, 60_000, '"2s"') ??
    resolved.storeTimeoutMs;
  resolved.usageFlushMs =
    durationOption(problems, 'usageFlushInterval', options.usageFlushInterval, 100, HOUR_MS, '"5s"') ??
    resolved.usageFlushMs;
  if (options.quotaSync !== undefined) {
    const { flushInterval, lease = resolved.quotaSync.lease, mode = 'exact' } = options.quotaSync ?? {};
    const flushMs = durationOption(problems, 'quotaSync.flushInterval', flushInterval, 10, HOUR_MS, '"1s"');
    if (!Number.isInteger(lease) || lease < 1 || lease > 1_000_000)
      problems.push('quotaSync.lease must be a whole number of units from 1 to 1000000, e.g. 100.');
    if (mode !== 'exact' && mode !== 'leased')
      problems.push(
        "quotaSync.mode must be 'exact' (counted in Redis when the redis option is set) or 'leased' (database leases).",
      );
    resolved.quotaSync = { flushMs: flushMs ?? resolved.quotaSync.flushMs, lease, mode };
  }

  if (options.queryKeyParameters !== undefined) {
    if (
      !Array.isArray(options.queryKeyParameters) ||
      options.queryKeyParameters.some((p) => typeof p !== 'string')
    ) {
      problems.push('queryKeyParameters must be an array of parameter names.');
    } else resolved.queryKeyParameters = [...options.queryKeyParameters];
  }

  if (options.trustedProxies !== undefined) {
    if (!Number.isInteger(options.trustedProxies) || options.trustedProxies < 0) {
      problems.push('trustedProxies must be a whole number of proxy hops (0 when clients connect directly).');
    } else resolved.trustedProxies = options.trustedProxies;
  }

  resolveRateLimits(options, resolved, problems);
  if (options.failedAuthLimit !== undefined) {
    resolved.failedAuthLimit =
      options.failedAuthLimit === false
        ? undefined
        : limitOption(problems, 'failedAuthLimit', options.failedAuthLimit);
  }

  if (options.realm !== undefined) {
    if (
      typeof options.realm !== 'string' ||
      !/^[\x20-\x7e]*$/.test(options.realm) ||
      options.realm.includes('"')
    ) {
      problems.push('realm must be printable ASCII without double quotes.');
    } else resolved.realm = options.realm;
  }

  if (options.onEvent !== undefined) {
    if (typeof options.onEvent !== 'function') problems.push('onEvent must be a function.');
    else resolved.onEvent = options.onEvent;
  }

  if (options.clock !== undefined) {
    if (typeof options.clock !== 'function')
      problems.push('clock must be a function returning milliseconds.');
    else resolved.clock = options.clock;
  }

  const production = env.NODE_ENV === 'production';
  resolveTokens(options, resolved, problems, production, oauth !== false);
  resolveDpop(options, resolved, problems);
  resolveRedis(options, resolved, problems);
  resolveDenylist(options, resolved, problems);
  resolveRoutes(oauth, resolved, problems);

  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return resolved;
}
