/**
 * The entry that denies a key and every token minted from it. Verified keys and tokens build theirs once and
 * keep it: a string made per request costs an allocation and, as a map key, hashing every time.
 */
export function keyEntryOf(keyId: string): string {
  return `key:${keyId}`;
}

/** The entry that denies one access token; built once per verified token, like `keyEntryOf`. */
export function tokenEntryOf(jti: string): string {
  return `token:${jti}`;
}
