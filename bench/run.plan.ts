/**
 * Which servers a run starts: each database is seeded once per key count, then served by every adapter,
 * cache mode and store of rate-limit counters the options select.
 */
import { join } from 'node:path';
import {
  BENCH_LEASE,
  type BenchRedis,
  type DatabaseTarget,
  type LimitsStore,
  type ServerConfig,
} from './bench.config.js';
import type { RunOptions } from './run.args.js';
import type { Settings } from './run.model.js';

export type Plan = { target: DatabaseTarget; configs: ServerConfig[] }[];

/** The plan for these options; SQLite files go to `tempDir`. Warns about the combinations it skips. */
export function buildPlan(options: RunOptions, tempDir: string): Plan {
  const { adapters, databases, keyCounts, cacheModes, routeNames, limitsStores, settings } = options;
  const plan: Plan = [];
  const warmOnlyRoutes = routeNames.filter((route) => route !== 'apikey');
  if (warmOnlyRoutes.length > 0 && !cacheModes.includes('warm')) {
    console.warn(`skipping ${warmOnlyRoutes.join(', ')}: they run with the key cache warm only`);
  }
  // Unique per run and server: no two servers share a counter, and each one's keys are deleted after it.
  const runId = `${Date.now().toString(36)}-${process.pid}`;
  let redisServers = 0;
  const redisFor = (limits: LimitsStore): BenchRedis | undefined =>
    limits === 'memory'
      ? undefined
      : {
          url: options.redisUrl,
          keyPrefix: `keybridge-bench:${runId}:${++redisServers}:`,
          ...(limits === 'leased' ? { lease: BENCH_LEASE } : {}),
        };
  for (const db of databases) {
    for (const keys of keyCounts) {
      const location = db === 'sqlite' ? join(tempDir, `keys-${keys}.sqlite`) : options.pgUrl;
      // The cache-miss path needs one key per connection (see loadsFor()), so it runs where that many fit.
      const loadKeys = keys >= settings.connections ? settings.connections : 1;
      const limitedKey =
        routeNames.includes('limited') && cacheModes.includes('warm') && keys === keyCounts[0];
      const quotaKey = routeNames.includes('quota') && cacheModes.includes('warm') && keys === keyCounts[0];
      const target: DatabaseTarget = {
        db,
        location,
        keys,
        loadKeys,
        ...(limitedKey ? { limitedKey } : {}),
        ...(quotaKey ? { quotaKey } : {}),
      };
      const modes = cacheModes.filter((cache) => cache === 'warm' || loadKeys >= settings.connections);
      if (modes.length < cacheModes.length && options.cacheChosen && routeNames.includes('apikey')) {
        console.warn(
          `skipping cache off with ${keys} key(s): the miss path needs ${settings.connections} keys, one per connection`,
        );
      }
      const configs = modes.flatMap((cache) =>
        adapters.flatMap((adapter) =>
          limitsStores.flatMap((limits): ServerConfig[] => {
            // The Bearer route never reads the key store, the token endpoint and the rate-limited key are
            // read from the warm key cache: the number of stored keys does not matter to them, so they run
            // once, with the fewest keys. The OAuth routes count no per-key limit (the mint limits are off):
            // they run with the first store of counters only. DPoP proofs are claimed once in the replay
            // cache, which the redis option moves from the database to Redis: it runs with each.
            const routes = routeNames.filter((route) => {
              if (route === 'apikey') return true;
              if (cache !== 'warm' || keys !== keyCounts[0]) return false;
              return (
                route === 'limited' || route === 'dpop' || route === 'quota' || limits === limitsStores[0]
              );
            });
            if (routes.length === 0) return [];
            const redis = redisFor(limits);
            return [{ ...target, adapter, cache, routes, limits, ...(redis ? { redis } : {}) }];
          }),
        ),
      );
      if (configs.length > 0) plan.push({ target, configs });
    }
  }
  return plan;
}

/** What the plan will take, said before it starts. */
export function announcePlan(plan: Plan, settings: Settings): void {
  const configCount = plan.reduce((n, step) => n + step.configs.length, 0);
  const loadSec = plan
    .flatMap((step) => step.configs)
    .reduce(
      (total, config) =>
        total +
        3 +
        (1 + config.routes.length) * (settings.warmupSec + settings.rounds * settings.durationSec),
      0,
    );
  console.log(
    `nestjs-keybridge bench: ${configCount} server configurations, about ` +
      `${Math.ceil(loadSec / 60)} min of load plus seeding ` +
      `(more if rounds disturbed by other processes are repeated)` +
      (settings.pin ? '; client on CPU 0, server on CPU 1' : ''),
  );
}
