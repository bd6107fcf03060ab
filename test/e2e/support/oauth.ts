import request from 'supertest';

export const TOKEN_PATH = '/oauth/token';
export const REVOKE_PATH = '/oauth/revoke';
export const INTROSPECT_PATH = '/oauth/introspect';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const API_KEY_TOKEN_TYPE = 'urn:nestjs-keybridge:token-type:api-key';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`. */
export function basic(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** The form-encoded body of an OAuth request. */
export function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** Reads a JWT's header and claims without verifying it. */
export function decodeJwt(token: string): DecodedJwt {
  const [header, payload] = token.split('.');
  const read = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: read(header), payload: read(payload) };
}

/** A JWT built from its parts and a signature, for tokens the server must refuse. */
export function encodeJwt(header: object, payload: object, signature = ''): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(payload)}.${signature}`;
}

/** Posts a client-credentials request authenticated with HTTP Basic. */
export function clientCredentials(url: string, id: string, key: string, extra: Record<string, string> = {}) {
  return request(url)
    .post(TOKEN_PATH)
    .set('Authorization', basic(id, key))
    .type('form')
    .send(form({ grant_type: 'client_credentials', ...extra }));
}

/** An access token for the key, minted over HTTP Basic; fails the test if the endpoint refuses. */
export async function mintToken(
  url: string,
  client: { id: string; key: string },
  extra: Record<string, string> = {},
): Promise<string> {
  const res = await clientCredentials(url, client.id, client.key, extra);
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

export interface OAuthErrorResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

/**
 * Checks an RFC 6749 §5.2 error: the status, `{ error, error_description }` and nothing else, the no-store
 * headers, and that none of `secrets` appears anywhere in the answer.
 */
export function expectOAuthError(
  res: OAuthErrorResponse,
  status: number,
  error: string,
  secrets: readonly string[] = [],
): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error, error_description: expect.any(String) },
  });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['pragma']).toBe('no-cache');
  const everything = `${JSON.stringify(res.headers)}\n${res.text}`;
  for (const secret of secrets) expect(everything).not.toContain(secret);
}

/** A 401 `invalid_token`: the keybridge error body and the RFC 6750 Bearer challenge carrying its message. */
export function expectInvalidToken(res: {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({
    statusCode: 401,
    error: 'Unauthorized',
    message: expect.any(String),
    code: 'invalid_token',
  });
  const { message } = res.body as { message: string };
  const challenge = res.headers['www-authenticate'];
  // Bearer first, with the route's scopes when it has some, then the API-key scheme.
  expect(
    challenge.startsWith(`Bearer realm="api", error="invalid_token", error_description="${message}", `),
  ).toBe(true);
  expect(challenge).toMatch(
    /, resource_metadata="http:\/\/[^"]+\/\.well-known\/oauth-protected-resource"(, scope="[^"]+")?, ApiKey realm="api", header="[^"]+"$/,
  );
}
