import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { RequestAuthenticator } from '../auth/request.authenticator.js';
import { repeatsAuthorization } from '../common/http-headers.util.js';
import { ForbiddenOriginError, InvalidApiKeyError, OAuthError } from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { originReason } from '../events/refusal.events.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { KeyLimitsService } from '../limits/key-limits.service.js';
import { AssertionRefusal, ClientAssertionVerifier } from './client-assertion.verifier.js';
import { basicChallenge, presentedClient, type PresentedClient } from './client-credentials.reader.js';
import type { OAuthParams } from './oauth.params.js';
import type { OAuthRequest } from './oauth.responder.js';

/**
 * Client authentication for the token, revocation and introspection endpoints: a client is an API key,
 * presented with HTTP Basic, `client_secret_post` or the key header. Refused keys are audited with their
 * precise reason and counted against the client's address; the client only ever sees `invalid_client`.
 */
@Injectable()
export class OAuthClientAuthenticator {
  constructor(
    private readonly keys: ApiKeyVerifier,
    private readonly limits: KeyLimitsService,
    private readonly authenticator: RequestAuthenticator,
    private readonly events: KeybridgeEventEmitter,
    private readonly assertions: ClientAssertionVerifier,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  /** The client credentials on a request, not yet checked, or `undefined` when there are none. */
  presented(request: OAuthRequest, params: OAuthParams): PresentedClient | undefined {
    return presentedClient(
      request.headers,
      params,
      this.options.headerKey,
      this.options.realm,
      repeatsAuthorization(request),
    );
  }

  /** The presented client, or 401 `invalid_client` naming the ways to authenticate. */
  requireClient(client: PresentedClient | undefined): PresentedClient {
    if (client) return client;
    throw new OAuthError(
      'invalid_client',
      'Authenticate with HTTP Basic (client_id = key id, client_secret = key), client_secret_post, private_key_jwt, or the API key header.',
      HttpStatus.UNAUTHORIZED,
      { 'WWW-Authenticate': basicChallenge(this.options.realm) },
    );
  }

  /**
   * Checks the presented key, its claimed `client_id` and its origin restrictions. With `proofOffered` (a
   * DPoP proof came with the request), a key that requires proof is let through for the caller to check
   * that the proof is its registered key's.
   */
  async authenticate(
    client: PresentedClient,
    request: OAuthRequest,
    ip: string | undefined,
    proofOffered = false,
  ): Promise<VerifiedKey> {
    const challenge =
      client.method === 'api_key_header' ? this.options.challenge : basicChallenge(this.options.realm);
    const invalid = () =>
      new OAuthError('invalid_client', 'Client authentication failed.', HttpStatus.UNAUTHORIZED, {
        'WWW-Authenticate': challenge,
      });
    const authMethod = client.method;
    let key: VerifiedKey;
    try {
      key =
        client.method === 'private_key_jwt'
          ? await this.signedClient(client.assertion, client.clientId, request)
          : await this.keys.authenticate(
              client.secret,
              this.authenticator.throttleGate,
              request,
              undefined,
              proofOffered,
            );
    } catch (error) {
      if (!(error instanceof InvalidApiKeyError || error instanceof AssertionRefusal)) throw error;
      this.noteFailure(error, request, ip, authMethod);
      throw invalid();
    }
    if (client.clientId !== undefined && client.clientId !== key.id) {
      this.events.emit({
        type: 'auth.failed',
        reason: 'client_id_mismatch',
        keyId: key.id,
        ip,
        authMethod,
        at: new Date(this.options.clock()),
      });
      throw invalid();
    }
    this.checkOrigin(key, request, ip);
    return key;
  }

  /**
   * The key behind a `subject_token` (RFC 8693), or 400 `invalid_request` (§2.2.2) when it is not a valid
   * key; the refusal is audited and counted like a client's.
   */
  async subjectKey(
    subjectToken: string,
    request: OAuthRequest,
    ip: string | undefined,
    proofOffered = false,
  ): Promise<VerifiedKey> {
    try {
      const gate = this.authenticator.throttleGate;
      return await this.keys.authenticate(subjectToken, gate, request, undefined, proofOffered);
    } catch (error) {
      if (!(error instanceof InvalidApiKeyError)) throw error;
      this.noteFailure(error, request, ip);
      throw new OAuthError('invalid_request', 'The subject_token is not a valid API key.');
    }
  }

  /** The key if it is valid and usable, else `undefined`; for revoking a key with itself. */
  async keyIfValid(key: string): Promise<VerifiedKey | undefined> {
    try {
      return await this.keys.authenticate(key);
    } catch (error) {
      if (error instanceof InvalidApiKeyError) return undefined;
      throw error;
    }
  }

  /** The key's origin restrictions apply to the OAuth endpoints as to any route. */
  checkOrigin(key: VerifiedKey, request: OAuthRequest, ip: string | undefined): void {
    if (!key.ipAllowList && !key.referrers) return;
    try {
      this.limits.checkOrigin(key, request, ip);
    } catch (error) {
      if (!(error instanceof ForbiddenOriginError)) throw error;
      this.events.emit({
        type: 'auth.failed',
        reason: originReason(error),
        keyId: key.id,
        ip,
        at: new Date(this.options.clock()),
      });
      throw new OAuthError('unauthorized_client', error.message);
    }
  }

  /** `private_key_jwt`: the throttle applies before the key is read, as for a secret. */
  private signedClient(
    assertion: string,
    clientId: string | undefined,
    request: OAuthRequest,
  ): Promise<VerifiedKey> {
    this.authenticator.throttleGate?.(request);
    return this.assertions.verify(assertion, clientId);
  }

  /** A refused key: audited with its precise reason, and counted against the client's address. */
  private noteFailure(
    error: InvalidApiKeyError | AssertionRefusal,
    request: OAuthRequest,
    ip: string | undefined,
    authMethod?: PresentedClient['method'],
  ): void {
    this.authenticator.countFailure(request);
    this.events.emit({
      type: 'auth.failed',
      reason: error.reason,
      keyId: error.keyId,
      ip,
      ...(authMethod ? { authMethod } : {}),
      at: new Date(this.options.clock()),
    });
  }
}
