import { Inject, Injectable, Logger, Optional, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FAILED_AUTH_THROTTLE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { setResponseHeaders } from '../common/http-response.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import {
  AuthUnavailableError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidDpopProofError,
  InvalidTokenError,
  KeybridgeError,
} from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { refusalEvent } from '../events/refusal.events.js';
import type { Principal } from '../interfaces/principal.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import type { FailedAuthThrottle } from '../limits/failed-auth.throttle.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import type { VerifiedToken } from '../tokens/verified-token.js';
import { ClientAddressResolver } from './client-address.resolver.js';
import { DpopBinding } from './dpop.binding.js';
import { challengedHeaders } from './refusal.challenge.js';
import {
  apiKeyOf,
  bearerOf,
  dpopTokenOf,
  exchangeOf,
  queryCredentialOf,
  refuseQueryKey,
  type AuthenticatedRequest,
  type CredentialSettings,
  type GuardedExchange,
} from './credential.reader.js';
import { RouteRequirementsCache, type RouteRequirements } from './route.requirements.js';

export type { AuthenticatedRequest, GuardedExchange } from './credential.reader.js';
export type { RouteRequirements } from './route.requirements.js';

/**
 * The steps both guards share once the credential is read: authenticating a key or a bearer token,
 * applying scopes and per-key limits, and turning every refusal into its HTTP answer (headers set, audit
 * event emitted, no secret anywhere).
 *
 * @internal subclass the guards and override their protected hooks instead.
 */
@Injectable()
export class RequestAuthenticator {
  private readonly logger = new Logger('Keybridge');
  private readonly unavailableLog = new ThrottledLogger('Keybridge');
  private readonly routes: RouteRequirementsCache;
  /** What reading a credential depends on, taken once from the options. */
  readonly credentials: CredentialSettings;
  /**
   * The check to run before a credential costs a database read or a signature check: 429 when the client's
   * address has failed too often. `undefined` when throttling is off. One function for every request.
   */
  readonly throttleGate: ((request: IncomingRequestLike) => void) | undefined;

  constructor(
    reflector: Reflector,
    private readonly keys: ApiKeyVerifier,
    private readonly limits: KeyLimitsService,
    private readonly tokens: AccessTokenService,
    private readonly addresses: ClientAddressResolver,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Optional() @Inject(FAILED_AUTH_THROTTLE) private readonly throttle: FailedAuthThrottle | null = null,
    private readonly dpop?: DpopBinding,
  ) {
    this.routes = new RouteRequirementsCache(reflector);
    this.credentials = {
      header: options.header,
      headerKey: options.headerKey,
      challenge: options.challenge,
      realm: options.realm,
      bearerTokens: options.tokens.enabled,
      queryKeyParameters: new Set(options.queryKeyParameters.map((name) => name.toLowerCase())),
    };
    const shield = throttle;
    this.throttleGate = shield ? (request) => shield.check(this.addresses.of(request)) : undefined;
  }

  /** The route's requirements, read once per handler, with the scopes the request's body asks for. */
  requirements(context: ExecutionContext): RouteRequirements {
    const route = this.routes.get(context.getClass(), context.getHandler());
    if (!route.scopesOfBody) return route;
    const body = (this.exchangeOf(context).request as { body?: unknown }).body;
    const asked = route.scopesOfBody(body);
    return asked.length === 0 ? route : { ...route, scopes: [...new Set([...route.scopes, ...asked])] };
  }

  /** The HTTP request and response behind an execution context (HTTP, or GraphQL's `req`). */
  exchangeOf(context: ExecutionContext): GuardedExchange {
    return exchangeOf(context, this.credentials.challenge);
  }

  /** Refuses a key sent in the query string. */
  refuseQueryKey(request: IncomingRequestLike): void {
    refuseQueryKey(request, this.credentials);
  }

