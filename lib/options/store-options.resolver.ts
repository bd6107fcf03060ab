import { DEFAULT_OAUTH_ROUTES } from '../api-key.constants.js';
import type {
  ApiKeyModuleExtras,
  ApiKeyModuleOptions,
  OAuthRoutes,
} from '../interfaces/api-key-options.interface.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';
import type { KeybridgeRedisOptions } from '../interfaces/redis-options.interface.js';
import type { ResolvedApiKeyOptions } from '../interfaces/resolved-options.interface.js';
import { DEFAULT_REDIS_PREFIX } from '../redis/redis.options.js';
import {
  durationOption,
  isClusterConnection,
  isRedisConnection,
  REDIS_CONNECTION_HELP,
} from './option.parsers.js';

export function resolveRedis(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  const option = options.redis;
  if (option === undefined) return;
  const {
    connection,
    keyPrefix = DEFAULT_REDIS_PREFIX,
    onOutage = 'fail-closed',
    revocationReplicas,
  } = typeof option === 'string' ? { connection: option } : ((option ?? {}) as KeybridgeRedisOptions);
  const before = problems.length;
  if (!isRedisConnection(connection)) {
    problems.push(
      `redis must be a redis:// URL, or { connection, keyPrefix?, onOutage?, revocationReplicas? } whose connection is ${REDIS_CONNECTION_HELP}.`,
    );
  }
  if (typeof keyPrefix !== 'string' || keyPrefix.length > 100) {
    problems.push('redis.keyPrefix must be a string of at most 100 characters.');
  }
  if (onOutage !== 'fail-closed' && onOutage !== 'local') {
    problems.push(`redis.onOutage must be 'fail-closed' or 'local'.`);
  }
  if (!isReplicaCount(revocationReplicas)) {
    problems.push('redis.revocationReplicas must be an integer from 0 to 10.');
  } else if (revocationReplicas && isClusterConnection(connection)) {
    problems.push(
      'redis.revocationReplicas is not supported on a Cluster: set min-replicas-to-write on its nodes.',
    );
  }
  if (problems.length === before) resolved.redis = { connection, keyPrefix, onOutage, revocationReplicas };
}

function isReplicaCount(value: unknown): boolean {
  return (
    value === undefined || (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 10)
  );
}

export function resolveDenylist(
  options: ApiKeyModuleOptions,
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  const pollMs =
    durationOption(problems, 'denylistPollInterval', options.denylistPollInterval, 50, 60_000, '"1s"') ??
    1000;
  const option = options.denylist ?? (options.redis !== undefined ? 'redis' : 'database');
  if (option === 'database') resolved.denylist = { kind: 'database', pollMs };
  else if (option === 'memory') resolved.denylist = { kind: 'memory' };
  else if (option === 'redis') {
    if (options.redis === undefined) {
      problems.push(`denylist 'redis' uses the redis option: set redis to the server's URL.`);
    } else resolved.denylist = { kind: 'redis' };
  } else if (typeof option === 'object' && option !== null && 'redis' in option) {
    if (!isRedisConnection(option.redis)) {
      problems.push(`denylist.redis must be ${REDIS_CONNECTION_HELP}.`);
    } else if (option.keyPrefix !== undefined && typeof option.keyPrefix !== 'string') {
      problems.push('denylist.keyPrefix must be a string.');
    } else if (!isReplicaCount(option.revocationReplicas)) {
      problems.push('denylist.revocationReplicas must be an integer from 0 to 10.');
    } else if (option.revocationReplicas && isClusterConnection(option.redis)) {
      problems.push('denylist.revocationReplicas is not supported on a Cluster.');
    } else resolved.denylist = { kind: 'redis', options: option };
  } else if (
    typeof option === 'object' &&
    option !== null &&
    ['start', 'stop', 'add', 'has'].every(
      (m) => typeof (option as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    resolved.denylist = { kind: 'custom', store: option as DenylistStore };
  } else {
    problems.push(`denylist must be 'memory', 'database', 'redis', { redis: url } or a DenylistStore.`);
  }
}

export function resolveRoutes(
  routes: ApiKeyModuleExtras['oauth'],
  resolved: ResolvedApiKeyOptions,
  problems: string[],
): void {
  if (!routes) return;
  for (const name of Object.keys(DEFAULT_OAUTH_ROUTES) as (keyof OAuthRoutes)[]) {
    const path = routes[name];
    if (path === undefined) continue;
    if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(path)) {
      problems.push(`oauth.${name} must be a path starting with "/", got ${JSON.stringify(path)}.`);
    } else resolved.routes[name] = path;
  }
}
