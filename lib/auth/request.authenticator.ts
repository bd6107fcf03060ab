import { Inject, Injectable, Logger, Optional, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_METADATA, SCOPES_METADATA } from '../api-key.constants.js';
import { REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  AuthUnavailableError,
  bearerChallenge,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidTokenError,
  KeybridgeError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
} from '../errors.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { clientAddress, type IncomingRequestLike } from '../common/client-address.util.js';
import { FailedAuthThrottle } from '../limits/failed-auth.throttle.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import type { VerifiedToken } from '../tokens/verified-token.js';
import { setResponseHeaders } from '../common/http-response.util.js';
import type { Principal } from '../interfaces/principal.interface.js';

/** What a route asks of its caller, read once per handler from `@Public()` and `@Scopes()`. */
export interface RouteRequirements {
  isPublic: boolean;
  scopes: readonly string[];
}

export type AuthenticatedRequest = IncomingRequestLike & { user?: Principal };

/** The request a guard checks and the response it sets headers on. */
export interface GuardedExchange {
  request: AuthenticatedRequest;
  response: unknown;
}

/**
 * The steps both guards share: reading a route's requirements, taking the credential off the request,
 * applying scopes and per-key limits once the key is known, and turning every refusal into its HTTP answer
 * (headers set, audit event emitted, no secret anywhere).
 */
