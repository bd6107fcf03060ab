import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { MoreThan, type Repository } from 'typeorm';
import { API_KEY_REPOSITORY, DENYLIST_STORE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { MAX_TOKEN_LIFETIME_MS } from '../api-key.constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { AuthUnavailableError } from '../errors.js';
import type { ApiKeyEntity } from '../keys/api-key.entity.js';
import { storeCall } from '../common/store-call.util.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';

/** The longest clock tolerance the options accept. */
const MAX_TOLERANCE_MS = 5 * 60_000;

/**
 * How long a revoked key stays on the denylist: the longest token lifetime any configuration allows plus
 * the largest tolerance, whatever this process's own `tokenTtl` is — the process that minted a token may have
 * been configured with a longer one, or run a clock ahead of ours.
 */
export const KEY_REVOCATION_HORIZON_MS = MAX_TOKEN_LIFETIME_MS + MAX_TOLERANCE_MS;

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
    @Optional() @Inject(API_KEY_REPOSITORY) private readonly keys?: Repository<ApiKeyEntity>,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.store.start();
    if (this.options.denylist.kind === 'memory' && this.options.tokens.enabled && this.keys) {
      await this.seedRevokedKeys();
    }
  }

  /** Before the data source closes, so a poll in flight finishes against an open connection. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.store.stop();
  }

  /** Denies one token until it would have expired. */
  revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    return this.store.add(`token:${jti}`, expiresAtMs);
  }

  /** Denies a key and every token minted from it, for `KEY_REVOCATION_HORIZON_MS` from now. */
  revokeKey(keyId: string): Promise<void> {
    return this.store.add(`key:${keyId}`, this.options.clock() + KEY_REVOCATION_HORIZON_MS);
  }

  /** Whether a token is revoked, by itself or through its key. Throws `AuthUnavailableError` when unsure. */
  tokenRefusal(jti: string, keyId: string, now: number): 'revoked' | 'key_revoked' | undefined {
    if (this.store.has(`key:${keyId}`, now)) return 'key_revoked';
    if (this.store.has(`token:${jti}`, now)) return 'revoked';
    return undefined;
  }

  /**
   * Whether a key was revoked by another process whose change the key cache has not seen yet. Best effort
   * unless `strict`: the key table is the authority for keys (within the cache `ttl`), so an unreachable
   * store answers "no" here instead of failing the request. Strict (for minting), it throws
   * `AuthUnavailableError` instead.
   */
  isKeyRevoked(keyId: string, now: number, strict = false): boolean {
    if (strict) return this.store.has(`key:${keyId}`, now);
    try {
      return this.store.has(`key:${keyId}`, now);
    } catch (error) {
      if (error instanceof AuthUnavailableError) return false;
      throw error;
    }
  }

  /**
   * A memory denylist starts empty; keys revoked within the horizon are read back from the key table, so a
   * restart does not bring their tokens back. (Single revoked tokens are lost: the memory store's documented
   * limit.)
   */
  private async seedRevokedKeys(): Promise<void> {
    const since = this.options.clock() - KEY_REVOCATION_HORIZON_MS;
    try {
      const revoked = await storeCall(this.options.storeTimeoutMs, () =>
        this.keys!.find({
          select: { id: true, revokedAt: true },
          where: { revokedAt: MoreThan(new Date(since)) },
        }),
      );
      for (const key of revoked) {
        await this.store.add(`key:${key.id}`, key.revokedAt!.getTime() + KEY_REVOCATION_HORIZON_MS);
      }
    } catch (error) {
      // Tokens of those keys are still refused: every bearer request also checks its key.
      this.logger.warn(`Revoked keys not read back into the memory denylist: ${(error as Error).message}`);
    }
  }
}
