/**
 * The public API of nestjs-keybridge. Everything exported here is covered by semantic versioning, except
 * what is tagged `@internal` in its own documentation: those exports stay for existing apps and may change
 * in a minor release.
 */

// The module and its options
export { ApiKeyModule, KEYBRIDGE_ENTITIES } from './api-key.module.js';
export { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
export {
  API_KEY_STRATEGY,
  DEFAULT_API_KEY_HEADER,
  DEFAULT_OAUTH_ROUTES,
  DEFAULT_QUERY_KEY_PARAMETERS,
  INTROSPECTION_SCOPE,
  PUBLIC_METADATA,
  SCOPES_METADATA,
} from './api-key.constants.js';
export type {
  ApiKeyModuleExtras,
  ApiKeyModuleOptions,
  DpopOptions,
  OAuthRoutes,
} from './interfaces/api-key-options.interface.js';
export type { Duration } from './common/duration.util.js';
export type {
  KeybridgeClusterConnection,
  KeybridgeRedisOptions,
  RedisDenylistOptions,
} from './interfaces/redis-options.interface.js';

// API keys
export { ApiKeyService } from './keys/api-key.service.js';
export { ApiKeyEntity, API_KEY_TABLE } from './keys/api-key.entity.js';
export type { ClientPublicJwk } from './keys/api-key.entity.js';
export type { KeyNamedRateLimits, KeyQuotaRefill, KeyRateLimit } from './keys/api-key.entity.js';
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

// Limits per owner (subject)
export { SubjectLimitsService } from './keys/subject-limits.service.js';
export { SubjectLimitsEntity, SUBJECT_LIMITS_TABLE } from './keys/subject-limits.entity.js';
export type { SubjectLimitsInput, SubjectLimitsView } from './keys/subject-limits.types.js';
export type { KeyEnvironment, KeyPrefixes } from './interfaces/key-prefixes.interface.js';
/** @internal the verified key the guards work with. */
export type { VerifiedKey } from './keys/verified-key.js';

// Guarding routes
export { ApiKeyGuard } from './auth/api-key.guard.js';
export { ApiKeyPassportGuard } from './auth/api-key-passport.guard.js';
export { ApiKeyStrategy } from './auth/api-key.strategy.js';
export { ClientAddressResolver } from './auth/client-address.resolver.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export { Public } from './auth/public.decorator.js';
export { MalformedRequestFilter, rejectUnreadableUrl } from './common/malformed-body.filter.js';
export type { AuthenticatedRequest, GuardedExchange } from './auth/credential.reader.js';
export type { RouteRequirements } from './auth/route.requirements.js';
/** @internal the guards' shared steps; subclass a guard and override its protected hooks instead. */
export { RequestAuthenticator } from './auth/request.authenticator.js';
export { Scopes } from './scopes/scopes.decorator.js';
export { GrantedScopes, isValidScope } from './scopes/scope.matcher.js';
export type { ApiKeyPrincipal, Principal, TokenPrincipal } from './interfaces/principal.interface.js';

// MCP endpoints (serveMcp() needs the optional peer @modelcontextprotocol/sdk, loaded only when it serves)
export { McpEndpoint } from './mcp/mcp-endpoint.decorator.js';
export type { McpEndpointOptions } from './mcp/mcp-endpoint.decorator.js';
export { McpToolScopes } from './mcp/mcp-tool.scopes.js';
export type { McpAuthInfo, McpToolServer } from './mcp/mcp-tool.scopes.js';
export { mcpAuthInfo, serveMcp } from './mcp/mcp.transport.js';
export type { McpConnectableServer } from './mcp/mcp.transport.js';

// Limits
export { KeyLimitsService } from './limits/key-limits.service.js';
export { Cost } from './limits/cost.decorator.js';
/** @internal built by the module; the owner-limit service and the token endpoint share it. */
export { KeyRateLimiter } from './limits/key-rate.limiter.js';
export type { LimitCounter, LimitDecision, LimitState } from './limits/limit.types.js';
export type {
  LimitPolicy,
  LimitScope,
  NamedLimit,
  RateLimitSetting,
  RateLimitSettings,
} from './interfaces/rate-limit.interface.js';
export { clientAddress } from './common/client-address.util.js';

// Audit events
export type {
  AuthMethod,
  ChangeContext,
  EventClient,
  KeybridgeEvent,
  KeybridgeEventListener,
  KeybridgeEventType,
} from './interfaces/keybridge-event.interface.js';
export { allListeners, countEvents, logEvents } from './events/event.listeners.js';
export type { EventCounter } from './events/event.listeners.js';

// Schema
export {
  KEYBRIDGE_MIGRATIONS,
  CreateKeybridgeApiKeys1763800000000,
  CreateKeybridgeDenylist1763900000000,
  AddKeybridgeClientKeys1764000000000,
  CreateKeybridgeReplay1764100000000,
  CreateKeybridgeSubjectLimits1764200000000,
} from './migrations/index.js';

// Access tokens and the OAuth endpoints
export { AccessTokenService, ACCESS_TOKEN_TYPE } from './tokens/access-token.service.js';
export type { MintedToken } from './tokens/access-token.service.js';
export { VerifiedToken } from './tokens/verified-token.js';
export type { AccessTokenClaims } from './tokens/verified-token.js';
export { SIGNING_ALGORITHMS } from './tokens/signing-key.ring.js';
export type { PublicJwk, SigningAlgorithm, SigningKeyOption } from './interfaces/signing-key.interface.js';
export {
  OAuthService,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
  API_KEY_TOKEN_TYPE,
  ACCESS_TOKEN_TOKEN_TYPE,
} from './oauth/oauth.service.js';

// OpenAPI (needs the optional peer @nestjs/swagger, loaded only when a document is made)
export { KeybridgeSwagger } from './swagger/keybridge-swagger.js';
export type { KeybridgeDocumentOptions } from './swagger/keybridge-swagger.js';
export { DEFAULT_SECURITY_SCHEME_NAMES } from './swagger/security.schemes.js';
export type { KeybridgeSecuritySchemeNames } from './swagger/security.schemes.js';

// Revocation
export { TokenDenylist } from './denylist/token.denylist.js';
export { DenylistStore } from './interfaces/denylist-store.interface.js';
export { getDenylistStoreToken, InjectDenylistStore } from './denylist/denylist-store.decorator.js';
export { MemoryDenylistStore } from './denylist/memory-denylist.store.js';
export { DatabaseDenylistStore } from './denylist/database-denylist.store.js';
export type { DatabaseDenylistOptions } from './denylist/database-denylist.store.js';
export { RedisDenylistStore } from './denylist/redis-denylist.store.js';
export { DenylistEntryEntity, DENYLIST_TABLE } from './denylist/denylist-entry.entity.js';
export { ReplayEntryEntity, REPLAY_TABLE } from './replay/replay-entry.entity.js';

// Health (the @nestjs/terminus indicator is in the `nestjs-keybridge/health` entry point)
export { KeybridgeHealthProbe, type KeybridgeHealthReport } from './health/keybridge.health-probe.js';

// Errors
export {
  AmbiguousCredentialsError,
  ApiKeyInQueryError,
  AuthUnavailableError,
  ForbiddenOriginError,
  InsufficientScopeError,
  InvalidApiKeyError,
  InvalidArgumentError,
  InvalidDpopProofError,
  InvalidOptionsError,
  InvalidTokenError,
  KeybridgeError,
  OAuthError,
  KeyConflictError,
  KeyNotFoundError,
  MissingCredentialsError,
  QuotaExhaustedError,
  RateLimitedError,
  UseDpopNonceError,
} from './errors/index.js';
export type {
  AnyKeybridgeError,
  DpopRefusalReason,
  InvalidKeyReason,
  InvalidTokenReason,
  KeybridgeErrorBody,
  KeybridgeErrorClassCode,
  KeybridgeErrorCode,
  LimitErrorBody,
  OAuthErrorCode,
  RateLimitState,
  NamedRateLimitState,
  RefusingLimit,
} from './errors/index.js';
