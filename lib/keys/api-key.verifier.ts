import { hash } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { KEY_CHANGE_FEED, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { causeOf } from '../common/error-cause.util.js';
import { TtlCache } from '../common/ttl.cache.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import { InvalidApiKeyError } from '../errors/index.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { KeyChangeFeed, KeyChangeListener } from '../redis/key-change.feed.js';
import { inspectKey, MAX_KEY_LENGTH } from './api-key.format.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { UsageRecorder } from './usage.recorder.js';
import { VerifiedKey } from './verified-key.js';

/**
 * The hot path of API keys: from a presented key to the stored key it stands for, answered from memory when
 * the key was seen within the cache `ttl`.
 *
 * It checks: the key's length and shape (prefix, checksum) before hashing; that the store holds its hash;
 * that the key is not revoked, disabled or past its deadline; and that no other instance has put it on the
 * denylist. It leaves to the caller: scopes, origin restrictions, rate limits and quotas, and turning a
 * refusal into an HTTP answer.
 *
 * @internal
 */
@Injectable()
export class ApiKeyVerifier implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Keybridge');
  /** Verified keys by the SHA-256 of the presented key. */
  private readonly verified: TtlCache<VerifiedKey> | undefined;
  /** Hashes of well-formed keys the store does not hold, so a flood of them costs one query each per TTL. */
  private readonly unknown: TtlCache<true> | undefined;
  private readonly loading = new Map<string, Promise<VerifiedKey | undefined>>();
  /** The same verified keys by id, for the per-key checks of bearer tokens minted from them. */
  private readonly byId: TtlCache<VerifiedKey> | undefined;
  private readonly loadingById = new Map<string, Promise<VerifiedKey | undefined>>();
  /** Bumped by every change to a key; a store read that straddles a change does not fill the cache. */
  private generation = 0;
  /** Other caches kept in step with the changes other instances publish (the owners' limits). */
  private readonly followers: KeyChangeListener[] = [];

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly hasher: ApiKeyHasher,
    private readonly denylist: TokenDenylist,
    private readonly usage: UsageRecorder,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    /** With Redis: tells other instances which keys changed here, and drops what they changed. */
    @Optional() @Inject(KEY_CHANGE_FEED) private readonly changes: KeyChangeFeed | null = null,
  ) {
    if (options.cache) {
      this.verified = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
      this.unknown = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
      this.byId = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.changes) return;
    if (this.options.cache) {
      this.changes.listen({
        changed: (keyId) => {
          this.forget(keyId);
          for (const follower of this.followers) follower.changed(keyId);
        },
        reset: () => {
          this.forgetAll();
          for (const follower of this.followers) follower.reset();
        },
      });
    }
    await this.changes.start();
  }

  beforeApplicationShutdown(): void {
    this.changes?.stop();
  }

  /**
   * The stored key behind a presented one, or `InvalidApiKeyError` with the reason. Malformed keys are
   * refused before hashing; cached keys are answered from memory, synchronously; otherwise one indexed
   * query, shared by concurrent requests for the same key. `beforeRead` runs only when the store is about to
   * be read, with `subject` (the failed-authentication throttle, with the request). `now` is the request's
   * time when the caller has read it already. With `proofOffered`, a key that requires proof is admitted too:
   * the caller must then check that proof against the key's registered public key before trusting it.
   */
  authenticate<T>(
    key: string,
    beforeRead?: (subject: T) => void,
    subject?: T,
    now: number = this.options.clock(),
    proofOffered = false,
  ): VerifiedKey | Promise<VerifiedKey> {
    if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH) {
      throw new InvalidApiKeyError('malformed', this.options.challenge);
    }
    // The in-memory caches are keyed by a plain SHA-256 (a fraction of the HMAC's cost); the HMAC that the
    // store indexes is computed only on a miss.
    const cacheKey = hash('sha256', key, 'base64');
    const cached = this.verified?.get(cacheKey, now);
    if (cached) return this.admit(cached, now, proofOffered);
    const shape = inspectKey(key, this.options.prefixes);
    if ('problem' in shape) throw new InvalidApiKeyError(shape.problem, this.options.challenge);
    if (this.unknown?.get(cacheKey, now)) throw new InvalidApiKeyError('unknown', this.options.challenge);
    beforeRead?.(subject as T);
    return this.load(key, cacheKey, proofOffered);
  }

  /**
   * The stored key with this id, whatever its state (the caller applies `refusal()`), or `undefined` when no
   * key has it. From the cache when the key was seen within the cache `ttl`, else one read by primary key.
   * `now` saves a clock read when the caller already has the time.
   */
  keyById(id: string, now?: number): VerifiedKey | undefined | Promise<VerifiedKey | undefined> {
    const cached = this.byId?.get(id, now);
    if (cached) return cached;
    let pending = this.loadingById.get(id);
    if (!pending) {
      const read = this.readById(id).finally(() => {
        if (this.loadingById.get(id) === read) this.loadingById.delete(id);
      });
      pending = read;
      this.loadingById.set(id, read);
    }
    return pending;
  }

  /** Counts one use of a key at `at` (default: now); written to the store in the next batch. */
  recordUse(keyId: string, at: number = this.options.clock()): void {
    this.usage.record(keyId, at);
  }

  /** Hands `listener` the ids other instances publish as changed (any id, not only keys'). */
  follow(listener: KeyChangeListener): void {
    this.followers.push(listener);
  }

  /**
   * A key changed in the store: drop it here, and with Redis tell the other instances to. The store is the
   * authority, so a failed publication only leaves them to notice within the cache `ttl`.
   */
  async changed(keyId: string): Promise<void> {
    this.forget(keyId);
    await this.changes?.publish(keyId).catch((error: unknown) => {
      this.logger.warn(
        `Key ${keyId} changed, but other instances could not be told (${causeOf(error)}): they see the change within the cache ttl instead.`,
      );
    });
  }

  /**
   * Drops a changed key from the cache, and invalidates reads that started before the change: their result is
   * not cached, and requests from now on do not share them. (Reads in flight are keyed by the presented key's
   * hash, not its id, so all of them are let go; a change is rare.)
   */
  forget(keyId: string): void {
    this.generation++;
    this.verified?.deleteWhere((entry) => entry.id === keyId);
    this.byId?.delete(keyId);
    this.loading.clear();
    this.loadingById.delete(keyId);
  }

  private forgetAll(): void {
    this.generation++;
    this.verified?.clear();
    this.unknown?.clear();
    this.byId?.clear();
    this.loading.clear();
    this.loadingById.clear();
  }

  /** One store read per key at a time: concurrent misses for the same key share it. */
  private async load(key: string, cacheKey: string, proofOffered: boolean): Promise<VerifiedKey> {
    let pending = this.loading.get(cacheKey);
    if (!pending) {
      const read = this.read(key, cacheKey).finally(() => {
        if (this.loading.get(cacheKey) === read) this.loading.delete(cacheKey);
      });
      pending = read;
      this.loading.set(cacheKey, read);
    }
    const verified = await pending;
    if (!verified) throw new InvalidApiKeyError('unknown', this.options.challenge);
    return this.admit(verified, this.options.clock(), proofOffered);
  }

  private async read(key: string, cacheKey: string): Promise<VerifiedKey | undefined> {
    const keyHash = this.hasher.hash(key);
    const generation = this.generation;
    const record = await this.repository.findByHash(keyHash);
    // A change made while the read was in flight (revoke, update) must not be undone by caching its result.
    const current = generation === this.generation;
    if (!record || !ApiKeyHasher.same(record.keyHash, keyHash)) {
      if (current) this.unknown?.set(cacheKey, true);
      return undefined;
    }
    const verified = new VerifiedKey(record, this.repository.clockOffsetMs);
    if (current) {
      this.verified?.set(cacheKey, verified);
      this.byId?.set(verified.id, verified);
    }
    return verified;
  }

  private async readById(id: string): Promise<VerifiedKey | undefined> {
    const generation = this.generation;
    const record = await this.repository.findById(id);
    if (!record) return undefined;
    const verified = new VerifiedKey(record, this.repository.clockOffsetMs);
    if (generation === this.generation) this.byId?.set(id, verified);
    return verified;
  }

  private admit(verified: VerifiedKey, now: number, proofOffered = false): VerifiedKey {
    const refusal =
      verified.refusal(now) ??
      (this.denylist.isKeyEntryRevoked(verified.denylistEntry, now) ? 'revoked' : undefined);
    if (refusal) throw new InvalidApiKeyError(refusal, this.options.challenge, verified.id);
    // Every caller here presented the key itself, and for this key that alone opens nothing, unless the
    // caller checks a proof of the registered key (DPoP) next.
    if (verified.requireProof && !proofOffered) {
      throw new InvalidApiKeyError('proof_required', this.options.challenge, verified.id);
    }
    return verified;
  }
}
