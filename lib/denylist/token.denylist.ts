import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DENYLIST_STORE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { MAX_CLOCK_TOLERANCE_MS, MAX_TOKEN_LIFETIME_MS } from '../api-key.constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { AuthUnavailableError } from '../errors/index.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';
import { keyEntryOf, tokenEntryOf } from './denylist-entry.ids.js';
import { RedisDenylistStore } from './redis-denylist.store.js';

/** Keys revoked in the key table, as it answers. */
type RevokedKeys = readonly { id: string; revokedAt: Date | null }[];

/**
 * How long a revoked key stays on the denylist: the longest token lifetime any configuration allows plus
 * the largest tolerance, whatever this process's own `tokenTtl` is — the process that minted a token may have
 * been configured with a longer one, or run a clock ahead of ours.
 */
export const KEY_REVOCATION_HORIZON_MS = MAX_TOKEN_LIFETIME_MS + MAX_CLOCK_TOLERANCE_MS;

/**
 * Revocation of access tokens and of everything minted from a key. Backed by the configured store (memory,
 * database or Redis); the checks on the request path are answered from memory.
 */
@Injectable()
export class TokenDenylist implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Keybridge');

  constructor(
    @Inject(DENYLIST_STORE) private readonly store: DenylistStore,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.store.start();
  }

  /**
   * A memory denylist starts empty, so the keys revoked within the horizon must be handed back at start-up
   * (`useKeyAuthority`) for a restart not to bring their tokens back. (Single revoked tokens are lost: the
   * memory store's documented limit.)
   */
  get forgetsOnRestart(): boolean {
    return this.options.denylist.kind === 'memory' && this.options.tokens.enabled;
  }

  /** The earliest revocation that still matters: tokens minted before it have all expired. */
  horizonStart(): number {
    return this.options.clock() - KEY_REVOCATION_HORIZON_MS;
  }

  /**
   * Takes the key table's revoked keys (within the horizon) as the authority: a memory store is handed them
   * at once; a Redis store reads them again after every (re)connection, so a revocation that a failover or a
   * Redis restart lost from the set comes back at once. (Token revocations are made durable in Redis instead:
   * see `revocationReplicas`.)
   */
  async useKeyAuthority(load: () => Promise<RevokedKeys>): Promise<void> {
    const entries = async () => (await load()).flatMap((key) => (key.revokedAt ? [this.keyEntry(key)] : []));
    if (this.store instanceof RedisDenylistStore) this.store.useAuthority(entries);
    if (!this.forgetsOnRestart) return;
    try {
      for (const [id, expiresAtMs] of await entries()) await this.store.add(id, expiresAtMs);
    } catch (error) {
      // Tokens of those keys are still refused: every bearer request also checks its key.
      this.logger.warn(`Revoked keys not read back into the memory denylist: ${(error as Error).message}`);
    }
  }

  /** A revoked key's entry, denied until the horizon after its revocation. */
  private keyEntry(key: { id: string; revokedAt: Date | null }): [string, number] {
    return [keyEntryOf(key.id), key.revokedAt!.getTime() + KEY_REVOCATION_HORIZON_MS];
  }

  /** Before the data source closes, so a poll in flight finishes against an open connection. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.store.stop();
  }

  /** Denies one token until it would have expired. */
  revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    return this.store.add(tokenEntryOf(jti), expiresAtMs);
  }

  /** Denies a key and every token minted from it, for `KEY_REVOCATION_HORIZON_MS` from now. */
  revokeKey(keyId: string): Promise<void> {
    return this.store.add(keyEntryOf(keyId), this.options.clock() + KEY_REVOCATION_HORIZON_MS);
  }

  /** Whether a token is revoked, by itself or through its key. Throws `AuthUnavailableError` when unsure. */
  tokenRefusal(jti: string, keyId: string, now: number): 'revoked' | 'key_revoked' | undefined {
    return this.entryRefusal(tokenEntryOf(jti), keyEntryOf(keyId), now);
  }

  /** `tokenRefusal` for the entries a verified token built once (`tokenEntryOf`, `keyEntryOf`). */
  entryRefusal(tokenEntry: string, keyEntry: string, now: number): 'revoked' | 'key_revoked' | undefined {
    if (this.store.has(keyEntry, now)) return 'key_revoked';
    if (this.store.has(tokenEntry, now)) return 'revoked';
    return undefined;
  }

  /**
   * Whether a key was revoked by another process whose change the key cache has not seen yet. Best effort
   * unless `strict`: the key table is the authority for keys (within the cache `ttl`), so an unreachable
   * store answers "no" here instead of failing the request. Strict (for minting), it throws
   * `AuthUnavailableError` instead.
   */
  isKeyRevoked(keyId: string, now: number, strict = false): boolean {
    return this.isKeyEntryRevoked(keyEntryOf(keyId), now, strict);
  }

  /** `isKeyRevoked` for the key's entry (`keyEntryOf`) built once, on the request path. */
  isKeyEntryRevoked(keyEntry: string, now: number, strict = false): boolean {
    if (strict) return this.store.has(keyEntry, now);
    try {
      return this.store.has(keyEntry, now);
    } catch (error) {
      if (error instanceof AuthUnavailableError) return false;
      throw error;
    }
  }
}
