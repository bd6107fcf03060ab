export { ApiKeyModule, KEYBRIDGE_ENTITIES } from './api-key.module.js';
export { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
export type { ApiKeyModuleExtras, ApiKeyModuleOptions } from './api-key.options.js';
export {
  API_KEY_STRATEGY,
  DEFAULT_API_KEY_HEADER,
  DEFAULT_QUERY_KEY_PARAMETERS,
  PUBLIC_METADATA,
  SCOPES_METADATA,
} from './api-key.constants.js';
export type { Duration } from './duration.util.js';

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
  UpdateApiKeyInput,
  VerifyResult,
} from './keys/api-key.types.js';
export { DEFAULT_KEY_PREFIXES, generateKey, inspectKey } from './keys/api-key.format.js';
export type { VerifiedKey } from './keys/verified-key.js';
export type { KeyEnvironment, KeyPrefixes } from './keys/api-key.format.js';

export { ApiKeyGuard } from './auth/api-key.guard.js';
export { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
export { ApiKeyStrategy } from './auth/api-key.strategy.js';
export { RequestAuthenticator } from './auth/request.authenticator.js';
export type {
  AuthenticatedRequest,
  GuardedExchange,
  RouteRequirements,
} from './auth/request.authenticator.js';
export { Scopes } from './auth/scopes.decorator.js';
export { Public } from './auth/public.decorator.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export type { Principal } from './auth/principal.interface.js';
export { GrantedScopes, isValidScope } from './auth/scope.matcher.js';

export { KeyLimitsService } from './limits/key-limits.service.js';
export { clientAddress } from './limits/client-address.util.js';

export type {
  KeybridgeEvent,
  KeybridgeEventListener,
  KeybridgeEventType,
} from './events/keybridge.events.js';

export { KEYBRIDGE_MIGRATIONS, CreateKeybridgeApiKeys1763800000000 } from './migrations/index.js';

export {
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidArgumentError,
  InvalidOptionsError,
  KeybridgeError,
  KeyConflictError,
  KeyNotFoundError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
} from './errors.js';
export type { InvalidKeyReason, KeybridgeErrorBody, KeybridgeErrorCode, RateLimitState } from './errors.js';
