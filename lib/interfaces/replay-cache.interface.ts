/**
 * Remembers one-time identifiers (the `jti` of client assertions and DPoP proofs) until they expire, so that each is
 * accepted once.
 *
 * @internal
 */
export interface ReplayCache {
  /**
   * Records `id` for `ttlMs`. `true` when it was new, `false` when it was already recorded and has not
   * expired. Throws `AuthUnavailableError` when the store cannot answer: an unchecked identifier is refused.
   */
  claim(id: string, ttlMs: number): Promise<boolean>;
}
