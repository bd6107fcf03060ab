import type { ApiKeyEntity } from './api-key.entity.js';
import type { ApiKeyStatus, ApiKeyView } from './api-key.types.js';
import { deadlineOf } from './verified-key.js';
import { limitsView } from './key-rate-limits.js';

/** A stored key as callers see it: everything but its hash and refill bookkeeping, with its status at `now`. */
export function viewOf(record: ApiKeyEntity, now: number): ApiKeyView {
  const { keyHash: _hash, quotaRefilledAt: _refilled, ...view } = record;
  return { ...view, ...limitsView(record.rateLimit), status: statusOf(record, now) };
}

function statusOf(record: ApiKeyEntity, now: number): ApiKeyStatus {
  if (record.revokedAt) return 'revoked';
  if (record.disabledAt) return 'disabled';
  const deadline = deadlineOf(record);
  if (deadline !== null && deadline <= now) return 'expired';
  return 'active';
}
