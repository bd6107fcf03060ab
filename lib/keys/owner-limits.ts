import type { KeyQuotaRefill } from './api-key.entity.js';
import type { QuotaHolder } from './quota.rows.js';
import type { SubjectLimitsEntity } from './subject-limits.entity.js';
import type { NamedLimit } from '../interfaces/rate-limit.interface.js';
import { namedLimitsOf } from './key-rate-limits.js';

/** What the hot path needs of an owner's limits, prepared once per cache fill (the owner's `QuotaHolder`). */
export class OwnerLimits implements QuotaHolder {
  /** The subject: the id of the row and of the owner's counters. */
  readonly id: string;
  /** The rate limit as the limiter counts it (`default`), or `null`. */
  readonly rateLimits: readonly NamedLimit[] | null;
  readonly hasQuota: boolean;
  readonly quotaRefill: KeyQuotaRefill | null;
  quotaRefilledAtMs: number;
  quotaEpochMs: number;

  constructor(record: SubjectLimitsEntity) {
    this.id = record.subject;
    this.rateLimits = namedLimitsOf(record.rateLimit);
    this.hasQuota = record.remaining !== null;
    this.quotaRefill = record.quotaRefill;
    this.quotaRefilledAtMs = record.quotaRefilledAt?.getTime() ?? record.updatedAt.getTime();
    this.quotaEpochMs = record.quotaRefilledAt?.getTime() ?? 0;
  }
}
