/** The markdown report: how the run was made, one row per server and route, the targets, seeding, problems. */
import { BENCH_RATE_LIMIT, type AdapterName, type CacheMode, type DatabaseName } from './bench.config.js';
import { BENCH_LEASE, type LimitsStore } from './bench.config.js';
import { format, keyCount, limitsOf, ratioText, routeOf } from './report.format.js';
import { limitsSummary, oauthSummary } from './report.tables.js';
import {
  KEY_COUNT_TOLERANCE,
  LIMITS_LABELS,
  MANY_KEYS,
  QUIET_LIMIT_CORES,
  ROUTE_LABELS,
  SEED_BUDGET_MS,
  TOKEN_TARGET,
  WARM_TARGET,
  type ConfigResult,
  type Report,
  type Settings,
} from './run.model.js';

export function markdown(report: Report): string {
  const routes = new Set(report.results.map(routeOf));
  const lines = [
    ...header(report),
    '',
    '| adapter | db | keys | cache | limits | route | unguarded req/s | route req/s | ratio | round ratios | server CPU µs/req | CPU ratio | route p99 ms | other load | rounds |',
    '|---|---|---:|---|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|',
  ];
  for (const r of report.results) {
    lines.push(
      `| ${r.adapter} | ${r.db} | ${format(r.keys)} | ${r.cache} | ${LIMITS_LABELS[limitsOf(r)]} | ` +
        `${ROUTE_LABELS[routeOf(r)]} | ` +
        `${format(r.unguarded.medianReqPerSec)} | ` +
        `${format(r.guarded.medianReqPerSec)} | **${ratioText(r.ratio)}** | ` +
        `${ratioText(Math.min(...r.roundRatios))}–${ratioText(Math.max(...r.roundRatios))} | ` +
        `${r.unguarded.medianServerCpuUsPerReq ?? '–'} → ${r.guarded.medianServerCpuUsPerReq ?? '–'} | ` +
        `${r.cpuRatio === undefined ? '–' : ratioText(r.cpuRatio)} | ${r.guarded.medianLatencyP99Ms} | ` +
        `${r.maxOtherCpuCores === undefined ? '–' : r.maxOtherCpuCores.toFixed(2)} | ` +
        `${r.rounds ? `${r.rounds.used}/${r.rounds.measured}` : '–'} |`,
    );
  }
  if (routes.has('bearer') || routes.has('token')) lines.push('', ...oauthSummary(report.results));
  if (routes.has('limited')) lines.push('', ...limitsSummary(report.results));
  lines.push('', '## Targets', '', ...targets(report.results), ...seeding(report), ...problems(report), '');
  return lines.join('\n');
}

