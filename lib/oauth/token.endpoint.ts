import type { ClientAuthMethod } from '../interfaces/keybridge-event.interface.js';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import { OAuthError } from '../errors/index.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { looksLikeApiKey } from '../keys/api-key.format.js';
import { ApiKeyVerifier } from '../keys/api-key.verifier.js';
import type { VerifiedKey } from '../keys/verified-key.js';
import { isValidScope } from '../scopes/scope.matcher.js';
import { AccessTokenService } from '../tokens/access-token.service.js';
import { OAuthClientAuthenticator } from './client.authenticator.js';
import { basicChallenge } from './client-credentials.reader.js';
import {
  ACCESS_TOKEN_TOKEN_TYPE,
  API_KEY_TOKEN_TYPE,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
} from './oauth.constants.js';
import { OAuthLimits } from './oauth.limits.js';
import { TokenDpopBinding, type TokenRequestProof } from './token-dpop.binding.js';
import type { OAuthParams } from './oauth.params.js';
import { audienceOfResource } from './resource.indicator.js';
import { ok, OAuthResponder, type OAuthRequest, type OAuthResponse } from './oauth.responder.js';

/** `POST /oauth/token`: client credentials (RFC 6749 §4.4) and token exchange of an API key (RFC 8693). */
@Injectable()
export class TokenEndpoint {
  constructor(
    private readonly responder: OAuthResponder,
    private readonly clients: OAuthClientAuthenticator,
    private readonly limits: OAuthLimits,
    private readonly keys: ApiKeyVerifier,
    private readonly tokens: AccessTokenService,
    private readonly denylist: TokenDenylist,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    private readonly dpop: TokenDpopBinding,
  ) {}

  handle(request: OAuthRequest): Promise<OAuthResponse> {
    return this.responder.answer(request, async (params, ip) => {
      await this.limits.mint('address', ip ?? 'unknown', this.options.tokens.perAddressLimit);
      const grant = params.require('grant_type');
      if (grant === GRANT_CLIENT_CREDENTIALS) {
        return this.clientCredentials(request, params, ip, await this.dpop.proofOf(request, ip));
      }
      if (grant === GRANT_TOKEN_EXCHANGE) {
        return this.tokenExchange(request, params, ip, await this.dpop.proofOf(request, ip));
      }
      throw new OAuthError(
        'unsupported_grant_type',
        'Supported grant types: client_credentials and token exchange.',
      );
    });
  }

  private async clientCredentials(
    request: OAuthRequest,
    params: OAuthParams,
    ip: string | undefined,
    proof: TokenRequestProof | undefined,
  ): Promise<OAuthResponse> {
    const client = this.clients.requireClient(this.clients.presented(request, params));
    const key = await this.clients.authenticate(client, request, ip, proof !== undefined);
    this.dpop.checkKey(key, proof, client.method, ip);
    return this.issue(key, params, ip, 'client_credentials', client.method, proof);
  }

  private async tokenExchange(
    request: OAuthRequest,
    params: OAuthParams,
    ip: string | undefined,
    proof: TokenRequestProof | undefined,
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
    const presented = this.clients.presented(request, params);
    const proven = proof !== undefined;
    const client = presented ? await this.clients.authenticate(presented, request, ip, proven) : undefined;
    const key = await this.clients.subjectKey(subjectToken, request, ip, proven);
    if ((client && client.id !== key.id) || (!client && claimedId !== undefined && claimedId !== key.id)) {
      throw new OAuthError('invalid_request', 'The subject_token belongs to another client.');
    }
    if (!client) this.clients.checkOrigin(key, request, ip);
    this.dpop.checkKey(key, proof, presented?.method, ip);
    return this.issue(key, params, ip, 'token_exchange', presented?.method, proof);
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
    authMethod: ClientAuthMethod | undefined,
    proof?: TokenRequestProof,
  ): Promise<OAuthResponse> {
    const scopes = this.requestedScopes(key, params.get('scope'));
    const audience = this.requestedAudience(params);
    await this.limits.mint('key', key.id, this.options.tokens.perKeyLimit);
    // No token while the denylist cannot vouch for the key: a revocation made elsewhere may be unseen.
    if (this.denylist.isKeyEntryRevoked(key.denylistEntry, this.options.clock(), true)) {
      throw new OAuthError('invalid_client', 'Client authentication failed.', HttpStatus.UNAUTHORIZED, {
        'WWW-Authenticate': basicChallenge(this.options.realm),
      });
    }
    await this.limits.spend(key, ip);
    const minted = await this.tokens.mint(key, scopes, audience, proof?.jkt);
    this.keys.recordUse(key.id);
    this.events.emit({
      type: 'token.issued',
      keyId: key.id,
      tokenId: minted.claims.jti,
      scopes,
      audience,
      expiresAt: new Date(minted.claims.exp * 1000),
      grant,
      ...(authMethod ? { authMethod } : {}),
      ...(proof ? { binding: 'dpop' as const } : {}),
      ip,
      at: new Date(this.options.clock()),
    });
    const answer = ok({
      access_token: minted.accessToken,
      ...(grant === 'token_exchange' ? { issued_token_type: ACCESS_TOKEN_TOKEN_TYPE } : {}),
      token_type: proof ? 'DPoP' : 'Bearer',
      expires_in: minted.expiresIn,
      scope: scopes.join(' '),
    });
    if (proof) answer.headers = this.dpop.headers();
    return answer;
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

  /**
   * `audience` (RFC 8693) values, each a configured audience as written, and `resource` (RFC 8707) values,
   * each matched to a configured audience by canonical URI (see `audienceOfResource`).
   */
  private requestedAudience(params: OAuthParams): string[] {
    const { audiences, issuer } = this.options.tokens;
    const named = params.all('audience');
    if (named.some((a) => !audiences.includes(a))) {
      throw new OAuthError(
        'invalid_target',
        'The requested audience or resource is not served by this issuer.',
      );
    }
    const resources = params.all('resource').map((r) => audienceOfResource(r, audiences, issuer));
    const requested = [...new Set([...named, ...resources])];
    return requested.length === 0 ? [audiences[0]] : requested;
  }
}