  /** The first query parameter that carries a credential: one of `queryKeyParameters`, or of `also`. */
  queryCredentialOf(request: IncomingRequestLike, also?: ReadonlySet<string>): string | undefined {
    return queryCredentialOf(request, this.credentials.queryKeyParameters, also);
  }

  /** The key in the configured header. */
  apiKeyOf(request: IncomingRequestLike): string {
    return apiKeyOf(request, this.credentials);
  }

  /** The token of an `Authorization: Bearer` header, or `undefined`. */
  bearerOf(request: IncomingRequestLike): string | undefined {
    return bearerOf(request, this.credentials);
  }

  /** The token of an `Authorization: DPoP` header, or `undefined`. */
  dpopTokenOf(request: IncomingRequestLike): string | undefined {
    return dpopTokenOf(request, this.credentials);
  }

  /**
   * The throttle check for this request, or `undefined` when throttling is off.
   *
   * @deprecated pass `throttleGate` and the request instead: one function for every request.
   */
  throttleFor(request: IncomingRequestLike): (() => void) | undefined {
    const gate = this.throttleGate;
    return gate && (() => gate(request));
  }

  /** Counts a failed authentication against the client's address. */
  countFailure(request: IncomingRequestLike): void {
    this.throttle?.fail(this.addresses.of(request));
  }

  /** @deprecated inject `ClientAddressResolver` and call `of(request)`. */
  clientIp(request: IncomingRequestLike): string | undefined {
    return this.addresses.of(request);
  }

  /** The time by the configured clock; read once per request and handed to the steps that need it. */
  now(): number {
    return this.options.clock();
  }

  /** The stored key behind a presented one (with a `DPoP` header, see `DpopBinding.proveKey`); synchronous when cached. */
  authenticateKey(
    key: string,
    request: IncomingRequestLike,
    now: number = this.options.clock(),
    response?: unknown,
  ): VerifiedKey | Promise<VerifiedKey> {
    if (!this.dpop?.hasProof(request)) return this.keys.authenticate(key, this.throttleGate, request, now);
    return this.dpop.provenKey(key, request, response, this.throttleGate, now);
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
    const now = this.options.clock();
    let verified: VerifiedToken | Promise<VerifiedToken>;
    try {
      verified = this.tokens.authenticate(token, this.throttleGate, exchange.request, now);
    } catch (error) {
      throw this.reject(error, exchange);
    }
    if (verified instanceof Promise) {
      return verified.then(
        (result) =>
          this.authorizeToken(this.unbound(result, exchange), requirements, exchange, this.options.clock()),
        (error: unknown) => Promise.reject(this.reject(error, exchange)),
      );
    }
    return this.authorizeToken(this.unbound(verified, exchange), requirements, exchange, now);
  }

  /** `Authorization: DPoP`: the token as `authenticateBearer` checks it, and its proof (`DpopBinding.proveToken`). */
  authenticateDpop(token: string, requirements: RouteRequirements, exchange: GuardedExchange): Promise<true> {
    exchange.dpop = true;
    return this.dpop!.provenToken(token, exchange, this.throttleGate, this.options.clock()).then(
      (verified) => this.authorizeToken(verified, requirements, exchange, this.options.clock()),
      (error: unknown) => Promise.reject(this.reject(error, exchange)),
    );
  }

  /** A token bound to a DPoP key is refused as a bearer token (RFC 9449 §7.2). */
  private unbound(token: VerifiedToken, exchange: GuardedExchange): VerifiedToken {
    if (token.jkt === undefined) return token;
    throw this.reject(new InvalidTokenError('dpop_bound', this.options.realm, token.keyId), exchange);
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
    now: number,
  ): true | Promise<true> {
    let key: VerifiedKey | undefined | Promise<VerifiedKey | undefined>;
    try {
      key = this.keys.keyById(token.keyId, now);
    } catch (error) {
      throw this.reject(error, exchange, token.keyId);
    }
    if (key instanceof Promise) {
      return key.then(
        (result) => this.authorizeTokenOf(result, token, requirements, exchange, this.options.clock()),
        (error: unknown) => Promise.reject(this.reject(error, exchange, token.keyId)),
      );
    }
    return this.authorizeTokenOf(key, token, requirements, exchange, now);
  }

