import { OAuthError } from '../errors/index.js';

/** Parameters that RFC 8693 and RFC 8707 let a client repeat. */
const REPEATABLE = new Set(['audience', 'resource']);
const MAX_PARAMETER_LENGTH = 8192;

/** The parameters of an OAuth request: each name once, except `audience` and `resource`. */
export class OAuthParams {
  private constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /**
   * Reads the parsed body (form or JSON). Anything that is not a flat set of string parameters, and any
   * parameter sent twice that may not be, is `invalid_request` (RFC 6749 §3.2: parameters MUST NOT repeat).
   */
  static of(body: unknown): OAuthParams {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new OAuthError(
        'invalid_request',
        'Send the parameters in the request body as application/x-www-form-urlencoded (or JSON).',
      );
    }
    const values = new Map<string, string[]>();
    for (const [name, raw] of Object.entries(body as Record<string, unknown>)) {
      // Express turns `name[]=v` and repeated names into arrays: either way the name came more than once.
      if (Array.isArray(raw) && !REPEATABLE.has(name)) {
        throw new OAuthError(
          'invalid_request',
          `The parameter "${safeName(name)}" must not be sent more than once.`,
        );
      }
      const list: unknown[] = Array.isArray(raw) ? raw : [raw];
      if (list.some((v) => typeof v !== 'string')) {
        throw new OAuthError('invalid_request', `The parameter "${safeName(name)}" must be a string.`);
      }
      if (list.some((v) => (v as string).length > MAX_PARAMETER_LENGTH)) {
        throw new OAuthError('invalid_request', `The parameter "${safeName(name)}" is too long.`);
      }
      values.set(name, list as string[]);
    }
    return new OAuthParams(values);
  }

  /** The value of a parameter; an empty value counts as absent (RFC 6749 §3.1). */
  get(name: string): string | undefined {
    const value = this.values.get(name)?.[0];
    return value === '' ? undefined : value;
  }

  /** Every value of a repeatable parameter. */
  all(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v) => v !== '');
  }

  require(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw new OAuthError('invalid_request', `The parameter "${name}" is required.`);
    return value;
  }
}

/** A parameter name as it may be quoted in an error: a plain OAuth-style name, else not quoted at all (it could be a key). */
function safeName(name: string): string {
  return /^[A-Za-z_]{1,40}$/.test(name) ? name : '(a parameter)';
}
