import type { HttpAdapterHost } from '@nestjs/core';
import type { OAuthResponse } from './oauth.service.js';

/**
 * Writes an OAuth answer straight to the response, on Express or Fastify: `Cache-Control: no-store` and
 * `Pragma: no-cache` (RFC 6749 §5.1) unless the answer sets its own caching, as the JWKS and metadata do.
 */
export function replyOAuth(adapterHost: HttpAdapterHost, response: unknown, answer: OAuthResponse): void {
  const adapter = adapterHost.httpAdapter;
  const headers: Record<string, string> = {
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    ...answer.headers,
  };
  if (headers['Cache-Control'] !== 'no-store') delete headers.Pragma;
  for (const [name, value] of Object.entries(headers)) adapter.setHeader(response, name, value);
  adapter.reply(response, answer.body, answer.status);
}
