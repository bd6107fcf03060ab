import type { SecurityRequirementObject, SecuritySchemeObject } from '@nestjs/swagger';
import { INTROSPECTION_SCOPE } from '../api-key.constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';

/**
 * The names the library's security schemes take in `components.securitySchemes`.
 *
 * @publicApi
 */
export interface KeybridgeSecuritySchemeNames {
  /** The API key header. Default `apiKey`. */
  apiKey: string;
  /** `Authorization: Bearer` with a token from the token endpoint. Default `bearer`. */
  bearer: string;
  /** The OAuth 2.0 client-credentials flow of the token endpoint. Default `oauth2`. */
  oauth2: string;
  /** HTTP Basic client authentication (`client_secret_basic`) of the OAuth endpoints. Default `clientSecretBasic`. */
  clientSecretBasic: string;
}

/** @publicApi */
export const DEFAULT_SECURITY_SCHEME_NAMES: Readonly<KeybridgeSecuritySchemeNames> = Object.freeze({
  apiKey: 'apiKey',
  bearer: 'bearer',
  oauth2: 'oauth2',
  clientSecretBasic: 'clientSecretBasic',
});

/** The library's security schemes and the requirements built from them, for one app's options. */
export class KeybridgeSecurity {
  /** False with `oauth: false`: keys only, no bearer tokens, no token endpoint. */
  readonly tokens: boolean;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    readonly names: KeybridgeSecuritySchemeNames,
  ) {
    this.tokens = options.tokens.enabled;
  }

  /** A guarded route: the key header, or a bearer token, or an OAuth token holding `scopes`. */
  route(scopes: readonly string[]): SecurityRequirementObject[] {
    const { apiKey, bearer, oauth2 } = this.names;
    if (!this.tokens) return this.keyOnly();
    return [{ [apiKey]: [] }, { [bearer]: [] }, { [oauth2]: [...scopes] }];
  }

  /** A route behind Passport's plain `AuthGuard('api-key')`, which reads the key header alone. */
  keyOnly(): SecurityRequirementObject[] {
    return [{ [this.names.apiKey]: [] }];
  }

  /**
   * An OAuth endpoint's client authentication: HTTP Basic, the key header, or none declared, since
   * `client_secret_post` and the token exchange carry the key in the form body.
   */
  oauthClient(): SecurityRequirementObject[] {
    return [{ [this.names.clientSecretBasic]: [] }, { [this.names.apiKey]: [] }, {}];
  }

  /** The schemes, with each scope described by the operations that require it. */
  schemes(scopeUse: ReadonlyMap<string, readonly string[]>): Record<string, SecuritySchemeObject> {
    const { header, tokens, routes } = this.options;
    const schemes: Record<string, SecuritySchemeObject> = {
      [this.names.apiKey]: {
        type: 'apiKey',
        in: 'header',
        name: header,
        description: `An API key in the \`${header}\` header.`,
      },
    };
    if (!this.tokens) return schemes;
    const scopes: Record<string, string> = {};
    for (const [scope, operations] of scopeUse) {
      scopes[scope] =
        scope === INTROSPECTION_SCOPE
          ? 'Call the token introspection endpoint.'
          : operations.length > 0
            ? `Needed by ${operations.join(', ')}.`
            : 'Named by a `@Scopes()` of the app.';
    }
    schemes[this.names.bearer] = {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: `An access token from \`POST ${routes.token}\` (RFC 9068 JWT).`,
    };
    schemes[this.names.oauth2] = {
      type: 'oauth2',
      description: 'client_id = the key id, client_secret = the key.',
      flows: { clientCredentials: { tokenUrl: `${tokens.issuer}${routes.token}`, scopes } },
    };
    schemes[this.names.clientSecretBasic] = {
      type: 'http',
      scheme: 'basic',
      description:
        'OAuth client authentication (client_secret_basic): username = the key id, password = the key.',
    };
    return schemes;
  }
}
