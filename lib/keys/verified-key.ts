import { keyEntryOf } from '../denylist/denylist-entry.ids.js';
import type { ApiKeyPrincipal, Principal } from '../interfaces/principal.interface.js';
import { GrantedScopes } from '../scopes/scope.matcher.js';
import { IpAllowList } from './ip-allowlist.matcher.js';
import { ReferrerMatcher } from './referrer.matcher.js';
import type { NamedLimit } from '../interfaces/rate-limit.interface.js';
import type { ApiKeyEntity, ClientPublicJwk, KeyQuotaRefill } from './api-key.entity.js';
import { namedLimitsOf } from './key-rate-limits.js';

/**
 * What the hot path needs to know about a stored key, prepared once per cache fill: the principal handed to
 * controllers (frozen and shared), pre-built scope, IP and referrer matchers, and the deadlines as numbers.
 */
export class VerifiedKey {
  private static readonly byPrincipal = new WeakMap<Principal, VerifiedKey>();

  /** The verified key a principal was made from, for guards that only receive the principal (Passport). */
  static of(principal: Principal): VerifiedKey | undefined {
    return VerifiedKey.byPrincipal.get(principal);
  }

  readonly id: string;
  /** The key's denylist entry, checked on every request. */
  readonly denylistEntry: string;
  readonly principal: ApiKeyPrincipal;
  readonly scopes: GrantedScopes;
  readonly ipAllowList: IpAllowList | null;
  readonly referrers: ReferrerMatcher | null;
  /** The key's own limits, named (`default` for a single one); `null` when the module default applies. */
  readonly rateLimits: readonly NamedLimit[] | null;
  readonly hasQuota: boolean;
  readonly quotaRefill: KeyQuotaRefill | null;
  /** When the quota was last refilled as far as this process knows; moves forward as it refills. */
  quotaRefilledAtMs: number;
  /**
   * The stored `quota_refilled_at` (0 when none): moves on each refill and top-up, so counters kept outside
   * the database (Redis, leases) know their units belong to an older quota and start again from the row.
   */
  quotaEpochMs: number;
  /** When the key stops working by itself (expiry or end of rotation grace), in ms; `null` for never. */
  readonly deadlineMs: number | null;
  /** The client's registered key for `private_key_jwt`, or `null`. */
  readonly publicKey: ClientPublicJwk | null;
  /** The key alone is refused; checked on every key-header request, so kept as a plain boolean. */
  readonly requireProof: boolean;
  private readonly revoked: boolean;
  private readonly disabled: boolean;

  /**
   * `clockOffsetMs` is how far the store's clock ran ahead of the library's clock when the record was read:
   * deadlines are judged by the store's time, so that instances with skewed clocks agree on them.
   */
  constructor(record: ApiKeyEntity, clockOffsetMs = 0) {
    this.id = record.id;
    this.denylistEntry = keyEntryOf(record.id);
    this.principal = Object.freeze({
      type: 'api_key' as const,
      keyId: record.id,
      subject: record.subject,
      name: record.name,
      environment: record.environment,
      scopes: Object.freeze([...record.scopes]),
      metadata: record.metadata ? Object.freeze({ ...record.metadata }) : null,
    });
    VerifiedKey.byPrincipal.set(this.principal, this);
    this.scopes = new GrantedScopes(record.scopes);
    this.ipAllowList = record.allowedIps?.length ? new IpAllowList(record.allowedIps) : null;
    this.referrers = record.allowedReferrers?.length ? new ReferrerMatcher(record.allowedReferrers) : null;
    this.rateLimits = namedLimitsOf(record.rateLimit);
    this.hasQuota = record.remaining !== null;
    this.quotaRefill = record.quotaRefill;
    this.quotaRefilledAtMs = record.quotaRefilledAt?.getTime() ?? record.createdAt.getTime();
    this.quotaEpochMs = record.quotaRefilledAt?.getTime() ?? 0;
    const deadline = deadlineOf(record);
    this.deadlineMs = deadline === null ? null : deadline - clockOffsetMs;
    this.revoked = record.revokedAt !== null;
    this.disabled = record.disabledAt !== null;
    this.publicKey = record.publicKey ? Object.freeze({ ...record.publicKey }) : null;
    this.requireProof = record.requireProof === true;
  }

  /** Why the key cannot be used at `now`, or `undefined` when it can. */
  refusal(now: number): 'revoked' | 'disabled' | 'expired' | undefined {
    // A revocation or disablement applies from the moment it is recorded, whatever clock wrote it.
    if (this.revoked) return 'revoked';
    if (this.disabled) return 'disabled';
    if (this.deadlineMs !== null && this.deadlineMs <= now) return 'expired';
    return undefined;
  }
}

/**
 * When a key stops working by itself: its expiry or the end of its rotation grace, whichever is first. A
 * deadline that is no date (a column value out of range or not a number, written behind the library's back)
 * has passed at any time: the key fails closed rather than living forever (`NaN <= now` is false).
 */
export function deadlineOf(record: Pick<ApiKeyEntity, 'expiresAt' | 'graceEndsAt'>): number | null {
  let min: number | null = null;
  for (const date of [record.expiresAt, record.graceEndsAt]) {
    if (!date) continue;
    const time = Number.isFinite(date.getTime()) ? date.getTime() : Number.NEGATIVE_INFINITY;
    if (min === null || time < min) min = time;
  }
  return min;
}