/** What was run, on what, and how to read the table. */
function header(report: Report): string[] {
  const routes = new Set(report.results.map(routeOf));
  const stores = [...new Set(report.results.map(limitsOf))];
  return [
    `# nestjs-keybridge benchmark: ${report.outName}`,
    '',
    `- Date: ${report.date}`,
    `- Command: \`${report.command}\``,
    `- Code: commit ${report.git}; compiled lib/ fingerprint ${report.libFingerprint}`,
    `- Node ${report.node}, NestJS ${report.versions['@nestjs/core']}, Fastify ${report.versions.fastify}, ` +
      `Express ${report.versions.express}, TypeORM ${report.versions.typeorm}, ` +
      `better-sqlite3 ${report.versions['better-sqlite3']}, pg ${report.versions.pg}, ` +
      `autocannon ${report.versions.autocannon}` +
      (report.versions.jose ? `, jose ${report.versions.jose}` : ''),
    `- Machine: ${report.machine.cpus} × ${report.machine.cpuModel}; load average at start ` +
      `${report.machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}, at end ` +
      `${report.machine.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' ')}`,
    `- Load: autocannon -c ${report.settings.connections}, ${report.settings.rounds} interleaved rounds ` +
      `(ABBA) of ${report.settings.durationSec} s per route after ${report.settings.warmupSec} s of warm-up, ` +
      `up to ${report.settings.retries} extra rounds replacing rounds disturbed by other processes ` +
      `(> ${QUIET_LIMIT_CORES} cores), loopback only; ` +
      (report.settings.pin ? 'client pinned to CPU 0, server to CPU 1.' : 'no CPU pinning.'),
    '- Routes, each loaded in the same rounds as the unguarded baseline `GET /unguarded` of its server:',
    '  "API key" = `GET /guarded` with `X-API-Key`; "Bearer JWT" = the same route with',
    '  `Authorization: Bearer <token>`, one EdDSA token minted per server through `POST /oauth/token` (verified',
    '  once, then answered from the verified-token cache; the database denylist is checked on every request);',
    '  "token endpoint" = `POST /oauth/token`, `grant_type=client_credentials` with HTTP Basic: every request',
    '  authenticates the key and mints and signs a new EdDSA token, so its req/s are tokens per second.',
    ...(routes.has('limited')
      ? [
          '  "rate-limited key" = `GET /guarded` with the `X-API-Key` of a key created with',
          `  \`rateLimit: { limit: ${BENCH_RATE_LIMIT.limit}, window: '${BENCH_RATE_LIMIT.window}' }\` (never ` +
            'reached): every request also counts one hit',
          '  in the rate-limit counters and sends the `RateLimit-*` headers.',
        ]
      : []),
    ...(routes.has('dpop')
      ? [
          '  "DPoP-bound JWT" = `GET /guarded` with `Authorization: DPoP <token>`, one EdDSA token bound to the',
          "  client's Ed25519 key through `POST /oauth/token` with a proof, and a new proof signed by the client",
          '  for every request: the server checks its signature, claims and `ath`, and claims its `jti` once in',
          '  the replay cache (the database with "memory" limits, Redis with "Redis").',
        ]
      : []),
    `- Rate-limit counters ("limits"): ${stores.map((store) => limitsDescription(store, report.settings)).join('; ')}.`,
    '- req/s are medians over the rounds; ratio = median route req/s / median unguarded req/s; "round ratios"',
    '  is the range of route/unguarded within each round. "cache off" is the cache-miss path, one indexed query',
    `  per guarded request: each of the ${report.settings.connections} connections presents its own key, since the module`,
    '  shares one store read between concurrent misses of the same key. It runs with 100,000 stored keys.',
    '- Server CPU µs/req: CPU time (user + system) of the server process per request served, median over the',
    '  rounds (unguarded → route); "CPU ratio" = unguarded µs / route µs, the throughput ratio a saturated',
    "  server would show, and much less sensitive to other load on the machine. It excludes PostgreSQL's own",
    '  work. "Other load" is the most CPU (in cores) other processes (PostgreSQL excluded) used during one of',
    '  the runs used; "rounds" is rounds used / rounds run.',
    ...(stores.some((store) => store !== 'memory')
      ? ["  Redis's work is excluded from both too (it is counted apart), as PostgreSQL's."]
      : []),
  ];
}

function limitsDescription(store: LimitsStore, settings: Settings): string {
  if (store === 'memory') return '"memory" = in the server process (no `redis` option)';
  if (store === 'leased') {
    return (
      `"Redis, leased" = the same \`redis\` option with \`rateLimitMode: 'leased'\`, \`rateLimitLease: ${BENCH_LEASE}\` ` +
      `and \`quotaSync: { mode: 'leased', lease: ${BENCH_LEASE} }\`: one EVALSHA per block of that many requests of a ` +
      "rate-limited key, and one database UPDATE per block of a quota key's units (no Redis call for its quota)"
    );
  }
  return (
    `"Redis" = the module's \`redis\` option, \`{ connection: '${settings.redisUrl ?? 'redis://…'}', ` +
    `keyPrefix }\` with a prefix per run and server, one EVALSHA per request of a rate-limited key ` +
    "(`denylist: 'database'` as without it; redis-server is not pinned and its CPU is counted apart)"
  );
}

