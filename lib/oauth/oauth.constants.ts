export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 `subject_token_type` of an API key. */
export const API_KEY_TOKEN_TYPE = 'urn:nestjs-keybridge:token-type:api-key';
export const ACCESS_TOKEN_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Parameters refused in the URL of the OAuth endpoints: they carry secrets. */
export const CREDENTIAL_PARAMETERS: ReadonlySet<string> = new Set([
  'client_secret',
  'subject_token',
  'actor_token',
  'token',
  'access_token',
]);
