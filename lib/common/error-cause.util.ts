import { AuthUnavailableError } from '../errors/index.js';

/** What went wrong underneath: an unavailable store's own error, not the 503's generic message. */
export function causeOf(error: unknown): string {
  const cause = error instanceof AuthUnavailableError ? error.cause : error;
  return (cause as Error)?.message ?? String(cause);
}
