import { hash } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { QueryDeepPartialEntity, Repository } from 'typeorm';
import { API_KEY_REPOSITORY, REDIS_CONNECTION, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import {
  AuthUnavailableError,
  InvalidApiKeyError,
  InvalidArgumentError,
  KeyConflictError,
  KeyNotFoundError,
} from '../errors.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import { parseDuration, type Duration } from '../common/duration.util.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import { changeContext } from '../events/change-context.util.js';
import type { ChangeContext } from '../interfaces/keybridge-event.interface.js';
import { KeyChangeFeed } from '../redis/key-change.feed.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import { randomBase62 } from './base62.util.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { generateKey, inspectKey, keyHint, MAX_KEY_LENGTH } from './api-key.format.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import type {
  ApiKeyStatus,
  ApiKeyView,
  CreateApiKeyInput,
  CreatedApiKey,
  ListApiKeysQuery,
  RotateApiKeyOptions,
  UpdateApiKeyInput,
  VerifyResult,
} from './api-key.types.js';
import { requireText, validateScopes, validateSettings } from './api-key.validation.js';
import { storeCall } from '../common/store-call.util.js';
import { KeyHashLookup } from './key-hash.lookup.js';
import { TtlCache } from '../common/ttl.cache.js';
import { UsageRecorder } from './usage.recorder.js';
import { deadlineOf, VerifiedKey } from './verified-key.js';

const KEY_ID_PATTERN = /^key_[0-9A-Za-z]{1,36}$/;

