import { Cluster, Redis } from 'ioredis';
import { MAX_TIMER_MS, parseDuration, type Duration } from '../common/duration.util.js';
import type { ResolvedLimit } from '../interfaces/resolved-options.interface.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/**
 * Milliseconds of an optional duration option within `[minMs, maxMs]`; records a problem and returns
 * `undefined` when it is set but out of range (timers cannot wait longer than about 24.8 days).
 */
export function durationOption(
  problems: string[],
  name: string,
  value: Duration | undefined,
  minMs: number,
  maxMs: number,
  example: string,
): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < minMs || ms > Math.min(maxMs, MAX_TIMER_MS)) {
    problems.push(
      `${name} must be a duration from ${minMs} ms to ${Math.min(maxMs, MAX_TIMER_MS) / 1000} s, such as ${example}.`,
    );
    return undefined;
  }
  return ms;
}

/** `{ limit, window }` as a resolved limit, or a recorded problem. */
export function limitOption(
  problems: string[],
  name: string,
  value: { limit: number; window: Duration } | undefined,
): ResolvedLimit | undefined {
  if (value === undefined) return undefined;
  const { limit, window } = value ?? {};
  const limitOk = Number.isInteger(limit) && limit >= 1;
  if (!limitOk) problems.push(`${name}.limit must be a positive integer.`);
  const windowMs = durationOption(
    problems,
    `${name}.window`,
    window ?? 'missing',
    1000,
    366 * DAY_MS,
    '"1m"',
  );
  return windowMs !== undefined && limitOk
    ? { limit, windowSeconds: Math.round(windowMs / 1000) }
    : undefined;
}

export function isUrl(value: unknown, requireHttps: boolean): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    if (url.search || url.hash || url.username || url.password) return false;
    return url.protocol === 'https:' || (!requireHttps && url.protocol === 'http:');
  } catch {
    return false;
  }
}

/**
 * A `redis://` URL, ioredis options (a plain object, Sentinel's included), cluster seed nodes
 * (`{ clusterNodes: [...] }`) or an ioredis `Redis` or `Cluster` client of this package's ioredis. Anything
 * else (a client of another copy of ioredis) would be read as options and quietly connect to localhost.
 */
export function isRedisConnection(value: unknown): boolean {
  if (typeof value === 'string') return /^rediss?:\/\/./.test(value);
  if (value instanceof Redis || value instanceof Cluster) return true;
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return false;
  if (!('clusterNodes' in value)) return true;
  const { clusterNodes } = value as { clusterNodes: unknown };
  return Array.isArray(clusterNodes) && clusterNodes.length > 0;
}

/** Whether a valid connection option names a Redis Cluster. */
export function isClusterConnection(value: unknown): boolean {
  return value instanceof Cluster || (typeof value === 'object' && value !== null && 'clusterNodes' in value);
}

export const REDIS_CONNECTION_HELP =
  "a redis:// URL, ioredis options (with sentinels and name for Sentinel), { clusterNodes: [...] }, or an ioredis Redis or Cluster client made with this app's ioredis";
