import { Inject, Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_METADATA, SCOPES_METADATA } from '../api-key.constants.js';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../api-key.options.js';
import {
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  KeybridgeError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
} from '../errors.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { clientAddress, type IncomingRequestLike } from '../limits/client-address.util.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import { setResponseHeaders } from './http-response.util.js';
import type { Principal } from './principal.interface.js';

const UNAVAILABLE_LOG_INTERVAL_MS = 10_000;

/** What a route asks of its caller, read once per handler from `@Public()` and `@Scopes()`. */
export interface RouteRequirements {
  isPublic: boolean;
  scopes: readonly string[];
}

export type AuthenticatedRequest = IncomingRequestLike & { user?: Principal };

/**
 * The steps both guards share: reading a route's requirements, taking the credential off the request,
 * applying scopes and per-key limits once the key is known, and turning every refusal into its HTTP answer
 * (headers set, audit event emitted, no secret anywhere).
 */
@Injectable()
export class RequestAuthenticator {
  private readonly logger = new Logger('Keybridge');
  private readonly requirementsByHandler = new WeakMap<object, RouteRequirements>();
  private readonly events: KeybridgeEventEmitter;
  private lastUnavailableLog = 0;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly limits: KeyLimitsService,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    this.events = new KeybridgeEventEmitter(options.onEvent);
  }

  requirements(context: ExecutionContext): RouteRequirements {
    const handler = context.getHandler();
    let requirements = this.requirementsByHandler.get(handler);
    if (!requirements) {
      const targets = [handler, context.getClass()];
      const scopeLists = this.reflector.getAll<(readonly string[] | undefined)[]>(SCOPES_METADATA, targets);
      requirements = {
        isPublic: this.reflector.getAllAndOverride<boolean>(PUBLIC_METADATA, targets) === true,
        scopes: [...new Set(scopeLists.flatMap((list) => list ?? []))],
      };
      this.requirementsByHandler.set(handler, requirements);
    }
    return requirements;
  }

  /** Refuses a key sent in the query string: the URL, key included, lands in access logs. */
  refuseQueryKey(request: IncomingRequestLike): void {
    const url = request.originalUrl ?? request.url ?? '';
    const queryStart = url.indexOf('?');
    if (queryStart === -1 || this.options.queryKeyParameters.length === 0) return;
    const params = new URLSearchParams(url.slice(queryStart + 1));
    for (const name of this.options.queryKeyParameters) {
      if (params.has(name)) throw new ApiKeyInQueryError(name, this.options.header);
    }
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
   * Applies origin restrictions, scopes, rate limit and quota to an authenticated key, then attaches the
   * principal to the request. Returns a promise only when a limit has to be counted.
   */
  authorize(
    key: VerifiedKey,
    requirements: RouteRequirements,
    request: AuthenticatedRequest,
    response: unknown,
  ): true | Promise<true> {
    if (key.ipAllowList || key.referrers) this.limits.checkOrigin(key, request, this.clientIp(request));
    if (requirements.scopes.length > 0) {
      const missing = key.scopes.missing(requirements.scopes);
      if (missing.length > 0) throw new InsufficientScopeError(missing);
    }
    if (key.rateLimit || key.hasQuota || this.options.rateLimit) {
      return this.limits.consume(key).then((headers) => {
        if (headers) setResponseHeaders(response, headers);
        return this.accept(key, request);
      });
    }
    return this.accept(key, request);
  }

  /**
   * Turns a refusal into its HTTP answer: sets the headers the error calls for, emits the audit event, and
   * returns the error to throw. Anything that is not a keybridge error becomes a 503: authentication fails
   * closed and the cause stays in the server log, without a stack trace in the response.
   */
  reject(error: unknown, request: IncomingRequestLike, response: unknown, keyId?: string): KeybridgeError {
    const refusal = error instanceof KeybridgeError ? error : this.unexpected(error);
    if (refusal instanceof AuthUnavailableError) this.noteUnavailable(refusal);
    setResponseHeaders(response, refusal.headers);
    if (this.events.enabled) this.emitRefusal(refusal, request, keyId);
    return refusal;
  }

  clientIp(request: IncomingRequestLike): string | undefined {
    return clientAddress(request, this.options.trustedProxies);
  }

  private accept(key: VerifiedKey, request: AuthenticatedRequest): true {
    request.user = key.principal;
    this.keys.recordUse(key.id);
    return true;
  }

  /** Logs why authentication is unavailable, at most once every few seconds during an outage. */
  private noteUnavailable(refusal: AuthUnavailableError): void {
    const now = Date.now();
    if (now - this.lastUnavailableLog < UNAVAILABLE_LOG_INTERVAL_MS) return;
    this.lastUnavailableLog = now;
    const cause = refusal.cause as Error | undefined;
    this.logger.warn(`Key store unreachable, failing closed with 503: ${cause?.message ?? 'unknown cause'}`);
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
    if (refusal instanceof InvalidApiKeyError) {
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
    } else if (refusal instanceof AuthUnavailableError) {
      this.events.emit({ type: 'auth.unavailable', message: 'key store unreachable', ip, at });
    }
  }
}
