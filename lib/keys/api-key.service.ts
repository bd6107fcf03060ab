import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { KEY_QUOTAS, RESOLVED_OPTIONS } from '../api-key.internal-constants.js';
import { causeOf } from '../common/error-cause.util.js';
import { TokenDenylist } from '../denylist/token.denylist.js';
import {
  InvalidApiKeyError,
  InvalidArgumentError,
  KeyConflictError,
  KeyNotFoundError,
} from '../errors/index.js';
import { changeContext } from '../events/change-context.util.js';
import { KeybridgeEventEmitter } from '../events/event.emitter.js';
import type { ChangeContext } from '../interfaces/keybridge-event.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { newKeyRecord, successorRecord } from './api-key.records.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { ApiKeyRepository } from './api-key.repository.js';
import type {
  ApiKeyView,
  CreateApiKeyInput,
  CreatedApiKey,
  ListApiKeysQuery,
  RotateApiKeyOptions,
  UpdateApiKeyInput,
  VerifyResult,
} from './api-key.types.js';
import { graceOf, requireText, validateScopes, validateSettings } from './api-key.validation.js';
import { checkProofSettings } from './public-key.validation.js';
import { ApiKeyVerifier } from './api-key.verifier.js';
import type { QuotaLedger } from './quota.ledger.js';
import { UsageRecorder } from './usage.recorder.js';
import { viewOf } from './api-key.view.js';
import type { VerifiedKey } from './verified-key.js';

const KEY_ID_PATTERN = /^key_[0-9A-Za-z]{1,36}$/;

/**
 * Creates, reads, changes, revokes and verifies API keys. Inject it anywhere once the module is imported.
 *
 * @publicApi
 */
@Injectable()
export class ApiKeyService implements OnModuleInit {
  private readonly logger = new Logger('Keybridge');

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly verifier: ApiKeyVerifier,
    private readonly hasher: ApiKeyHasher,
    private readonly denylist: TokenDenylist,
    private readonly usage: UsageRecorder,
    @Inject(KEY_QUOTAS) private readonly quotas: QuotaLedger,
    private readonly events: KeybridgeEventEmitter,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {}

  /** The key table is the authority for revoked keys: the denylist reads them back whenever it may have lost some. */
  onModuleInit(): Promise<void> {
    return this.denylist.useKeyAuthority(() => this.repository.revokedSince(this.denylist.horizonStart()));
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
    checkProofSettings(settings.publicKey ?? null, settings.requireProof ?? false);
    const environment = input.environment ?? this.options.defaultEnvironment;
    if (environment !== 'live' && environment !== 'test') {
      throw new InvalidArgumentError('environment must be "live" or "test".');
    }
    const subject = input.subject === undefined ? undefined : requireText(input.subject, 'subject');
    const { record, key } = newKeyRecord(this.hasher, this.options.prefixes[environment], {
      environment,
      subject,
      settings,
      createdAt: new Date(now),
    });
    await this.repository.insert(record);
    this.events.emit({
      type: 'key.created',
      keyId: record.id,
      subject: record.subject,
      scopes: record.scopes,
      at: record.createdAt,
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
    const subject = query.subject === undefined ? undefined : requireText(query.subject, 'subject');
    const records = await this.repository.list({ ...query, subject, limit, offset });
    const now = this.options.clock();
    return records.map((r) => this.toView(r, now));
  }

  /** The key, its `remaining` as counted now (the stored row lags behind the counters). */
  async get(id: string): Promise<ApiKeyView> {
    const record = await this.find(id);
    const remaining = await this.quotas.remaining(record.id, record);
    return this.toView({ ...record, remaining }, this.options.clock());
  }

  async update(id: string, patch: UpdateApiKeyInput, context?: ChangeContext): Promise<ApiKeyView> {
    const now = this.options.clock();
    const changes = validateSettings(patch, now);
    const record = await this.find(id);
    if (record.revokedAt)
      throw new KeyConflictError(`API key "${id}" is revoked and can no longer be changed.`);
    const changed = Object.keys(changes);
    if (changed.length === 0) return this.toView(record, now);
    checkProofSettings(
      changes.publicKey !== undefined ? changes.publicKey : record.publicKey,
      changes.requireProof ?? record.requireProof,
    );
    // A new quota epoch: counters outside the row (Redis, leases) start again from the new value.
    if (changes.remaining !== undefined || (changes.quotaRefill && !record.quotaRefill))
      Object.assign(changes, { quotaRefilledAt: new Date(now) });
    Object.assign(record, changes, { updatedAt: new Date(now) });
    await this.repository.update(id, { ...changes, updatedAt: record.updatedAt } as Partial<ApiKeyEntity>);
    await this.verifier.changed(id);
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
      await this.repository.update(id, { revokedAt, revokedReason, updatedAt: revokedAt });
      await this.verifier.changed(id);
      this.events.emit({
        type: 'key.revoked',
        keyId: id,
        reason: revokedReason,
        at: record.revokedAt,
        ...changeContext(context),
      });
      await this.denylistKey(id);
    }
    this.verifier.forget(id);
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
    const { record: successor, key } = successorRecord(
      this.hasher,
      this.options.prefixes[record.environment],
      record,
      new Date(now),
    );
    const graceEndsAt = new Date(now + graceMs);
    const claimed = await this.repository.claimRotation(id, {
      rotatedToId: successor.id,
      graceEndsAt,
      updatedAt: new Date(now),
      ...(graceMs === 0 ? { revokedAt: new Date(now), revokedReason: 'rotated' } : {}),
    });
    if (claimed) {
      try {
        await this.repository.insert(successor);
      } catch (error) {
        // Nothing half-done: the old key gets its claim back (and is not left revoked).
        await this.repository.releaseRotation(id, successor.id).catch(() => undefined);
        await this.verifier.changed(id);
        throw error;
      }
    }
    if (!claimed) throw new KeyConflictError(`API key "${id}" was rotated or revoked meanwhile.`);
    await this.verifier.changed(id);
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
      await this.repository.update(id, { disabledAt: record.disabledAt, updatedAt: record.updatedAt });
      await this.verifier.changed(id);
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
      const verified = await this.verifier.authenticate(key);
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
   * The stored key behind a presented one, or `InvalidApiKeyError` with the reason. Synchronous when the key
   * is in the verified-key cache.
   *
   * @internal the guards' hot path; use `verify()`.
   */
  authenticate(key: string, beforeRead?: () => void): VerifiedKey | Promise<VerifiedKey> {
    return this.verifier.authenticate(key, beforeRead);
  }

  /**
   * The stored key with this id, whatever its state, or `undefined`.
   *
   * @internal the bearer path's per-key checks.
   */
  keyById(id: string): VerifiedKey | undefined | Promise<VerifiedKey | undefined> {
    return this.verifier.keyById(id);
  }

  /** Counts one use of a key; written to the store in the next batch. */
  recordUse(keyId: string): void {
    this.verifier.recordUse(keyId);
  }

  /** Writes pending usage counts now (they are otherwise written every `usageFlushInterval`). */
  flushUsage(): Promise<void> {
    return this.usage.flush();
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

  private async find(id: string): Promise<ApiKeyEntity> {
    // Input that is not an id is never echoed: an admin may have pasted a key by mistake.
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) throw new KeyNotFoundError();
    const record = await this.repository.findById(id);
    if (!record) throw new KeyNotFoundError(id);
    return record;
  }

  private toView(record: ApiKeyEntity, now: number): ApiKeyView {
    return viewOf(record, now);
  }
}