/** Creates, reads, changes, revokes and verifies API keys. Inject it anywhere once the module is imported. */
@Injectable()
export class ApiKeyService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly hasher: ApiKeyHasher;
  private readonly verified: TtlCache<VerifiedKey> | undefined;
  /** Hashes of well-formed keys the store does not hold, so a flood of them costs one query each per TTL. */
  private readonly unknown: TtlCache<true> | undefined;
  private readonly loading = new Map<string, Promise<VerifiedKey | undefined>>();
  /** The same verified keys by id, for the per-key checks of bearer tokens minted from them. */
  private readonly byId: TtlCache<VerifiedKey> | undefined;
  private readonly loadingById = new Map<string, Promise<VerifiedKey | undefined>>();
  /** Bumped by every change to a key; a store read that straddles a change does not fill the cache. */
  private generation = 0;
  private readonly usage: UsageRecorder;
  private readonly lookup: KeyHashLookup;
  private readonly events: KeybridgeEventEmitter;
  private readonly logger = new Logger('Keybridge');
  /** With Redis: tells other instances which keys changed here, and drops what they changed. */
  private readonly changes: KeyChangeFeed | undefined;

  constructor(
    @Inject(API_KEY_REPOSITORY) private readonly repository: Repository<ApiKeyEntity>,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
    private readonly denylist: TokenDenylist,
    @Optional() @Inject(REDIS_CONNECTION) redis: RedisConnection | null = null,
  ) {
    this.hasher = new ApiKeyHasher(options.pepper);
    if (options.cache) {
      this.verified = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
      this.unknown = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
      this.byId = new TtlCache(options.cache.max, options.cache.ttlMs, options.clock);
    }
    this.usage = new UsageRecorder(repository, options.usageFlushMs);
    this.lookup = new KeyHashLookup(repository);
    this.events = new KeybridgeEventEmitter(options.onEvent);
    if (redis) {
      this.changes = new KeyChangeFeed(
        redis,
        options.storeTimeoutMs,
        options.cache ? { changed: (keyId) => this.forget(keyId), reset: () => this.forgetAll() } : undefined,
      );
    }
  }

  async onModuleInit(): Promise<void> {
    await this.changes?.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.usage.flush();
  }

  /** The last write of usage counts, after every module is destroyed and before the data source closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.changes?.stop();
    await this.usage.close();
  }

  /**
   * Creates a key. The returned `key` is the only time the key is ever available: show it once. `context`
   * (who asked, from where) goes into the audit event, as for every change below.
   */
  async create(input: CreateApiKeyInput, context?: ChangeContext): Promise<CreatedApiKey> {
    if (input === null || typeof input !== 'object') throw new InvalidArgumentError('Expected key settings.');
    const now = this.options.clock();
    const settings = validateSettings(
      { ...input, name: requireText(input.name, 'name'), scopes: validateScopes(input.scopes) },
      now,
    );
    const environment = input.environment ?? this.options.defaultEnvironment;
    if (environment !== 'live' && environment !== 'test') {
      throw new InvalidArgumentError('environment must be "live" or "test".');
    }
    const id = `key_${randomBase62(22)}`;
    const prefix = this.options.prefixes[environment];
    const key = generateKey(prefix);
    const createdAt = new Date(now);
    const record: ApiKeyEntity = {
      id,
      keyHash: this.hasher.hash(key),
      hint: keyHint(key, prefix),
      environment,
      name: settings.name!,
      subject: input.subject === undefined ? id : requireText(input.subject, 'subject'),
      scopes: settings.scopes!,
      metadata: settings.metadata ?? null,
      allowedIps: settings.allowedIps ?? null,
      allowedReferrers: settings.allowedReferrers ?? null,
      rateLimit: settings.rateLimit ?? null,
      // A refilling quota without a starting balance starts full.
      remaining: settings.remaining ?? settings.quotaRefill?.amount ?? null,
      quotaRefill: settings.quotaRefill ?? null,
      quotaRefilledAt: settings.quotaRefill ? createdAt : null,
      usageCount: 0,
      createdAt,
      updatedAt: createdAt,
      expiresAt: settings.expiresAt ?? null,
      lastUsedAt: null,
      disabledAt: null,
      revokedAt: null,
      revokedReason: null,
      rotatedFromId: null,
      rotatedToId: null,
      graceEndsAt: null,
    };
    await this.store(() => this.repository.insert(record as QueryDeepPartialEntity<ApiKeyEntity>));
    this.events.emit({
      type: 'key.created',
      keyId: id,
      subject: record.subject,
      scopes: record.scopes,
      at: createdAt,
      ...changeContext(context),
    });
    return { ...this.toView(record, now), key };
  }

  async list(query: ListApiKeysQuery = {}): Promise<ApiKeyView[]> {
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidArgumentError('limit must be a whole number from 1 to 1000.');
    }
    if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError('offset must be 0 or more.');
    const qb = this.repository
      .createQueryBuilder('k')
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'ASC');
    if (query.subject !== undefined)
      qb.andWhere('k.subject = :subject', { subject: requireText(query.subject, 'subject') });
    if (!query.includeRevoked) qb.andWhere('k.revokedAt IS NULL');
    const records = await this.store(() => qb.take(limit).skip(offset).getMany());
    const now = this.options.clock();
    return records.map((r) => this.toView(r, now));
  }

  async get(id: string): Promise<ApiKeyView> {
    return this.toView(await this.find(id), this.options.clock());
  }

  async update(id: string, patch: UpdateApiKeyInput, context?: ChangeContext): Promise<ApiKeyView> {
    const now = this.options.clock();
    const changes = validateSettings(patch, now);
    const record = await this.find(id);
    if (record.revokedAt)
      throw new KeyConflictError(`API key "${id}" is revoked and can no longer be changed.`);
    const changed = Object.keys(changes);
    if (changed.length === 0) return this.toView(record, now);
    if (changes.quotaRefill && !record.quotaRefill)
      Object.assign(changes, { quotaRefilledAt: new Date(now) });
    Object.assign(record, changes, { updatedAt: new Date(now) });
    await this.store(() =>
      this.repository.update({ id }, {
        ...changes,
        updatedAt: record.updatedAt,
      } as QueryDeepPartialEntity<ApiKeyEntity>),
    );
    await this.changed(id);
    this.events.emit({
      type: 'key.updated',
      keyId: id,
      changes: changed,
      at: record.updatedAt,
      ...changeContext(context),
    });
    return this.toView(record, now);
  }

  /**
   * Revokes a key at once, and with it every token minted from it (through the denylist, so other processes
   * sharing it refuse them too). Revoking a revoked key changes nothing.
   */
  async revoke(id: string, reason?: string, context?: ChangeContext): Promise<ApiKeyView> {
    const now = this.options.clock();
    const revokedReason = reason === undefined ? null : requireText(reason, 'reason');
    const record = await this.find(id);
    if (!record.revokedAt) {
      record.revokedAt = new Date(now);
      record.revokedReason = revokedReason;
      record.updatedAt = record.revokedAt;
      const revokedAt = record.revokedAt;
      await this.store(() =>
        this.repository.update({ id }, { revokedAt, revokedReason, updatedAt: revokedAt }),
      );
      await this.changed(id);
      this.events.emit({
        type: 'key.revoked',
        keyId: id,
        reason: revokedReason,
        at: record.revokedAt,
        ...changeContext(context),
      });
      await this.denylistKey(id);
    }
    this.forget(id);
    return this.toView(record, now);
  }

  /**
   * Replaces a key with a new one with the same settings. The old key keeps working for `grace` (default
   * `'24h'`, at most 30 days; `0` revokes it at once, with its tokens); a key already rotated keeps the
   * deadline it was given. A revoked key, a disabled key, or a key already rotated is refused with 409, and of
   * concurrent rotations of one key exactly one succeeds. The new key is returned once, like at creation.
   */
  async rotate(
    id: string,
    options: RotateApiKeyOptions = {},
    context?: ChangeContext,
  ): Promise<CreatedApiKey> {
    const now = this.options.clock();
    const graceMs = graceOf(options.grace);
    const record = await this.find(id);
    if (record.revokedAt) throw new KeyConflictError(`API key "${id}" is revoked and cannot be rotated.`);
    if (record.disabledAt)
      throw new KeyConflictError(`API key "${id}" is disabled: enable it before rotating.`);
    if (record.rotatedToId) {
      throw new KeyConflictError(
        `API key "${id}" was already rotated to "${record.rotatedToId}": rotate that key.`,
      );
    }
    const prefix = this.options.prefixes[record.environment];
    const key = generateKey(prefix);
    const successor: ApiKeyEntity = {
      ...record,
      id: `key_${randomBase62(22)}`,
      keyHash: this.hasher.hash(key),
      hint: keyHint(key, prefix),
      usageCount: 0,
      createdAt: new Date(now),
      updatedAt: new Date(now),
      lastUsedAt: null,
      quotaRefilledAt: record.quotaRefill ? new Date(now) : null,
      rotatedFromId: record.id,
      rotatedToId: null,
      graceEndsAt: null,
    };
    const graceEndsAt = new Date(now + graceMs);
    // The claim is one conditional UPDATE: of concurrent rotations, exactly one changes the row.
    const claim = await this.store(() =>
      this.repository
        .createQueryBuilder()
        .update()
        .set({
          rotatedToId: successor.id,
          graceEndsAt,
          updatedAt: new Date(now),
          ...(graceMs === 0 ? { revokedAt: new Date(now), revokedReason: 'rotated' } : {}),
        })
        .where('id = :id AND rotated_to_id IS NULL AND revoked_at IS NULL AND disabled_at IS NULL', { id })
        .execute(),
    );
    const claimed = (claim.affected ?? 0) === 1;
    if (claimed) {
      try {
        await this.store(() => this.repository.insert(successor as QueryDeepPartialEntity<ApiKeyEntity>));
      } catch (error) {
        // Nothing half-done: the old key gets its claim back (and is not left revoked).
        await this.store(() =>
          this.repository
            .createQueryBuilder()
            .update()
            .set({ rotatedToId: null, graceEndsAt: null, revokedAt: null, revokedReason: null })
            .where('id = :id AND rotated_to_id = :successor', { id, successor: successor.id })
            .execute(),
        ).catch(() => undefined);
        await this.changed(id);
        throw error;
      }
    }
    if (!claimed) throw new KeyConflictError(`API key "${id}" was rotated or revoked meanwhile.`);
    await this.changed(id);
    if (graceMs === 0) await this.denylistKey(id);
    this.events.emit({
      type: 'key.rotated',
      keyId: id,
      newKeyId: successor.id,
      graceEndsAt,
      at: new Date(now),
      ...changeContext(context),
    });
    return { ...this.toView(successor, now), key };
  }

  /** Stops a key, and the tokens minted from it, until `enable`. Disabling a disabled key changes nothing. */
  disable(id: string, context?: ChangeContext): Promise<ApiKeyView> {
    return this.setDisabled(id, true, context);
  }

  /** Lets a disabled key work again. Enabling an enabled key changes nothing. */
  enable(id: string, context?: ChangeContext): Promise<ApiKeyView> {
    return this.setDisabled(id, false, context);
  }

  private async setDisabled(id: string, disabled: boolean, context?: ChangeContext): Promise<ApiKeyView> {
    const now = this.options.clock();
    const record = await this.find(id);
    if (record.revokedAt)
      throw new KeyConflictError(`API key "${id}" is revoked and can no longer be changed.`);
    if ((record.disabledAt !== null) !== disabled) {
      record.disabledAt = disabled ? new Date(now) : null;
      record.updatedAt = new Date(now);
      await this.store(() =>
        this.repository.update({ id }, { disabledAt: record.disabledAt, updatedAt: record.updatedAt }),
      );
      await this.changed(id);
      this.events.emit({
        type: disabled ? 'key.disabled' : 'key.enabled',
        keyId: id,
        at: record.updatedAt,
        ...changeContext(context),
      });
    }
    return this.toView(record, now);
  }

  /**
   * Checks a key and says whether it may be used, with the precise reason when not. Throws only when the
   * key store cannot be reached (`AuthUnavailableError`).
   */
  async verify(key: string): Promise<VerifyResult> {
    try {
      const verified = await this.authenticate(key);
      return { valid: true, keyId: verified.id, principal: verified.principal };
    } catch (error) {
      if (error instanceof InvalidApiKeyError) {
        this.events.emit({
          type: 'auth.failed',
          reason: error.reason,
          keyId: error.keyId,
          at: new Date(this.options.clock()),
        });
        return { valid: false, reason: error.reason, ...(error.keyId ? { keyId: error.keyId } : {}) };
      }
      throw error;
    }
  }

  /**
   * The stored key behind a presented one, or `InvalidApiKeyError` with the reason. Malformed keys are
   * refused before hashing; cached keys are answered from memory; otherwise one indexed query.
   */
  authenticate(key: string, beforeRead?: () => void): VerifiedKey | Promise<VerifiedKey> {
    if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH) {
      throw new InvalidApiKeyError('malformed', this.options.challenge);
    }
    // The in-memory caches are keyed by a plain SHA-256 (a fraction of the HMAC's cost); the HMAC that the
    // store indexes is computed only on a miss.
    const cacheKey = hash('sha256', key, 'base64');
    const now = this.options.clock();
    const cached = this.verified?.get(cacheKey, now);
    if (cached) return this.admit(cached, now);
    const shape = inspectKey(key, this.options.prefixes);
    if ('problem' in shape) throw new InvalidApiKeyError(shape.problem, this.options.challenge);
    if (this.unknown?.get(cacheKey, now)) throw new InvalidApiKeyError('unknown', this.options.challenge);
    beforeRead?.();
    return this.load(key, cacheKey);
  }

  /**
   * The stored key with this id, whatever its state (the caller applies `refusal()`), or `undefined` when no
   * key has it. From the cache when the key was seen within the cache `ttl`, else one read by primary key.
   */
  keyById(id: string): VerifiedKey | undefined | Promise<VerifiedKey | undefined> {
    const cached = this.byId?.get(id);
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

  /** Counts one use of a key; written to the store in the next batch. */
  recordUse(keyId: string): void {
    this.usage.record(keyId, this.options.clock());
  }

  /** Writes pending usage counts now (they are otherwise written every `usageFlushInterval`). */
  flushUsage(): Promise<void> {
    return this.usage.flush();
  }

  /** One store read per key at a time: concurrent misses for the same key share it. */
  private async load(key: string, cacheKey: string): Promise<VerifiedKey> {
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
    return this.admit(verified);
  }

  private async read(key: string, cacheKey: string): Promise<VerifiedKey | undefined> {
    const keyHash = this.hasher.hash(key);
    const generation = this.generation;
    const record = await this.store(() => this.lookup.find(keyHash));
    // A change made while the read was in flight (revoke, update) must not be undone by caching its result.
    const current = generation === this.generation;
    if (!record || !ApiKeyHasher.same(record.keyHash, keyHash)) {
      if (current) this.unknown?.set(cacheKey, true);
      return undefined;
    }
    const verified = new VerifiedKey(record);
    if (current) {
      this.verified?.set(cacheKey, verified);
      this.byId?.set(verified.id, verified);
    }
    return verified;
  }

  private async readById(id: string): Promise<VerifiedKey | undefined> {
    const generation = this.generation;
    const record = await this.store(() => this.repository.findOneBy({ id }));
    if (!record) return undefined;
    const verified = new VerifiedKey(record);
    if (generation === this.generation) this.byId?.set(id, verified);
    return verified;
  }

  /**
   * The key table is the authority: every process refuses a revoked key and its tokens within the cache
   * `ttl`. The denylist entry only makes other processes do so sooner, so its failure does not undo anything.
   */
  private async denylistKey(id: string): Promise<void> {
    await this.denylist.revokeKey(id).catch((error: unknown) => {
      this.logger.warn(
        `Key ${id} is revoked, but the denylist could not be told (${causeOf(error)}): other instances refuse it within the cache ttl instead.`,
      );
    });
  }

  /** A key-store operation that fails closed (503) when the store is down or slow. */
  private store<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.options.storeTimeoutMs, operation);
  }

  private admit(verified: VerifiedKey, now: number = this.options.clock()): VerifiedKey {
    const refusal =
      verified.refusal(now) ?? (this.denylist.isKeyRevoked(verified.id, now) ? 'revoked' : undefined);
    if (refusal) throw new InvalidApiKeyError(refusal, this.options.challenge, verified.id);
    return verified;
  }

  /**
   * Drops a changed key from the cache, and invalidates reads that started before the change: their result is
   * not cached, and requests from now on do not share them. (Reads in flight are keyed by the presented key's
   * hash, not its id, so all of them are let go; a change is rare.)
   */
  private forget(keyId: string): void {
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

  /**
   * A key changed in the store: drop it here, and with Redis tell the other instances to. The store is the
   * authority, so a failed publication only leaves them to notice within the cache `ttl`.
   */
  private async changed(keyId: string): Promise<void> {
    this.forget(keyId);
    await this.changes?.publish(keyId).catch((error: unknown) => {
      this.logger.warn(
        `Key ${keyId} changed, but other instances could not be told (${causeOf(error)}): they see the change within the cache ttl instead.`,
      );
    });
  }

  private async find(id: string): Promise<ApiKeyEntity> {
    // Input that is not an id is never echoed: an admin may have pasted a key by mistake.
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) throw new KeyNotFoundError();
    const record = await this.store(() => this.repository.findOneBy({ id }));
    if (!record) throw new KeyNotFoundError(id);
    return record;
  }

  private toView(record: ApiKeyEntity, now: number): ApiKeyView {
    const { keyHash: _hash, quotaRefilledAt: _refilled, ...view } = record;
    return { ...view, status: statusOf(record, now) };
  }
}

const MAX_GRACE_MS = 30 * 86_400_000;

/** What went wrong underneath: an unavailable store's own error, not the 503's generic message. */
function causeOf(error: unknown): string {
  const cause = error instanceof AuthUnavailableError ? error.cause : error;
  return (cause as Error)?.message ?? String(cause);
}

/** The grace period of a rotation in ms: default 24 h, from 0 to 30 days. */
function graceOf(grace: Duration | undefined): number {
  if (grace === undefined) return 86_400_000;
  // A bare `0` (as typed on a command line) needs no unit.
  const ms = typeof grace === 'string' && /^\s*0\s*$/.test(grace) ? 0 : parseDuration(grace);
  if (ms === undefined || ms < 0 || ms > MAX_GRACE_MS) {
    throw new InvalidArgumentError(
      'grace must be a duration from 0 to 30 days, such as "24h" (0 revokes at once).',
    );
  }
  return ms;
}

function statusOf(record: ApiKeyEntity, now: number): ApiKeyStatus {
  if (record.revokedAt) return 'revoked';
  if (record.disabledAt) return 'disabled';
  const deadline = deadlineOf(record);
  if (deadline !== null && deadline <= now) return 'expired';
  return 'active';
}
