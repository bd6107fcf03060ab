export { ApiKeyModule, KEYBRIDGE_ENTITIES } from './api-key.module.js';
export { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
export { DEFAULT_OAUTH_ROUTES } from './api-key.constants.js';
export type {
  ApiKeyModuleExtras,
  ApiKeyModuleOptions,
  OAuthRoutes,
} from './interfaces/api-key-options.interface.js';
export {
  API_KEY_STRATEGY,
  DEFAULT_API_KEY_HEADER,
  DEFAULT_QUERY_KEY_PARAMETERS,
  PUBLIC_METADATA,
  SCOPES_METADATA,
  INTROSPECTION_SCOPE,
} from './api-key.constants.js';
export type { Duration } from './common/duration.util.js';

export { ApiKeyService } from './keys/api-key.service.js';
export { ApiKeyEntity, API_KEY_TABLE } from './keys/api-key.entity.js';
export type { KeyQuotaRefill, KeyRateLimit } from './keys/api-key.entity.js';
export type {
  ApiKeySettings,
  ApiKeyStatus,
  ApiKeyView,
  CreateApiKeyInput,
  CreatedApiKey,
  ListApiKeysQuery,
  RotateApiKeyOptions,
  UpdateApiKeyInput,
  VerifyResult,
} from './keys/api-key.types.js';
export { DEFAULT_KEY_PREFIXES, generateKey, inspectKey } from './keys/api-key.format.js';
export type { VerifiedKey } from './keys/verified-key.js';
export type { KeyEnvironment, KeyPrefixes } from './interfaces/key-prefixes.interface.js';

export { ApiKeyGuard } from './auth/api-key.guard.js';
export { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
export { ApiKeyStrategy } from './auth/api-key.strategy.js';
export { RequestAuthenticator } from './auth/request.authenticator.js';
export type {
  AuthenticatedRequest,
  GuardedExchange,
  RouteRequirements,
} from './auth/request.authenticator.js';
export { Scopes } from './scopes/scopes.decorator.js';
export { Public } from './auth/public.decorator.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export type { ApiKeyPrincipal, Principal, TokenPrincipal } from './interfaces/principal.interface.js';
export { GrantedScopes, isValidScope } from './scopes/scope.matcher.js';

export { KeyLimitsService } from './limits/key-limits.service.js';
export { clientAddress } from './common/client-address.util.js';

export type {
  ChangeContext,
  EventClient,
  KeybridgeEvent,
  KeybridgeEventListener,
  KeybridgeEventType,
} from './interfaces/keybridge-event.interface.js';
export { allListeners, countEvents, logEvents } from './events/event.listeners.js';
export type { EventCounter } from './events/event.listeners.js';

export {
  KEYBRIDGE_MIGRATIONS,
  CreateKeybridgeApiKeys1763800000000,
  CreateKeybridgeDenylist1763900000000,
} from './migrations/index.js';

export { AccessTokenService, ACCESS_TOKEN_TYPE } from './tokens/access-token.service.js';
export type { MintedToken } from './tokens/access-token.service.js';
export { VerifiedToken } from './tokens/verified-token.js';
export type { AccessTokenClaims } from './tokens/verified-token.js';
export { SIGNING_ALGORITHMS } from './tokens/signing-key.ring.js';
export type { PublicJwk, SigningAlgorithm, SigningKeyOption } from './interfaces/signing-key.interface.js';

export { TokenDenylist } from './denylist/token.denylist.js';
export type { DenylistStore } from './interfaces/denylist-store.interface.js';
export { MemoryDenylistStore } from './denylist/memory-denylist.store.js';
export { DatabaseDenylistStore } from './denylist/database-denylist.store.js';
export type { DatabaseDenylistOptions } from './denylist/database-denylist.store.js';
export { RedisDenylistStore } from './denylist/redis-denylist.store.js';
export type { KeybridgeRedisOptions, RedisDenylistOptions } from './interfaces/redis-options.interface.js';
export { DenylistEntryEntity, DENYLIST_TABLE } from './denylist/denylist-entry.entity.js';

export {
  OAuthService,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
  API_KEY_TOKEN_TYPE,
  ACCESS_TOKEN_TOKEN_TYPE,
} from './oauth/oauth.service.js';

export {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidArgumentError,
  InvalidOptionsError,
  InvalidTokenError,
  KeybridgeError,
  OAuthError,
  KeyConflictError,
  KeyNotFoundError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
} from './errors.js';
export type {
  InvalidKeyReason,
  InvalidTokenReason,
  KeybridgeErrorBody,
  KeybridgeErrorCode,
  OAuthErrorCode,
  RateLimitState,
} from './errors.js';
