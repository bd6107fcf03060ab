import { AuthUnavailableError } from '../errors.js';

/**
 * Runs one key-store operation on the request path. A failure or a reply slower than `timeoutMs` becomes
 * `AuthUnavailableError` (503): authentication fails closed and the driver's error never reaches the caller.
 */
export async function storeCall<T>(timeoutMs: number, operation: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`key store did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation(), timeout]);
  } catch (error) {
    throw new AuthUnavailableError(error);
  } finally {
    clearTimeout(timer);
  }
}
