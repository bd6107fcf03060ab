import type { HeaderObject, ResponseObject, SchemaObject } from '@nestjs/swagger';

/** The name of the guards' error body in `components.schemas`. */
export const GUARD_ERROR_SCHEMA = 'KeybridgeError';

/** The body of every refusal of the module's guards (`KeybridgeErrorBody`). */
export const GUARD_ERROR_BODY: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message', 'code'],
  properties: {
    statusCode: { type: 'integer', example: 401 },
    error: { type: 'string', description: 'The HTTP reason phrase.', example: 'Unauthorized' },
    message: { type: 'string', description: 'What went wrong and what to do.' },
    code: { type: 'string', description: 'A stable error code.', example: 'missing_credentials' },
  },
};

const header = (description: string): HeaderObject => ({ description, schema: { type: 'string' } });

function refusal(description: string, headers?: Record<string, HeaderObject>): ResponseObject {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${GUARD_ERROR_SCHEMA}` } } },
  };
}

const RETRY_AFTER = { 'Retry-After': header('Seconds to wait.') };

/** What a route behind the module's guard may answer before the handler runs. */
export const GUARD_RESPONSES: Readonly<Record<string, ResponseObject>> = Object.freeze({
  400: refusal(
    'api_key_in_query: the key was sent in the query string; invalid_argument: a key and a token at once.',
  ),
  401: refusal('missing_credentials, invalid_api_key or invalid_token.', {
    'WWW-Authenticate': header('The schemes the route accepts.'),
  }),
  403: refusal('insufficient_scope (the message names the missing scopes) or forbidden_origin.'),
  429: refusal('rate_limited (the body names the refusing `limit` and its `scope`) or quota_exhausted.', {
    ...RETRY_AFTER,
    'RateLimit-Limit': header('Units allowed per window by the binding limit.'),
    'RateLimit-Remaining': header('Units left in the window of the binding limit.'),
    'RateLimit-Reset': header('Seconds until units of the binding limit come back.'),
    'RateLimit-Policy': header(
      'Every limit: "name";q=<units>;w=<window seconds> (draft-ietf-httpapi-ratelimit-headers).',
    ),
    RateLimit: header('Every limit: "name";r=<units left>;t=<seconds until units come back>.'),
  }),
  503: refusal(
    'auth_unavailable: the key store or the denylist cannot be reached; the request is refused.',
    RETRY_AFTER,
  ),
});
