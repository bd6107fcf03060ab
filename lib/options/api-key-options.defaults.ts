import {
  DEFAULT_API_KEY_HEADER,
  DEFAULT_OAUTH_ROUTES,
  DEFAULT_QUERY_KEY_PARAMETERS,
} from '../api-key.constants.js';
import { bearerChallenge } from '../errors/index.js';
import type { NamedLimit } from '../interfaces/rate-limit.interface.js';
import type { OAuthRoutes } from '../interfaces/api-key-options.interface.js';
import type { KeybridgeEventListener } from '../interfaces/keybridge-event.interface.js';
import type { KeyEnvironment, KeyPrefixes } from '../interfaces/key-prefixes.interface.js';
import type {
  ResolvedApiKeyOptions,
  ResolvedDenylist,
  ResolvedDpopOptions,
  ResolvedLimit,
  ResolvedRedisOptions,
  ResolvedTokenOptions,
} from '../interfaces/resolved-options.interface.js';
import type { SigningKeys } from '../interfaces/signing-key.interface.js';
import { DEFAULT_KEY_PREFIXES } from '../keys/api-key.format.js';

/** The options before any user setting is applied: every default, written once. */
export class DefaultApiKeyOptions implements ResolvedApiKeyOptions {
  pepper: string | undefined = undefined;
  header = DEFAULT_API_KEY_HEADER;
  /** `header` in lower case, as Node stores incoming header names. */
  headerKey = DEFAULT_API_KEY_HEADER.toLowerCase();
  prefixes: KeyPrefixes = { ...DEFAULT_KEY_PREFIXES };
  defaultEnvironment: KeyEnvironment = 'live';
  cache: { ttlMs: number; max: number } | false = { ttlMs: 5000, max: 10_000 };
  storeTimeoutMs = 2000;
  usageFlushMs = 5000;
  quotaSync: ResolvedApiKeyOptions['quotaSync'] = { flushMs: 1000, lease: 100, mode: 'exact' };
  queryKeyParameters: readonly string[] = DEFAULT_QUERY_KEY_PARAMETERS;
  trustedProxies = 0;
  rateLimit: ResolvedLimit | undefined = undefined;
  rateLimits: readonly NamedLimit[] | undefined = undefined;
  rateLimitLease: number | undefined = undefined;
  failedAuthLimit: ResolvedLimit | undefined = { limit: 60, windowSeconds: 60 };
  realm = 'api';
  /** The `WWW-Authenticate` challenge sent with 401 responses: both schemes when bearer tokens are on. */
  get challenge(): string {
    return this.challengeFor([]);
  }
  /**
   * `Bearer` comes first when tokens are on: OAuth clients (the MCP SDK among them) read `resource_metadata`
   * and `scope` only from a header that begins with it; the `ApiKey` challenge follows for key clients.
   */
  challengeFor(scopes: readonly string[], error?: string, description?: string, resourcePath = ''): string {
    const apiKey = `ApiKey realm="${this.realm}", header="${this.header}"`;
    if (!this.tokens.enabled) return apiKey;
    const bearer = bearerChallenge(this.realm, error, {
      ...(description === undefined ? {} : { error_description: description }),
      // A resource under the API (`/mcp`) names its own path-suffixed document (RFC 9728 §3.1).
      resource_metadata: `${this.resourceMetadataUrl!}${resourcePath}`,
      ...(scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
    });
    return `${bearer}, ${apiKey}`;
  }
  get resourceMetadataUrl(): string | undefined {
    return this.tokens.enabled ? `${this.tokens.issuer}${this.routes.protectedResource}` : undefined;
  }
  tokens: ResolvedTokenOptions = {
    enabled: false,
    issuer: 'http://localhost',
    audiences: ['http://localhost'],
    keys: undefined as unknown as SigningKeys,
    ttlMs: 15 * 60_000,
    clockToleranceMs: 5000,
    cacheMax: 10_000,
    perKeyLimit: { limit: 60, windowSeconds: 60 },
    perAddressLimit: { limit: 300, windowSeconds: 60 },
  };
  dpop: ResolvedDpopOptions = { nonce: false, nonceLifetimeMs: 5 * 60_000, proofMaxAgeMs: 60_000 };
  redis: ResolvedRedisOptions | undefined = undefined;
  denylist: ResolvedDenylist = { kind: 'database', pollMs: 1000 };
  routes: OAuthRoutes = { ...DEFAULT_OAUTH_ROUTES };
  onEvent: KeybridgeEventListener | undefined = undefined;
  clock: () => number = Date.now;
}
