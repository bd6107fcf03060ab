import type { IncomingHttpHeaders } from 'node:http';
import { OAuthError } from '../errors/index.js';
import type { ClientAuthMethod } from '../interfaces/keybridge-event.interface.js';
import { JWT_BEARER_ASSERTION_TYPE } from './client-assertion.verifier.js';
import type { OAuthParams } from './oauth.params.js';

export type { ClientAuthMethod } from '../interfaces/keybridge-event.interface.js';

/** The credentials a client presented, not yet checked. */
export type PresentedClient =
  | {
      method: Exclude<ClientAuthMethod, 'private_key_jwt'>;
      /** The `client_id` the client claims to be, if it said (required with Basic and POST). */
      clientId: string | undefined;
      /** The API key. */
      secret: string;
    }
  | {
      method: 'private_key_jwt';
      clientId: string | undefined;
      /** The signed JWT (RFC 7523 §2.2); never logged or echoed. */
      assertion: string;
    };

/** The challenge sent with a 401 `invalid_client` from the OAuth endpoints. */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm}"`;
}

/**
 * The client credentials on a request: HTTP Basic, `client_id` + `client_secret` in the body, or the API key
 * header. `undefined` when there are none; `invalid_request` when more than one method is used (RFC 6749
 * §2.3: a client MUST NOT use more than one); `invalid_client` when Basic is unreadable.
 */
export function presentedClient(
  headers: IncomingHttpHeaders,
  params: OAuthParams,
  apiKeyHeader: string,
  realm: string,
  repeatedAuthorization = false,
): PresentedClient | undefined {
  // Node keeps only the first `Authorization`: with two, the client meant one of them, and we cannot know which.
  if (repeatedAuthorization) throw new OAuthError('invalid_request', 'Send the Authorization header once.');
  const found: PresentedClient[] = [];
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.slice(0, 6).toLowerCase() === 'basic ') {
    found.push(basicCredentials(authorization.slice(6).trim(), realm));
  }
  const secret = params.get('client_secret');
  if (secret !== undefined) {
    found.push({ method: 'client_secret_post', clientId: params.get('client_id'), secret });
  }
  const assertion = clientAssertion(params);
  if (assertion !== undefined) {
    found.push({ method: 'private_key_jwt', clientId: params.get('client_id'), assertion });
  }
  const key = headers[apiKeyHeader];
  if (typeof key === 'string' && key.trim() !== '') {
    found.push({ method: 'api_key_header', clientId: params.get('client_id'), secret: key.trim() });
  } else if (Array.isArray(key)) {
    throw new OAuthError('invalid_request', 'Send the API key header once.');
  }
  if (found.length > 1) {
    throw new OAuthError('invalid_request', 'Use one client authentication method per request.');
  }
  const client = found[0];
  if (client?.method === 'client_secret_post' && client.clientId === undefined) {
    throw new OAuthError('invalid_request', 'client_secret was sent without client_id.');
  }
  if (client?.method === 'client_secret_basic') {
    const bodyId = params.get('client_id');
    if (bodyId !== undefined && bodyId !== client.clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body differs from the Basic credentials.');
    }
  }
  return client;
}

/** A `client_assertion` with its type, or `undefined`; either one without the other is `invalid_request`. */
function clientAssertion(params: OAuthParams): string | undefined {
  const type = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (type === undefined && assertion === undefined) return undefined;
  if (type !== JWT_BEARER_ASSERTION_TYPE) {
    throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}.`);
  }
  if (assertion === undefined || assertion === '') {
    throw new OAuthError('invalid_request', 'client_assertion_type was sent without client_assertion.');
  }
  return assertion;
}

/** RFC 6749 §2.3.1: `base64(urlencode(client_id) ":" urlencode(client_secret))`. */
function basicCredentials(encoded: string, realm: string): PresentedClient {
  const unreadable = () =>
    new OAuthError('invalid_client', 'The Basic credentials could not be read.', 401, {
      'WWW-Authenticate': basicChallenge(realm),
    });
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw unreadable();
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw unreadable();
  try {
    return {
      method: 'client_secret_basic',
      clientId: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw unreadable();
  }
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
