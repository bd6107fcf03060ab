import type { IncomingHttpHeaders } from 'node:http';
import { HttpStatus, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { INTROSPECTION_SCOPE } from '../api-key.constants.js';
import { REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions, ResolvedLimit } from '../interfaces/resolved-options.interface.js';
import { isValidScope } from '../scopes/scope.matcher.js';
import { RequestAuthenticator } from '../auth/request.authenticator.js';
import {
  AuthUnavailableError,
  ForbiddenOriginError,
  InvalidApiKeyError,
  KeybridgeError,
  OAuthError,
  QuotaExhaustedError,
  RateLimitedError,
  rateLimitHeaders,
} from '../errors.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import { looksLikeApiKey } from '../keys/api-key.format.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import { KeyRateLimiter } from '../limits/key-rate.limiter.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import { basicChallenge, presentedClient, type PresentedClient } from './client-credentials.util.js';
import { OAuthParams } from './oauth.params.js';

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 `subject_token_type` of an API key. */
export const API_KEY_TOKEN_TYPE = 'urn:nestjs-keybridge:token-type:api-key';
export const ACCESS_TOKEN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Parameters refused in the URL of the OAuth endpoints: they carry secrets. */
const CREDENTIAL_PARAMETERS = new Set([
  'client_secret',
  'subject_token',
  'actor_token',
  'token',
  'access_token',
]);

/** An OAuth request as the endpoints see it. */
export interface OAuthRequest extends IncomingRequestLike {
  body?: unknown;
  headers: IncomingHttpHeaders;
}

/** A JSON answer and its status; the controller adds `Cache-Control: no-store`. */
export interface OAuthResponse {
  status: number;
  body: object;
  headers: Record<string, string>;
}

/**
 * The token, revocation and introspection endpoints (RFC 6749 §4.4, RFC 8693, RFC 7009, RFC 7662). Every
 * failure is an `OAuthError` rendered as RFC 6749 §5.2 says; nothing else escapes.
 */
@Injectable()
export class OAuthService {
  private readonly logger = new Logger('Keybridge');
  private readonly events: KeybridgeEventEmitter;
  private readonly tokenLimiter: KeyRateLimiter;

  constructor(
    private readonly keys: ApiKeyService,
    private readonly tokens: AccessTokenService,
    private readonly limits: KeyLimitsService,
    private readonly authenticator: RequestAuthenticator,
    private readonly denylist: TokenDenylist,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Optional() @Inject(REDIS_CONNECTION) redis: RedisConnection | null = null,
  ) {
    this.events = new KeybridgeEventEmitter(options.onEvent);
    this.tokenLimiter = new KeyRateLimiter('tokens', { redis, timeoutMs: options.storeTimeoutMs });
  }

  /** `POST /oauth/token`. */
  token(request: OAuthRequest): Promise<OAuthResponse> {
    return this.answer(request, async (params, ip) => {
      await this.limit('address', ip ?? 'unknown', this.options.tokens.perAddressLimit);
      const grant = params.require('grant_type');
      if (grant === GRANT_CLIENT_CREDENTIALS) return this.clientCredentials(request, params, ip);
      if (grant === GRANT_TOKEN_EXCHANGE) return this.tokenExchange(request, params, ip);
      throw new OAuthError(
        'unsupported_grant_type',
        'Supported grant types: client_credentials and token exchange.',
      );
    });
  }

  /** `POST /oauth/revoke`: an access token (its client must authenticate) or an API key (it proves itself). */
  revoke(request: OAuthRequest): Promise<OAuthResponse> {
    return this.answer(request, async (params, ip) => {
      const token = params.require('token');
      const presented = this.presented(request, params);
      if (looksLikeApiKey(token, this.options.prefixes)) {
        const client = presented ? await this.authenticateClient(presented, request, ip) : undefined;
        const key = await this.keyIfValid(token);
        if (key && (!client || client.id === key.id))
          await this.keys.revoke(key.id, 'revoked through the revocation endpoint', { ip, actor: key.id });
        else if (key && client)
          throw new OAuthError('unauthorized_client', 'That API key belongs to another client.');
        return ok({});
      }
      // Revoking only takes access away: it costs no unit of the client's rate limit or quota, so a key whose
      // quota a thief used up can still revoke its tokens.
      const client = await this.authenticateClient(this.requireClient(presented), request, ip);
      const verified = await this.tokens.inspect(token);
      if (verified) {
        if (verified.keyId !== client.id) {
          throw new OAuthError('unauthorized_client', 'The token was not issued to this client.');
        }
        await this.tokens.revoke(verified);
        this.events.emit({
          type: 'token.revoked',
          keyId: client.id,
          tokenId: verified.jti,
          ip,
          at: new Date(this.options.clock()),
        });
      }
      return ok({});
    });
  }

  /** `POST /oauth/introspect`, for clients holding `tokens:introspect`. */
  introspect(request: OAuthRequest): Promise<OAuthResponse> {
    return this.answer(request, async (params, ip) => {
      const client = await this.authenticateClient(
        this.requireClient(this.presented(request, params)),
        request,
        ip,
      );
      await this.spend(client, ip);
      if (!client.scopes.grants(INTROSPECTION_SCOPE)) {
        throw new OAuthError(
          'insufficient_scope',
          `Introspection needs the scope ${INTROSPECTION_SCOPE}.`,
          403,
        );
      }
      const token = params.require('token');
      const verified = looksLikeApiKey(token, this.options.prefixes)
        ? undefined
        : await this.tokens.inspect(token);
      if (!verified) return ok({ active: false });
      return ok({ active: true, token_type: 'Bearer', ...verified.claims });
    });
  }

  private async clientCredentials(
    request: OAuthRequest,
    params: OAuthParams,
    ip: string | undefined,
  ): Promise<OAuthResponse> {
    const key = await this.authenticateClient(
      this.requireClient(this.presented(request, params)),
      request,
      ip,
    );
    return this.issue(key, params, ip, 'client_credentials');
  }

  private async tokenExchange(
    request: OAuthRequest,
    params: OAuthParams,
    ip: string | undefined,
  ): Promise<OAuthResponse> {
    const subjectToken = params.require('subject_token');
    const type = params.require('subject_token_type');
    if (type !== API_KEY_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', `subject_token_type must be ${API_KEY_TOKEN_TYPE}.`);
    }
    const claimedId = params.get('client_id');
    if (params.get('actor_token') !== undefined) {
      throw new OAuthError('invalid_request', 'Delegation (actor_token) is not supported.');
    }
    const requested = params.get('requested_token_type');
    if (requested !== undefined && requested !== ACCESS_TOKEN_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TOKEN_TYPE}.`);
    }
    const presented = this.presented(request, params);
    const client = presented ? await this.authenticateClient(presented, request, ip) : undefined;
    // RFC 8693 §2.2.2: an invalid or unacceptable subject_token is `invalid_request`.
    let key: VerifiedKey;
    try {
      key = await this.keys.authenticate(subjectToken, this.authenticator.throttleFor(request));
    } catch (error) {
      if (!(error instanceof InvalidApiKeyError)) throw error;
      this.noteFailure(error, request, ip);
      throw new OAuthError('invalid_request', 'The subject_token is not a valid API key.');
    }
    if ((client && client.id !== key.id) || (!client && claimedId !== undefined && claimedId !== key.id)) {
      throw new OAuthError('invalid_request', 'The subject_token belongs to another client.');
    }
    if (!client) this.checkOrigin(key, request, ip);
    return this.issue(key, params, ip, 'token_exchange');
  }

  /**
   * Applies `scope` and `audience`/`resource`, the minting limit and the denylist, and only then spends a unit
   * of the key's rate limit and quota and signs: a refused request costs the key nothing.
   */
  private async issue(
    key: VerifiedKey,
    params: OAuthParams,
    ip: string | undefined,
    grant: 'client_credentials' | 'token_exchange',
  ): Promise<OAuthResponse> {
    const scopes = this.requestedScopes(key, params.get('scope'));
    const audience = this.requestedAudience(params);
    await this.limit('key', key.id, this.options.tokens.perKeyLimit);
    // No token while the denylist cannot vouch for the key: a revocation made elsewhere may be unseen.
    if (this.denylist.isKeyRevoked(key.id, this.options.clock(), true)) {
      throw new OAuthError('invalid_client', 'Client authentication failed.', HttpStatus.UNAUTHORIZED, {
        'WWW-Authenticate': basicChallenge(this.options.realm),
      });
    }
    await this.spend(key, ip);
    const minted = await this.tokens.mint(key, scopes, audience);
    this.keys.recordUse(key.id);
    this.events.emit({
      type: 'token.issued',
      keyId: key.id,
      tokenId: minted.claims.jti,
      scopes,
      audience,
      expiresAt: new Date(minted.claims.exp * 1000),
      grant,
      ip,
      at: new Date(this.options.clock()),
    });
    return ok({
      access_token: minted.accessToken,
      ...(grant === 'token_exchange' ? { issued_token_type: ACCESS_TOKEN_TOKEN_TYPE } : {}),
      token_type: 'Bearer',
      expires_in: minted.expiresIn,
      scope: scopes.join(' '),
    });
  }

  /** The requested scopes, each granted by the key; all of the key's scopes when none are asked for. */
  private requestedScopes(key: VerifiedKey, scope: string | undefined): string[] {
    if (scope === undefined || scope.trim() === '') return [...key.principal.scopes];
    const requested = [...new Set(scope.split(' ').filter((s) => s !== ''))];
    const invalid = requested.filter((s) => !isValidScope(s));
    if (invalid.length > 0)
      throw new OAuthError('invalid_scope', 'The scope parameter is not a list of valid scopes.');
    const refused = requested.filter((s) => !key.scopes.grants(s));
    if (refused.length > 0) {
      // A key pasted into `scope` is well-formed as a scope: it is never quoted back.
      const named = refused.map((s) => (looksLikeApiKey(s, this.options.prefixes) ? '[redacted]' : s));
      throw new OAuthError('invalid_scope', `The key does not hold these scopes: ${named.join(' ')}.`);
    }
    return requested;
  }

  /** `audience` (RFC 8693) and `resource` (RFC 8707) values, each one of the configured audiences. */
  private requestedAudience(params: OAuthParams): string[] {
    const { audiences } = this.options.tokens;
    const requested = [...new Set([...params.all('audience'), ...params.all('resource')])];
    if (requested.length === 0) return [audiences[0]];
    if (requested.some((a) => !audiences.includes(a))) {
      throw new OAuthError(
        'invalid_target',
        'The requested audience or resource is not served by this issuer.',
      );
    }
    return requested;
  }

  private presented(request: OAuthRequest, params: OAuthParams): PresentedClient | undefined {
    return presentedClient(request.headers, params, this.options.headerKey, this.options.realm);
  }

  private requireClient(client: PresentedClient | undefined): PresentedClient {
    if (client) return client;
    throw new OAuthError(
      'invalid_client',
      'Authenticate with HTTP Basic (client_id = key id, client_secret = key), client_secret_post, or the API key header.',
      HttpStatus.UNAUTHORIZED,
      { 'WWW-Authenticate': basicChallenge(this.options.realm) },
    );
  }

  /** Checks the presented key, its claimed `client_id` and its origin restrictions. */
  private async authenticateClient(
    client: PresentedClient,
    request: OAuthRequest,
    ip: string | undefined,
  ): Promise<VerifiedKey> {
    const challenge =
      client.method === 'api_key_header' ? this.options.challenge : basicChallenge(this.options.realm);
    const invalid = () =>
      new OAuthError('invalid_client', 'Client authentication failed.', HttpStatus.UNAUTHORIZED, {
        'WWW-Authenticate': challenge,
      });
    let key: VerifiedKey;
    try {
      key = await this.keys.authenticate(client.secret, this.authenticator.throttleFor(request));
    } catch (error) {
      if (!(error instanceof InvalidApiKeyError)) throw error;
      this.noteFailure(error, request, ip);
      throw invalid();
    }
    if (client.clientId !== undefined && client.clientId !== key.id) {
      this.events.emit({
        type: 'auth.failed',
        reason: 'client_id_mismatch',
        keyId: key.id,
        ip,
        at: new Date(this.options.clock()),
      });
      throw invalid();
    }
    this.checkOrigin(key, request, ip);
    return key;
  }

  /** The key's origin restrictions apply to the OAuth endpoints as to any route. */
  private checkOrigin(key: VerifiedKey, request: OAuthRequest, ip: string | undefined): void {
    if (!key.ipAllowList && !key.referrers) return;
    try {
      this.limits.checkOrigin(key, request, ip);
    } catch (error) {
      if (!(error instanceof ForbiddenOriginError)) throw error;
      this.events.emit({
        type: 'auth.failed',
        reason: error.reason === 'ip' ? 'forbidden_ip' : 'forbidden_referrer',
        keyId: key.id,
        ip,
        at: new Date(this.options.clock()),
      });
      throw new OAuthError('unauthorized_client', error.message);
    }
  }

  /** One unit of the key's rate limit and quota, as for a request to any route. */
  private async spend(key: VerifiedKey, ip: string | undefined): Promise<void> {
    if (!this.limits.applyTo(key)) return;
    try {
      await this.limits.consume(key);
    } catch (error) {
      if (error instanceof RateLimitedError || error instanceof QuotaExhaustedError) {
        this.events.emit({
          type: 'auth.rate_limited',
          keyId: key.id,
          limit: error instanceof RateLimitedError ? 'rate' : 'quota',
          ip,
          at: new Date(this.options.clock()),
        });
        throw new OAuthError(error.code, error.message, HttpStatus.TOO_MANY_REQUESTS, { ...error.headers });
      }
      throw error;
    }
  }

  /** Token minting limits, per client address and per key. */
  private async limit(kind: 'address' | 'key', id: string, limit: ResolvedLimit | undefined): Promise<void> {
    if (!limit) return;
    const decision = await this.tokenLimiter.consume(`${kind}:${id}`, limit.limit, limit.windowSeconds);
    if (decision.allowed) return;
    const retryAfter = Math.max(1, Math.ceil(decision.resetSeconds));
    throw new OAuthError(
      'rate_limited',
      kind === 'key'
        ? `Too many tokens requested for this key. Retry after ${retryAfter} seconds.`
        : `Too many requests from this address. Retry after ${retryAfter} seconds.`,
      HttpStatus.TOO_MANY_REQUESTS,
      { 'Retry-After': String(retryAfter), ...rateLimitHeaders(decision) },
    );
  }

  private async keyIfValid(key: string): Promise<VerifiedKey | undefined> {
    try {
      return await this.keys.authenticate(key);
    } catch (error) {
      if (error instanceof InvalidApiKeyError) return undefined;
      throw error;
    }
  }

  /** A refused key: audited with its precise reason, and counted against the client's address. */
  private noteFailure(error: InvalidApiKeyError, request: OAuthRequest, ip: string | undefined): void {
    this.authenticator.countFailure(request);
    this.events.emit({
      type: 'auth.failed',
      reason: error.reason,
      keyId: error.keyId,
      ip,
      at: new Date(this.options.clock()),
    });
  }

  /**
   * Parses the parameters, runs the endpoint, and turns every failure into its RFC 6749 §5.2 answer:
   * keybridge errors keep their status; an unreachable store is 503 `temporarily_unavailable`.
   */
  private async answer(
    request: OAuthRequest,
    handle: (params: OAuthParams, ip: string | undefined) => Promise<OAuthResponse>,
  ): Promise<OAuthResponse> {
    try {
      this.refuseCredentialsInQuery(request);
      return await handle(OAuthParams.of(request.body), this.authenticator.clientIp(request));
    } catch (error) {
      const refusal = error instanceof OAuthError ? error : this.translate(error);
      return {
        status: refusal.getStatus(),
        body: refusal.getResponse() as object,
        headers: { ...refusal.headers },
      };
    }
  }

  /** RFC 6749 §2.3.1: credentials never travel in the URL, which ends up in logs. */
  private refuseCredentialsInQuery(request: OAuthRequest): void {
    if (this.authenticator.queryCredentialOf(request, CREDENTIAL_PARAMETERS) === undefined) return;
    throw new OAuthError(
      'invalid_request',
      'Credentials and tokens are not accepted in the URL, which ends up in logs: send them in the request body or the Authorization header.',
    );
  }

  private translate(error: unknown): OAuthError {
    if (error instanceof RateLimitedError) {
      return new OAuthError('rate_limited', error.message, HttpStatus.TOO_MANY_REQUESTS, {
        ...error.headers,
      });
    }
    if (
      error instanceof KeybridgeError &&
      !(error instanceof AuthUnavailableError) &&
      error.getStatus() < 500
    ) {
      return new OAuthError('invalid_request', error.message, error.getStatus(), { ...error.headers });
    }
    // The store or the denylist is down, or something unexpected: nothing was issued, and the cause stays in the log.
    const cause = (error instanceof AuthUnavailableError ? error.cause : error) as Error | undefined;
    this.logger.warn(`OAuth endpoint failed closed with 503: ${cause?.message ?? 'unknown cause'}`);
    return new OAuthError(
      'temporarily_unavailable',
      'The authorization server is temporarily unavailable. Try again shortly.',
      HttpStatus.SERVICE_UNAVAILABLE,
      { 'Retry-After': '1' },
      error,
    );
  }
}

function ok(body: object): OAuthResponse {
  return { status: 200, body, headers: {} };
}
