/**
 * A scope is one or more `:`-separated segments of letters, digits and `_ . - /`; a granted scope may end in
 * `:*`, which grants every scope that starts with the part before the `*` (`orders:*` grants `orders:read`
 * and `orders:refunds:write`, not `orders`). Scopes never contain spaces, so they fit OAuth's `scope` string.
 */
export const SCOPE_PATTERN = /^[A-Za-z0-9_.\-/]+(?::[A-Za-z0-9_.\-/]+)*(?::\*)?$/;
export const MAX_SCOPE_LENGTH = 128;
export const MAX_SCOPES_PER_KEY = 100;

export function isValidScope(scope: unknown): scope is string {
  return typeof scope === 'string' && scope.length <= MAX_SCOPE_LENGTH && SCOPE_PATTERN.test(scope);
}

/**
 * The scopes a credential holds, prepared once so each check is a Set lookup and a short prefix scan.
 *
 * @publicApi
 */
export class GrantedScopes {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];

  constructor(readonly scopes: readonly string[]) {
    this.exact = new Set(scopes);
    this.prefixes = scopes.filter((s) => s.endsWith(':*')).map((s) => s.slice(0, -1));
  }

  grants(scope: string): boolean {
    if (this.exact.has(scope)) return true;
    for (const prefix of this.prefixes) if (scope.startsWith(prefix)) return true;
    return false;
  }

  grantsAll(required: readonly string[]): boolean {
    for (let i = 0; i < required.length; i++) if (!this.grants(required[i])) return false;
    return true;
  }

  /** The required scopes this set does not grant, in the order they were required. */
  missing(required: readonly string[]): string[] {
    const missing: string[] = [];
    for (const scope of required) if (!this.grants(scope)) missing.push(scope);
    return missing;
  }
}
