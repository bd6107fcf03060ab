import { MAX_CLOCK_TOLERANCE_MS, MAX_TOKEN_LIFETIME_MS } from '../api-key.constants.js';
import type { ApiKeyModuleOptions } from '../interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ephemeralKeyRing, readSigningKeys } from '../tokens/signing-key.ring.js';
import { durationOption, isUrl, limitOption } from './option.parsers.js';

/** Checks the token settings; `enabled` is false when the module was set up with `oauth: false`. */
export function resolveTokens(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
  production: boolean,
  enabled: boolean,
): void {
  const tokens = resolved.tokens;
  tokens.enabled = enabled;
  if (options.issuer !== undefined) {
    if (!isUrl(options.issuer, production)) {
      problems.push(
        `issuer must be an ${production ? 'https' : 'http(s)'} URL without query, fragment or credentials, such as "https://api.example.com".`,
      );
    } else tokens.issuer = options.issuer.replace(/\/+$/, '');
  } else if (production && enabled) {
    problems.push(
      'issuer is required when NODE_ENV=production: the public URL of the API, such as "https://api.example.com".',
    );
  }
  if (options.audience !== undefined) {
    const list = typeof options.audience === 'string' ? [options.audience] : options.audience;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((a) => typeof a !== 'string' || a === '' || a.length > 500)
    ) {
      problems.push('audience must be a non-empty string or a non-empty list of them.');
    } else tokens.audiences = [...new Set(list as string[])];
  } else tokens.audiences = [tokens.issuer];

  if (options.signing !== undefined) {
    const ring = readSigningKeys(options.signing, problems);
    if (ring) tokens.keys = ring;
  } else if (production && enabled) {
    problems.push(
      'signing is required when NODE_ENV=production: an Ed25519, P-256 or RSA private key (or an HS256 secret), kept stable, since changing it invalidates every token.',
    );
  }
  tokens.keys ??= ephemeralKeyRing();

  tokens.ttlMs =
    durationOption(problems, 'tokenTtl', options.tokenTtl, 10_000, MAX_TOKEN_LIFETIME_MS, '"15m"') ??
    tokens.ttlMs;
  tokens.clockToleranceMs =
    durationOption(problems, 'clockTolerance', options.clockTolerance, 0, MAX_CLOCK_TOLERANCE_MS, '"5s"') ??
    tokens.clockToleranceMs;

  if (options.tokenCache === false) tokens.cacheMax = 0;
  else if (options.tokenCache !== undefined) {
    const max = options.tokenCache.max ?? tokens.cacheMax;
    if (!Number.isInteger(max) || max < 1) problems.push('tokenCache.max must be a positive integer.');
    else tokens.cacheMax = max;
  }

  const limits = options.tokenRateLimit;
  if (limits !== undefined) {
    if (limits === null || typeof limits !== 'object') {
      problems.push('tokenRateLimit must be an object with perKey and/or perAddress.');
    } else {
      if (limits.perKey !== undefined)
        tokens.perKeyLimit =
          limits.perKey === false ? undefined : limitOption(problems, 'tokenRateLimit.perKey', limits.perKey);
      if (limits.perAddress !== undefined)
        tokens.perAddressLimit =
          limits.perAddress === false
            ? undefined
            : limitOption(problems, 'tokenRateLimit.perAddress', limits.perAddress);
    }
  }
}
