import { isValidScope, MAX_SCOPES_PER_KEY } from '../scopes/scope.matcher.js';
import { parseDuration, type Duration } from '../common/duration.util.js';
import { InvalidArgumentError } from '../errors/index.js';
import { isValidCidr } from './ip-allowlist.matcher.js';
import { isValidReferrerPattern } from './referrer.matcher.js';
import { validatePublicKey } from './public-key.validation.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { validateRateLimit, validateRateLimits } from './key-rate-limits.js';
import type { ApiKeySettings } from './api-key.types.js';

const MAX_TEXT = 200;
const MAX_METADATA_BYTES = 8192;
const MAX_LIST_ENTRIES = 100;
const MAX_EXPIRY_MS = 100 * 365.25 * 86_400_000;
/** Counters live in 32-bit integer columns. */
const MAX_COUNT = 2_147_483_647;
const MAX_REFILL_INTERVAL_MS = 366 * 86_400_000;

export type SettingColumns = Pick<
  ApiKeyEntity,
  | 'name'
  | 'scopes'
  | 'metadata'
  | 'expiresAt'
  | 'allowedIps'
  | 'allowedReferrers'
  | 'rateLimit'
  | 'remaining'
  | 'quotaRefill'
  | 'publicKey'
  | 'requireProof'
>;

/**
 * Checks the settings of a key and turns them into column values. Only fields present in `input` are
 * returned, so the same function serves creation and partial updates. Throws `InvalidArgumentError` (400).
 */
export function validateSettings(input: ApiKeySettings, now: number): Partial<SettingColumns> {
  if (input === null || typeof input !== 'object')
    throw new InvalidArgumentError('Expected an object of key settings.');
  const out: Partial<SettingColumns> = {};
  if (input.name !== undefined) out.name = requireText(input.name, 'name');
  if (input.scopes !== undefined) out.scopes = validateScopes(input.scopes);
  if (input.metadata !== undefined) out.metadata = validateMetadata(input.metadata);
  if (input.expiresAt !== undefined) out.expiresAt = validateExpiry(input.expiresAt, now);
  if (input.expiresIn !== undefined) {
    if (input.expiresAt !== undefined && input.expiresAt !== null) {
      throw new InvalidArgumentError('Give expiresAt or expiresIn, not both.');
    }
    out.expiresAt = expiryFromDuration(input.expiresIn, now);
  }
  if (input.allowedIps !== undefined) {
    out.allowedIps = validateList(input.allowedIps, 'allowedIps', isValidCidr, 'an IP address or CIDR block');
  }
  if (input.allowedReferrers !== undefined) {
    out.allowedReferrers = validateList(
      input.allowedReferrers,
      'allowedReferrers',
      isValidReferrerPattern,
      'a host name, *.domain or origin',
    );
  }
  if (input.rateLimit !== undefined && input.rateLimits !== undefined) {
    throw new InvalidArgumentError('Give rateLimit or rateLimits, not both.');
  }
  if (input.rateLimit !== undefined) out.rateLimit = validateRateLimit(input.rateLimit);
  if (input.rateLimits !== undefined) out.rateLimit = validateRateLimits(input.rateLimits);
  if (input.remaining !== undefined) {
    if (input.remaining !== null && !(input.remaining === 0 || isCount(input.remaining))) {
      throw new InvalidArgumentError(
        `remaining must be a whole number of requests from 0 to ${MAX_COUNT}, or null.`,
      );
    }
    out.remaining = input.remaining;
  }
  if (input.quotaRefill !== undefined) out.quotaRefill = validateRefill(input.quotaRefill);
  if (input.publicKey !== undefined) out.publicKey = validatePublicKey(input.publicKey);
  if (input.requireProof !== undefined) {
    if (typeof input.requireProof !== 'boolean')
      throw new InvalidArgumentError('requireProof must be a boolean.');
    out.requireProof = input.requireProof;
  }
  return out;
}

