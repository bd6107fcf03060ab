import { Inject, Injectable, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MoreThan, type Repository } from 'typeorm';
import { API_KEY_REPOSITORY, DENYLIST_STORE, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../api-key.options.js';
import type { ApiKeyEntity } from '../keys/api-key.entity.js';
import type { DenylistStore } from './denylist.store.js';

/**
 * Revocation of access tokens and of everything minted from a key. Backed by the configured store (memory,
 * database or Redis); the checks on the request path are answered from memory.
 */
@Injectable()
export class TokenDenylist implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DENYLIST_STORE) private readonly store: DenylistStore,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    @Optional() @Inject(API_KEY_REPOSITORY) private readonly keys?: Repository<ApiKeyEntity>,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.store.start();
    if (this.options.denylist.kind === 'memory' && this.keys) await this.seedRevokedKeys();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.stop();
  }

  /** How a revocation made elsewhere reaches this process. */
  get propagation(): string {
    return this.store.propagation;
  }

  /** Denies one token until it would have expired. */
  revokeToken(jti: string, expiresAtMs: number): Promise<void> {
    return this.store.add(`token:${jti}`, expiresAtMs);
  }

  /**
   * Denies a key and every token minted from it, for as long as such a token can live: the longest token
   * lifetime plus the clock tolerance, counted from now.
   */
  revokeKey(keyId: string): Promise<void> {
    const horizon =
      this.options.clock() + this.options.tokens.maxLifetimeMs + this.options.tokens.clockToleranceMs;
    return this.store.add(`key:${keyId}`, horizon);
  }

  /** Whether a token is revoked, by itself or through its key. Throws `AuthUnavailableError` when unsure. */
  tokenRefusal(jti: string, keyId: string, now: number): 'revoked' | 'key_revoked' | undefined {
    if (this.store.has(`key:${keyId}`, now)) return 'key_revoked';
    if (this.store.has(`token:${jti}`, now)) return 'revoked';
    return undefined;
  }

  /**
   * A memory denylist starts empty; the keys revoked recently enough to have live tokens are read back from
   * the key table, so a restart does not bring their tokens back. (Single revoked tokens are lost: that is
   * the memory store's documented limit.)
   */
  private async seedRevokedKeys(): Promise<void> {
    const { maxLifetimeMs, clockToleranceMs } = this.options.tokens;
    const since = this.options.clock() - maxLifetimeMs - clockToleranceMs;
    const revoked = await this.keys!.find({
      select: { id: true, revokedAt: true },
      where: { revokedAt: MoreThan(new Date(since)) },
    });
    for (const key of revoked) {
      await this.store.add(`key:${key.id}`, key.revokedAt!.getTime() + maxLifetimeMs + clockToleranceMs);
    }
  }

  /** Whether a key was revoked, possibly by another process whose change the key cache has not seen yet. */
  isKeyRevoked(keyId: string, now: number): boolean {
    return this.store.has(`key:${keyId}`, now);
  }
}
