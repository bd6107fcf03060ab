/** The name the Passport strategy registers under: `AuthGuard('api-key')`. */
export const API_KEY_STRATEGY = 'api-key';

/** Metadata key written by `@Scopes()`. */
export const SCOPES_METADATA = 'keybridge:scopes';

/** Metadata key written by `@Public()`. */
export const PUBLIC_METADATA = 'keybridge:public';

/** Query parameters refused on guarded routes, because query strings end up in access logs. */
export const DEFAULT_QUERY_KEY_PARAMETERS: readonly string[] = Object.freeze(['api_key', 'apiKey', 'key']);

export const DEFAULT_API_KEY_HEADER = 'X-API-Key';

/** The scope a client needs to call the introspection endpoint. */
export const INTROSPECTION_SCOPE = 'tokens:introspect';
