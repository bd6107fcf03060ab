import type { Duration } from '../common/duration.util.js';
import type { KeyQuotaRefill, KeyRateLimit } from './api-key.entity.js';

/**
 * The limits shared by every key of one owner (`subject`) and the tokens minted from them. Each field left
 * out is kept; `null` removes it.
 */
export interface SubjectLimitsInput {
  /** Requests per window, counted across all of the owner's keys. */
  rateLimit?: { limit: number; window: Duration } | null;
  /** Units left in the owner's quota (a top-up; with `quotaRefill` it defaults to the refill amount). */
  remaining?: number | null;
  /** A quota refilled to `amount` every `interval`, starting full. */
  quotaRefill?: { amount: number; interval: Duration } | null;
}

/** An owner's limits as the service returns them; every field `null` when none are set. */
export interface SubjectLimitsView {
  subject: string;
  rateLimit: KeyRateLimit | null;
  /** Units left in the owner's quota as counted now, or `null` for no quota. */
  remaining: number | null;
  quotaRefill: KeyQuotaRefill | null;
  updatedAt: Date | null;
}