@Injectable()
export class RequestAuthenticator {
  private readonly logger = new Logger('Keybridge');
  /** Per controller class, then per handler: an inherited handler is one function shared by several classes. */
  private readonly requirementsByRoute = new WeakMap<object, WeakMap<object, RouteRequirements>>();
  private readonly events: KeybridgeEventEmitter;
  private readonly unavailableLog = new ThrottledLogger('Keybridge');
  private readonly queryKeyParameters: ReadonlySet<string>;
  private readonly throttle: FailedAuthThrottle | undefined;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly limits: KeyLimitsService,
    private readonly tokens: AccessTokenService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Optional() @Inject(REDIS_CONNECTION) redis: RedisConnection | null = null,
  ) {
    this.events = new KeybridgeEventEmitter(options.onEvent);
    this.queryKeyParameters = new Set(options.queryKeyParameters.map((name) => name.toLowerCase()));
    if (options.failedAuthLimit) {
      this.throttle = new FailedAuthThrottle(options.failedAuthLimit, redis, options.storeTimeoutMs);
    }
  }

  /**
   * The check to run before a credential costs a database read or a signature check: 429 when the client's
   * address has failed too often. `undefined` when throttling is off.
   */
  throttleFor(request: IncomingRequestLike): (() => void) | undefined {
    const throttle = this.throttle;
    return throttle && (() => throttle.check(this.clientIp(request)));
  }

  /** Counts a failed authentication against the client's address. */
  countFailure(request: IncomingRequestLike): void {
    this.throttle?.fail(this.clientIp(request));
  }

  /**
   * The route's requirements. A handler's own `@Public()` makes it public; a class-level `@Public()` does so
   * only for handlers that declare no `@Scopes()` of their own. Scopes of class and handler add up.
   */
  requirements(context: ExecutionContext): RouteRequirements {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byHandler = this.requirementsByRoute.get(controller);
    if (!byHandler) {
      byHandler = new WeakMap();
      this.requirementsByRoute.set(controller, byHandler);
    }
    let requirements = byHandler.get(handler);
    if (!requirements) {
      const handlerScopes = this.reflector.get<readonly string[] | undefined>(SCOPES_METADATA, handler) ?? [];
      const classScopes =
        this.reflector.get<readonly string[] | undefined>(SCOPES_METADATA, controller) ?? [];
      const handlerPublic = this.reflector.get<boolean | undefined>(PUBLIC_METADATA, handler) === true;
      const classPublic = this.reflector.get<boolean | undefined>(PUBLIC_METADATA, controller) === true;
      requirements = {
        isPublic: handlerPublic || (classPublic && handlerScopes.length === 0),
        scopes: [...new Set([...classScopes, ...handlerScopes])],
      };
      byHandler.set(handler, requirements);
    }
    return requirements;
  }

  /**
   * The HTTP request behind an execution context: the request itself, or for GraphQL the `req` of the
   * operation's context. Other transports carry no headers to present a key in: they are refused.
   */
  exchangeOf(context: ExecutionContext): GuardedExchange {
    const type = context.getType<string>();
    if (type === 'http') {
      // The HTTP arguments directly: switchToHttp() builds three closures per call.
      return {
        request: context.getArgByIndex<AuthenticatedRequest>(0),
        response: context.getArgByIndex<unknown>(1),
      };
    }
    if (type === 'graphql') {
      const graphqlContext = context.getArgByIndex<{
        req?: AuthenticatedRequest;
        res?: unknown;
        reply?: unknown;
      }>(2);
      if (graphqlContext?.req?.headers) {
        return { request: graphqlContext.req, response: graphqlContext.res ?? graphqlContext.reply };
      }
    }
    throw new MissingCredentialsError(this.options.challenge);
  }

  /** Refuses a key sent in the query string: the URL, key included, lands in access logs. */
  refuseQueryKey(request: IncomingRequestLike): void {
    const name = this.queryCredentialOf(request);
    if (name !== undefined) throw new ApiKeyInQueryError(name, this.options.header);
  }

  /**
   * The first query parameter that carries a credential: one of `queryKeyParameters`, or of `also`.
   * Names compare case-insensitively: `?API_KEY=` leaks a key just as well.
   */
  queryCredentialOf(request: IncomingRequestLike, also?: ReadonlySet<string>): string | undefined {
    const url = request.originalUrl ?? request.url ?? '';
    const queryStart = url.indexOf('?');
    if (queryStart === -1 || (this.queryKeyParameters.size === 0 && !also)) return undefined;
    for (const name of new URLSearchParams(url.slice(queryStart + 1)).keys()) {
      const lower = name.toLowerCase();
      if (this.queryKeyParameters.has(lower) || also?.has(lower)) return name;
    }
    return undefined;
  }

  /** The key in the configured header. Several copies of the header are refused rather than guessed between. */
  apiKeyOf(request: IncomingRequestLike): string {
    const value = request.headers[this.options.headerKey];
    if (value === undefined || value === '' || (typeof value === 'string' && value.trim() === '')) {
      throw new MissingCredentialsError(this.options.challenge);
    }
    // Node joins repeated custom headers with ", "; no key contains a comma.
    if (Array.isArray(value) || value.includes(',')) {
      throw new InvalidApiKeyError('duplicate_header', this.options.challenge);
    }
    return value;
  }

  /**
   * The token of an `Authorization: Bearer` header, or `undefined` when there is none (or bearer tokens are
   * off). Other schemes are ignored. A bearer token beside an API key is refused: one credential per request.
   */
  bearerOf(request: IncomingRequestLike): string | undefined {
    if (!this.options.tokens.enabled) return undefined;
    const value = request.headers.authorization;
    // `Bearer` alone counts: Node trims the space of an empty `Bearer ` header.
    if (
      typeof value !== 'string' ||
      value.slice(0, 6).toLowerCase() !== 'bearer' ||
      (value.length > 6 && value[6] !== ' ')
    ) {
      return undefined;
    }
    const apiKey = request.headers[this.options.headerKey];
    if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.trim() !== '')) {
      throw new AmbiguousCredentialsError(this.options.header);
    }
    const token = value.slice(6).trim();
    if (token === '') throw new InvalidTokenError('malformed', this.options.realm);
    return token;
  }

  /**
   * Authenticates a bearer token and applies the route's scopes to it, answering any refusal like
   * `reject()`. Synchronous when the token is in the verified-token cache.
   */
  authenticateBearer(
    token: string,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
  ): true | Promise<true> {
    let verified: VerifiedToken | Promise<VerifiedToken>;
    try {
      verified = this.tokens.authenticate(token, this.throttleFor(exchange.request));
    } catch (error) {
      throw this.reject(error, exchange);
    }
    if (verified instanceof Promise) {
      return verified.then(
        (result) => this.authorizeToken(result, requirements, exchange),
        (error: unknown) => Promise.reject(this.reject(error, exchange)),
      );
    }
    return this.authorizeToken(verified, requirements, exchange);
  }

  /**
   * A verified token is only as good as the key it was minted from: the key must still be usable, and its
   * origin restrictions, rate limit and quota apply to the token as to the key. The key comes from the same
   * cache as on the API-key path (one read by id on a miss).
   */
  private authorizeToken(
    token: VerifiedToken,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
  ): true | Promise<true> {
    let key: VerifiedKey | undefined | Promise<VerifiedKey | undefined>;
    try {
      key = this.keys.keyById(token.keyId);
    } catch (error) {
      throw this.reject(error, exchange, token.keyId);
    }
    if (key instanceof Promise) {
      return key.then(
        (result) => this.authorizeTokenOf(result, token, requirements, exchange),
        (error: unknown) => Promise.reject(this.reject(error, exchange, token.keyId)),
      );
    }
    return this.authorizeTokenOf(key, token, requirements, exchange);
  }

  private authorizeTokenOf(
    key: VerifiedKey | undefined,
    token: VerifiedToken,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
  ): true | Promise<true> {
    try {
      const refusal = key ? key.refusal(this.options.clock()) : 'revoked';
      if (refusal) throw new InvalidTokenError(`key_${refusal}`, this.options.realm, token.keyId);
      const result = this.authorize(key!, requirements, exchange, token);
      if (result === true) return true;
      return result.catch((error: unknown) => Promise.reject(this.reject(error, exchange, token.keyId)));
    } catch (error) {
      throw this.reject(error, exchange, token.keyId);
    }
  }

  /**
   * Applies origin restrictions, scopes, rate limit and quota to an authenticated key — with the scopes of
   * `token` when the caller presented one minted from it — then attaches the principal to the request.
   * Returns a promise only when a limit has to be counted.
   */
  authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
    token?: VerifiedToken,
  ): true | Promise<true> {
    const { request, response } = exchange;
    if (key.ipAllowList || key.referrers) this.limits.checkOrigin(key, request, this.clientIp(request));
    const scopes = token ? token.scopes : key.scopes;
    if (requirements.scopes.length > 0 && !scopes.grantsAll(requirements.scopes)) {
      throw this.insufficientScope(scopes.missing(requirements.scopes), requirements, token !== undefined);
    }
    const principal = token ? token.principal : key.principal;
    if (this.limits.applyTo(key)) {
      return this.limits.consume(key).then((headers) => {
        if (headers) setResponseHeaders(response, headers);
        return this.accept(key, principal, request);
      });
    }
    return this.accept(key, principal, request);
  }

  /** 403; for a token with the RFC 6750 challenge naming the scopes the route needs. */
  private insufficientScope(
    missing: readonly string[],
    requirements: RouteRequirements,
    bearer: boolean,
  ): InsufficientScopeError {
    if (!bearer) return new InsufficientScopeError(missing);
    const challenge = bearerChallenge(this.options.realm, 'insufficient_scope', {
      scope: requirements.scopes.join(' '),
    });
    return new InsufficientScopeError(missing, { 'WWW-Authenticate': challenge });
  }

  /**
   * Turns a refusal into its HTTP answer: sets the headers the error calls for, emits the audit event, and
   * returns the error to throw. Anything that is not a keybridge error becomes a 503: authentication fails
   * closed and the cause stays in the server log, without a stack trace in the response.
   */
  reject(error: unknown, exchange: GuardedExchange, keyId?: string): KeybridgeError {
    const refusal = error instanceof KeybridgeError ? error : this.unexpected(error);
    if (refusal instanceof AuthUnavailableError) this.noteUnavailable(refusal);
    setResponseHeaders(exchange.response, refusal.headers);
    if (refusal instanceof InvalidApiKeyError || refusal instanceof InvalidTokenError) {
      this.countFailure(exchange.request);
    }
    if (this.events.enabled) this.emitRefusal(refusal, exchange.request, keyId);
    return refusal;
  }

  clientIp(request: IncomingRequestLike): string | undefined {
    return clientAddress(request, this.options.trustedProxies);
  }

  private accept(key: VerifiedKey, principal: Principal, request: AuthenticatedRequest): true {
    request.user = principal;
    this.keys.recordUse(key.id);
    return true;
  }

  /** Logs why authentication is unavailable, at most once every few seconds during an outage. */
  private noteUnavailable(refusal: AuthUnavailableError): void {
    const cause = refusal.cause as Error | undefined;
    this.unavailableLog.warn(
      `Key store or denylist unreachable, failing closed with 503: ${cause?.message ?? 'unknown cause'}`,
    );
  }

  private unexpected(error: unknown): KeybridgeError {
    this.logger.error(
      `Authentication failed closed: ${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`,
    );
    return new AuthUnavailableError(error);
  }

  private emitRefusal(
    refusal: KeybridgeError,
    request: IncomingRequestLike,
    keyId: string | undefined,
  ): void {
    const at = new Date(this.options.clock());
    const ip = this.clientIp(request);
    if (refusal instanceof InvalidTokenError) {
      this.events.emit({
        type: 'auth.failed',
        reason: `token_${refusal.reason}`,
        keyId: refusal.keyId ?? keyId,
        ip,
        at,
      });
    } else if (refusal instanceof AmbiguousCredentialsError) {
      this.events.emit({ type: 'auth.failed', reason: 'ambiguous_credentials', ip, at });
    } else if (refusal instanceof InvalidApiKeyError) {
      this.events.emit({
        type: 'auth.failed',
        reason: refusal.reason,
        keyId: refusal.keyId ?? keyId,
        ip,
        at,
      });
    } else if (refusal instanceof MissingCredentialsError) {
      this.events.emit({ type: 'auth.failed', reason: 'missing_credentials', ip, at });
    } else if (refusal instanceof ApiKeyInQueryError) {
      this.events.emit({ type: 'auth.failed', reason: 'key_in_query', ip, at });
    } else if (refusal instanceof InsufficientScopeError) {
      this.events.emit({ type: 'auth.failed', reason: 'insufficient_scope', keyId, ip, at });
    } else if (refusal instanceof ForbiddenOriginError) {
      this.events.emit({
        type: 'auth.failed',
        reason: refusal.reason === 'ip' ? 'forbidden_ip' : 'forbidden_referrer',
        keyId,
        ip,
        at,
      });
    } else if ((refusal instanceof RateLimitedError || refusal instanceof QuotaExhaustedError) && keyId) {
      this.events.emit({
        type: 'auth.rate_limited',
        keyId,
        limit: refusal instanceof RateLimitedError ? 'rate' : 'quota',
        ip,
        at,
      });
    } else if (refusal instanceof RateLimitedError) {
      this.events.emit({ type: 'auth.throttled', ip, at });
    } else if (refusal instanceof AuthUnavailableError) {
      this.events.emit({ type: 'auth.unavailable', message: 'key store or denylist unreachable', ip, at });
    }
  }
}
