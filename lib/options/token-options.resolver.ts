import { MAX_CLOCK_TOLERANCE_MS, MAX_TOKEN_LIFETIME_MS } from '../api-key.constants.js';
import type { ApiKeyModuleOptions } from '../interfaces/api-key-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { SigningKeyOption } from '../interfaces/signing-key.interface.js';
import { ephemeralKeyRing, readSigningKeys } from '../tokens/signing-key.ring.js';
import { durationOption, isUrl, limitOption } from './option.parsers.js';

/**
 * `{ alg, privateKey: process.env.KEYBRIDGE_SIGNING_KEY }` with the variable unset: one entry that carries no key
 * at all. It means "no signing key yet", as leaving the option out does, so development signs with a key made
 * for the process and production refuses to boot; a list, or an entry with any key field, is read as written.
 */
function isUnsetKey(signing: NonNullable<ApiKeyModuleOptions['signing']>): boolean {
  if (Array.isArray(signing) || signing === null || typeof signing !== 'object') return false;
  const entry = signing as SigningKeyOption;
  return entry.privateKey === undefined && entry.publicKey === undefined && entry.secret === undefined;
}

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
      'issuer is required when NODE_ENV=production: set it (for example from KEYBRIDGE_ISSUER) to the public URL of the API, such as "https://api.example.com".',
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

  if (options.signing !== undefined && !isUnsetKey(options.signing)) {
    const ring = readSigningKeys(options.signing, problems);
    if (ring) tokens.keys = ring;
  } else if (production && enabled) {
    problems.push(
      "signing is required when NODE_ENV=production: set it (for example { alg: 'EdDSA', privateKey: process.env.KEYBRIDGE_SIGNING_KEY }) to an Ed25519, P-256 or RSA private key (or an HS256 secret), kept stable, since changing it invalidates every token.",
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
