export {
  ACCESS_TOKEN_TOKEN_TYPE,
  API_KEY_TOKEN_TYPE,
  GRANT_CLIENT_CREDENTIALS,
  GRANT_TOKEN_EXCHANGE,
} from '../api-key.constants.js';

/** Parameters refused in the URL of the OAuth endpoints: they carry secrets. */
export const CREDENTIAL_PARAMETERS: ReadonlySet<string> = new Set([
  'client_secret',
  'subject_token',
  'actor_token',
  'token',
  'access_token',
]);