export function requireText(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.trim() === '' ||
    value.length > MAX_TEXT ||
    hasControlCharacter(value)
  ) {
    throw new InvalidArgumentError(
      `${field} must be a non-empty string of at most ${MAX_TEXT} printable characters.`,
    );
  }
  return value.trim();
}

export function validateScopes(scopes: unknown): string[] {
  if (!Array.isArray(scopes)) throw new InvalidArgumentError('scopes must be an array of scope strings.');
  if (scopes.length > MAX_SCOPES_PER_KEY) {
    throw new InvalidArgumentError(`A key can hold at most ${MAX_SCOPES_PER_KEY} scopes.`);
  }
  const invalid = scopes.filter((s) => !isValidScope(s));
  if (invalid.length > 0) {
    throw new InvalidArgumentError(
      `Invalid scope ${JSON.stringify(String(invalid[0]).slice(0, 64))}: use ":"-separated words of letters, digits and _ . - /, optionally ending in ":*" (like "orders:read" or "orders:*").`,
    );
  }
  return [...new Set(scopes as string[])];
}

function validateMetadata(metadata: unknown): Record<string, unknown> | null {
  if (metadata === null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new InvalidArgumentError('metadata must be a JSON object or null.');
  }
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch {
    // Cycles, BigInts, or nesting deep enough to exhaust the stack.
    throw new InvalidArgumentError('metadata must be plain JSON.');
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw new InvalidArgumentError(`metadata must serialize to at most ${MAX_METADATA_BYTES} bytes of JSON.`);
  }
  return JSON.parse(json) as Record<string, unknown>;
}

function validateExpiry(value: unknown, now: number): Date | null {
  if (value === null) return null;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expiresAt must be a date (ISO 8601 string) or null.');
  }
  if (date.getTime() <= now) throw new InvalidArgumentError('expiresAt must be in the future.');
  if (date.getTime() > now + MAX_EXPIRY_MS)
    throw new InvalidArgumentError('expiresAt must be within 100 years.');
  return date;
}

/** `expiresIn` as an absolute date. */
export function expiryFromDuration(value: unknown, now: number): Date {
  const ms = parseDuration(value as string);
  if (ms === undefined || ms <= 0 || ms > MAX_EXPIRY_MS) {
    throw new InvalidArgumentError(
      'expiresIn must be a positive duration of at most 100 years, such as "30d" or "12h".',
    );
  }
  return new Date(now + ms);
}

function validateList(
  value: unknown,
  field: string,
  isValid: (entry: unknown) => boolean,
  what: string,
): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${field} must be an array or null.`);
  if (value.length > MAX_LIST_ENTRIES)
    throw new InvalidArgumentError(`${field} holds at most ${MAX_LIST_ENTRIES} entries.`);
  const bad = value.find((entry) => !isValid(entry));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `${field} entry ${JSON.stringify(String(bad).slice(0, 64))} is not ${what}.`,
    );
  }
  return value.length > 0 ? [...new Set(value as string[])] : null;
}

function validateRefill(value: unknown): { amount: number; intervalSeconds: number } | null {
  if (value === null) return null;
  const { amount, interval } = (value ?? {}) as { amount?: unknown; interval?: unknown };
  const intervalMs = parseDuration(interval as string);
  if (
    !isCount(amount) ||
    intervalMs === undefined ||
    intervalMs < 1000 ||
    intervalMs > MAX_REFILL_INTERVAL_MS
  ) {
    throw new InvalidArgumentError(
      `quotaRefill must be { amount: whole number from 1 to ${MAX_COUNT}, interval: duration from "1s" to "366d" } or null.`,
    );
  }
  return { amount, intervalSeconds: Math.round(intervalMs / 1000) };
}

/** A positive count that fits the 32-bit integer columns of every dialect. */
function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_COUNT;
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    // C0, DEL and C1 controls: C1 U+009B alone starts a terminal escape sequence.
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

const MAX_GRACE_MS = 30 * 86_400_000;

/** The grace period of a rotation in ms: default 24 h, from 0 to 30 days. */
export function graceOf(grace: Duration | undefined): number {
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