  private authorizeTokenOf(
    key: VerifiedKey | undefined,
    token: VerifiedToken,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
    now: number,
  ): true | Promise<true> {
    try {
      const refusal = key ? key.refusal(now) : 'revoked';
      if (refusal) throw new InvalidTokenError(`key_${refusal}`, this.options.realm, token.keyId);
      const result = this.authorize(key!, requirements, exchange, token, now);
      if (result === true) return true;
      return result.catch((error: unknown) => Promise.reject(this.reject(error, exchange, token.keyId)));
    } catch (error) {
      throw this.reject(error, exchange, token.keyId);
    }
  }

  /**
   * Applies origin restrictions, scopes, rate limit and quota to an authenticated key — with the scopes of
   * `token` when the caller presented one minted from it — then attaches the principal to the request.
   * Returns a promise only when a limit has to be counted. `now`, the request's time when already read,
   * stamps the key's use.
   */
  authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    exchange: GuardedExchange,
    token?: VerifiedToken,
    now?: number,
  ): true | Promise<true> {
    const { request, response } = exchange;
    if (key.ipAllowList || key.referrers) this.limits.checkOrigin(key, request, this.addresses.of(request));
    const scopes = token ? token.scopes : key.scopes;
    if (requirements.scopes.length > 0 && !scopes.grantsAll(requirements.scopes)) {
      throw new InsufficientScopeError(scopes.missing(requirements.scopes));
    }
    const principal = token ? token.principal : key.principal;
    if (this.limits.applyTo(key)) {
      return this.limits.consume(key, requirements.cost).then((headers) => {
        if (headers) setResponseHeaders(response, headers);
        return this.accept(key, principal, request);
      });
    }
    return this.accept(key, principal, request, now);
  }

  /**
   * Turns a refusal into its HTTP answer: sets the headers the error calls for, emits the audit event, and
   * returns the error to throw. Anything that is not a keybridge error becomes a 503: authentication fails
   * closed and the cause stays in the server log, without a stack trace in the response.
   */
  reject(error: unknown, exchange: GuardedExchange, keyId?: string): KeybridgeError {
    const refusal = error instanceof KeybridgeError ? error : this.unexpected(error);
    if (refusal instanceof AuthUnavailableError) this.noteUnavailable(refusal);
    setResponseHeaders(exchange.response, this.challenged(refusal, exchange));
    if (
      refusal instanceof InvalidApiKeyError ||
      refusal instanceof InvalidTokenError ||
      refusal instanceof InvalidDpopProofError
    ) {
      this.countFailure(exchange.request);
    }
    if (this.events.enabled) {
      const at = new Date(this.options.clock());
      const event = refusalEvent(refusal, this.addresses.of(exchange.request), keyId, at);
      if (event) this.events.emit(event);
    }
    return refusal;
  }

  /** The refusal's headers, with the route's challenge on every 401 and 403 (see `challengedHeaders`). */
  private challenged(refusal: KeybridgeError, exchange: GuardedExchange): Readonly<Record<string, string>> {
    const status = refusal.getStatus();
    if (!this.options.tokens.enabled || (status !== 401 && status !== 403)) return refusal.headers;
    const route = exchange.context ? this.requirements(exchange.context) : undefined;
    const dpop = this.dpop?.challengeOf(refusal, exchange.dpop === true);
    return challengedHeaders(refusal, this.options, route, dpop);
  }

  private accept(key: VerifiedKey, principal: Principal, request: AuthenticatedRequest, now?: number): true {
    request.user = principal;
    this.keys.recordUse(key.id, now);
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
}
