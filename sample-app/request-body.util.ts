import { BadRequestException } from '@nestjs/common';

/** A 400 in the same `{ statusCode, error, message, code }` shape as the library's errors. */
export function invalidRequest(message: string): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message, code: 'invalid_request' });
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('Send a JSON object with Content-Type: application/json.');
  }
  return body as Record<string, unknown>;
}
