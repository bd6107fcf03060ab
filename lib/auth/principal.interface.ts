import type { KeyEnvironment } from '../keys/api-key.format.js';

/** Who made the request, as the guards attach it to `request.user`; read it with `@CurrentPrincipal()`. */
export interface Principal {
  /** How the caller authenticated. */
  readonly type: 'api_key';
  /** The id of the API key (also its OAuth `client_id`). */
  readonly keyId: string;
  /** The owner of the key: an app or a team member. */
  readonly subject: string;
  readonly name: string;
  readonly environment: KeyEnvironment;
  readonly scopes: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>> | null;
}
