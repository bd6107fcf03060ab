import type { IncomingHttpHeaders } from 'node:http';
import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { ClientAddressResolver } from '../auth/client-address.resolver.js';
import { RequestAuthenticator } from '../auth/request.authenticator.js';
import type { IncomingRequestLike } from '../common/client-address.util.js';
import { AuthUnavailableError, KeybridgeError, OAuthError, RateLimitedError } from '../errors/index.js';
import { CREDENTIAL_PARAMETERS } from './oauth.constants.js';
import { OAuthParams } from './oauth.params.js';

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

/** A 200 with this body. */
export function ok(body: object): OAuthResponse {
  return { status: 200, body, headers: {} };
}

/**
 * What every OAuth endpoint does around its own work: refuses credentials in the URL, parses the
 * parameters, and turns every failure into its RFC 6749 §5.2 answer. Keybridge errors keep their status; an
 * unreachable store is 503 `temporarily_unavailable`; nothing else escapes.
 */
@Injectable()
export class OAuthResponder {
  private readonly logger = new Logger('Keybridge');

  constructor(
    private readonly authenticator: RequestAuthenticator,
    private readonly addresses: ClientAddressResolver,
  ) {}

  async answer(
    request: OAuthRequest,
    handle: (params: OAuthParams, ip: string | undefined) => Promise<OAuthResponse>,
  ): Promise<OAuthResponse> {
    try {
      this.refuseCredentialsInQuery(request);
      return await handle(OAuthParams.of(request.body), this.addresses.of(request));
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
