import { AuthUnavailableError } from '../errors/index.js';

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

/**
 * Transient refusals of a read by the database: PostgreSQL serialization failure (40001), deadlock (40P01) and
 * lock timeout (55P03); MySQL/MariaDB deadlock (1213) and lock wait timeout (1205). The same read, run again,
 * usually succeeds.
 */
const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01', '55P03']);
const TRANSIENT_MYSQL_ERRNOS: ReadonlySet<number> = new Set([1213, 1205]);

export function isTransientReadError(error: unknown): boolean {
  const { code, errno } = driverCodes(error);
  return (
    (typeof code === 'string' && TRANSIENT_SQLSTATES.has(code)) ||
    (typeof errno === 'number' && TRANSIENT_MYSQL_ERRNOS.has(errno))
  );
}

/**
 * Whether a failed insert was refused for an existing primary or unique key: PostgreSQL 23505, MySQL/MariaDB
 * ER_DUP_ENTRY (1062), SQLite SQLITE_CONSTRAINT_PRIMARYKEY / _UNIQUE. Any other failure is no answer.
 */
export function isDuplicateKeyError(error: unknown): boolean {
  const { code, errno } = driverCodes(error);
  return (
    code === '23505' ||
    code === 'ER_DUP_ENTRY' ||
    errno === 1062 ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/** The driver's code and errno, from TypeORM's `QueryFailedError` or the driver's own error. */
function driverCodes(error: unknown): { code: unknown; errno: unknown } {
  const failure = error as {
    code?: unknown;
    errno?: unknown;
    driverError?: { code?: unknown; errno?: unknown };
  };
  return {
    code: failure?.driverError?.code ?? failure?.code,
    errno: failure?.driverError?.errno ?? failure?.errno,
  };
}

/**
 * Runs a read, and once more if the database refused it transiently, before giving up. Only for statements
 * that change nothing: a write whose reply was lost may have been applied, and must not run twice.
 */
export async function readWithRetry<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isTransientReadError(error)) throw error;
    return read();
  }
}
