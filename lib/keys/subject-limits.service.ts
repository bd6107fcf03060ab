import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { OWNER_QUOTAS, RESOLVED_OPTIONS, SUBJECT_LIMITS_REPOSITORY } from '../api-key.internal-constants.js';
import { storeCall } from '../common/store-call.util.js';
import { TtlCache } from '../common/ttl.cache.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { ApiKeyVerifier } from './api-key.verifier.js';
import { requireText, validateSettings } from './api-key.validation.js';
import { OwnerLimits } from './owner-limits.js';
import { validateRateLimit } from './key-rate-limits.js';
import type { QuotaLedger } from './quota.ledger.js';
import { SubjectLimitsEntity } from './subject-limits.entity.js';
import type { SubjectLimitsInput, SubjectLimitsView } from './subject-limits.types.js';

/** The id an owner's change is published under on the key-change feed (never a key id). */
const changeIdOf = (subject: string) => `owner:${encodeURIComponent(subject)}`;

/** Owners' limits kept this long without a cache (`cache: false`): a read per request would be the price. */
const UNCACHED_TTL_MS = 1000;

/**
 * Rate limits and quotas per owner (a key's `subject`), shared by all of the owner's keys and the tokens
 * minted from them: set and read by admins, looked up on the hot path from a cache kept like the
 * verified-key cache (dropped here on a change, on other instances through the key-change feed with Redis,
 * else within the cache `ttl`).
 *
 * @publicApi
 */
@Injectable()
export class SubjectLimitsService implements OnModuleInit {
  private readonly cache: TtlCache<OwnerLimits | null>;
  private readonly maxKnown: number;
  private readonly loading = new Map<string, Promise<OwnerLimits | null>>();
  /**
   * The last limits read of each owner, used when a read fails (the database is out): a key served from the
   * verified-key cache keeps its owner's last known limits rather than failing for want of them.
   */
  private readonly lastKnown = new Map<string, OwnerLimits | null>();

  constructor(
    @Inject(SUBJECT_LIMITS_REPOSITORY) private readonly table: Repository<SubjectLimitsEntity>,
    @Inject(OWNER_QUOTAS) private readonly quotas: QuotaLedger,
    private readonly verifier: ApiKeyVerifier,
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedApiKeyOptions,
  ) {
    const { cache } = options;
    this.maxKnown = cache ? cache.max : 10_000;
    this.cache = new TtlCache(this.maxKnown, cache ? cache.ttlMs : UNCACHED_TTL_MS, options.clock);
  }

  onModuleInit(): void {
    this.verifier.follow({
      changed: (id) => {
        if (id.startsWith('owner:')) this.forget(decodeURIComponent(id.slice('owner:'.length)));
      },
      reset: () => this.cache.clear(),
    });
  }

  /**
   * Sets an owner's rate limit and quota (fields left out are kept, `null` removes one). A new quota or a
   * top-up starts the owner's counters again from the stored value. Throws `InvalidArgumentError` (400).
   */
  async setSubjectLimits(subject: string, input: SubjectLimitsInput): Promise<SubjectLimitsView> {
    const owner = requireText(subject, 'subject');
    const now = this.options.clock();
    const { rateLimit, remaining, quotaRefill } = input ?? {};
    const changes = validateSettings({ remaining, quotaRefill }, now);
    const ownRate = rateLimit === undefined ? undefined : validateRateLimit(rateLimit);
    const record =
      (await this.deadline(() => this.table.findOneBy({ subject: owner }))) ??
      this.table.create({
        subject: owner,
        rateLimit: null,
        remaining: null,
        quotaRefill: null,
        quotaRefilledAt: null,
      });
    if (ownRate !== undefined) record.rateLimit = ownRate;
    if (changes.quotaRefill !== undefined) record.quotaRefill = changes.quotaRefill;
    if (changes.remaining !== undefined) record.remaining = changes.remaining;
    else if (changes.quotaRefill) record.remaining = changes.quotaRefill.amount;
    else if (changes.quotaRefill === null) record.remaining = null;
    if (changes.remaining !== undefined || changes.quotaRefill !== undefined)
      record.quotaRefilledAt = new Date(now); // a new quota epoch
    record.updatedAt = new Date(now);
    await this.deadline(() => this.table.save(record));
    this.forget(owner);
    await this.verifier.changed(changeIdOf(owner));
    return this.viewOf(owner, record);
  }

  /** An owner's limits, with its quota as counted now; every field `null` when none are set. */
  async getSubjectLimits(subject: string): Promise<SubjectLimitsView> {
    const owner = requireText(subject, 'subject');
    return this.viewOf(owner, await this.deadline(() => this.table.findOneBy({ subject: owner })));
  }

  /** The hot path's view of an owner's limits, or `null` when it has none: from the cache, else one read. */
  limitsOf(subject: string): OwnerLimits | null | Promise<OwnerLimits | null> {
    const cached = this.cache.get(subject);
    if (cached !== undefined) return cached;
    let pending = this.loading.get(subject);
    if (!pending) {
      pending = this.load(subject).finally(() => this.loading.delete(subject));
      this.loading.set(subject, pending);
    }
    return pending;
  }

  private async load(subject: string): Promise<OwnerLimits | null> {
    let record: SubjectLimitsEntity | null;
    try {
      record = await this.deadline(() => this.table.findOneBy({ subject }));
    } catch (error) {
      const known = this.lastKnown.get(subject);
      if (known === undefined) throw error;
      return known;
    }
    const limits = record && (record.rateLimit || record.remaining !== null) ? new OwnerLimits(record) : null;
    if (this.loading.has(subject)) {
      this.cache.set(subject, limits);
      this.lastKnown.delete(subject);
      if (this.lastKnown.size >= this.maxKnown) this.lastKnown.delete(this.lastKnown.keys().next().value!);
      this.lastKnown.set(subject, limits);
    }
    return limits;
  }

  private forget(subject: string): void {
    this.cache.delete(subject);
    this.lastKnown.delete(subject);
    this.loading.delete(subject);
  }

  private async viewOf(subject: string, record: SubjectLimitsEntity | null): Promise<SubjectLimitsView> {
    if (!record) return { subject, rateLimit: null, remaining: null, quotaRefill: null, updatedAt: null };
    return {
      subject,
      rateLimit: record.rateLimit,
      remaining: await this.quotas.remaining(subject, record),
      quotaRefill: record.quotaRefill,
      updatedAt: record.updatedAt,
    };
  }

  private deadline<T>(operation: () => Promise<T>): Promise<T> {
    return storeCall(this.options.storeTimeoutMs, operation);
  }
}