function targets(results: ConfigResult[]): string[] {
  const lines: string[] = [];
  const ratioTarget = (label: string, measured: ConfigResult[]): void => {
    if (measured.length === 0) return;
    const met = measured.filter((r) => r.ratio >= WARM_TARGET);
    const metByCpu = measured.filter((r) => r.cpuRatio !== undefined && r.cpuRatio >= WARM_TARGET);
    lines.push(
      `- ${label} keeps ≥ ${WARM_TARGET * 100} % of the unguarded throughput: ` +
        `${met.length} of ${measured.length} configurations by req/s` +
        (met.length < measured.length
          ? ` (below: ${measured
              .filter((r) => r.ratio < WARM_TARGET)
              .map((r) => `${r.adapter}/${r.db}/${keyCount(r.keys)} ${r.ratio.toFixed(3)}`)
              .join(', ')})`
          : '') +
        `; ${metByCpu.length} of ${measured.length} by server CPU per request.`,
    );
  };
  ratioTarget(
    'Guard with the cache warm',
    results.filter((r) => r.cache === 'warm' && routeOf(r) === 'apikey'),
  );
  ratioTarget(
    'Bearer token (verified-token cache warm)',
    results.filter((r) => routeOf(r) === 'bearer'),
  );
  const token = results.filter((r) => routeOf(r) === 'token');
  if (token.length > 0) {
    const met = token.filter((r) => r.guarded.medianReqPerSec >= TOKEN_TARGET);
    lines.push(
      `- Token endpoint mints ≥ ${format(TOKEN_TARGET)} EdDSA tokens/s: ${met.length} of ${token.length} ` +
        `configurations (${token
          .map((r) => `${r.adapter}/${r.db} ${format(r.guarded.medianReqPerSec)}`)
          .join(', ')}).`,
    );
  }
  const comparisons = keyCountComparisons(results);
  if (comparisons.length > 0) {
    lines.push(
      `- ${format(MANY_KEYS)} keys cost no more than 1 key (ratio at ${format(MANY_KEYS)} keys at most ` +
        `${KEY_COUNT_TOLERANCE.toFixed(2)} below the ratio at 1 key): ` +
        `${comparisons.filter((c) => c.ok).length} of ${comparisons.length} pairs.`,
      '',
      `| adapter | db | cache | ratio, 1 key | ratio, ${format(MANY_KEYS)} keys | guarded req/s, 1 key | guarded req/s, ${format(MANY_KEYS)} keys |`,
      '|---|---|---|---:|---:|---:|---:|',
      ...comparisons.map(
        (c) =>
          `| ${c.adapter} | ${c.db} | ${c.cache} | ${ratioText(c.ratioOneKey)} | ${ratioText(c.ratioManyKeys)} | ` +
          `${format(c.guardedOneKey)} | ${format(c.guardedManyKeys)} |`,
      ),
    );
  }
  return lines;
}

interface KeyCountComparison {
  adapter: AdapterName;
  db: DatabaseName;
  cache: CacheMode;
  ratioOneKey: number;
  ratioManyKeys: number;
  guardedOneKey: number;
  guardedManyKeys: number;
  ok: boolean;
}

function keyCountComparisons(all: ConfigResult[]): KeyCountComparison[] {
  const comparisons: KeyCountComparison[] = [];
  const results = all.filter((r) => routeOf(r) === 'apikey');
  for (const one of results.filter((r) => r.keys === 1)) {
    const many = results.find(
      (r) =>
        r.keys === MANY_KEYS &&
        r.adapter === one.adapter &&
        r.db === one.db &&
        r.cache === one.cache &&
        limitsOf(r) === limitsOf(one),
    );
    if (!many) continue;
    comparisons.push({
      adapter: one.adapter,
      db: one.db,
      cache: one.cache,
      ratioOneKey: one.ratio,
      ratioManyKeys: many.ratio,
      guardedOneKey: one.guarded.medianReqPerSec,
      guardedManyKeys: many.guarded.medianReqPerSec,
      ok: many.ratio >= one.ratio - KEY_COUNT_TOLERANCE,
    });
  }
  return comparisons;
}

function seeding(report: Report): string[] {
  if (report.seeds.length === 0) return [];
  return [
    '',
    '## Seeding',
    '',
    ...report.seeds.map(
      (s) =>
        `- ${s.db}, ${keyCount(s.keys)}` +
        (s.storedKeys ? ` (${format(s.storedKeys)} stored with the rate-limited key)` : '') +
        `: ${(s.seedMs / 1000).toFixed(1)} s in all ` +
        `(bulk insert ${(s.bulkInsertMs / 1000).toFixed(1)} s)` +
        (s.seedMs > SEED_BUDGET_MS ? ' — over the 1-minute budget' : ''),
    ),
  ];
}

function problems(report: Report): string[] {
  const problems = report.results.flatMap((r) =>
    r.problems.map(
      (p) =>
        `${r.adapter}/${r.db}/${keyCount(r.keys)}/cache ${r.cache}` +
        (limitsOf(r) === 'memory' ? '' : `/limits ${LIMITS_LABELS[limitsOf(r)]}`) +
        `/${ROUTE_LABELS[routeOf(r)]}: ${p}`,
    ),
  );
  if (problems.length === 0) return [];
  return ['', '## Problems', '', ...[...new Set(problems)].map((p) => `- ${p}`)];
}
