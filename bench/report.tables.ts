/**
 * The report's per-server sections: the OAuth routes and the rate-limited key side by side with the plain
 * API key of the same server, since only figures from the same server and rounds compare well.
 */
import type { LimitsStore, RouteName } from './bench.config.js';
import { cell, format, limitsOf, micro, ratioText, routeOf, serverId } from './report.format.js';
import { LIMITS_LABELS, type ConfigResult } from './run.model.js';

/** One line per server that loaded an OAuth route: its routes' ratios side by side, and tokens per second. */
export function oauthSummary(results: ConfigResult[]): string[] {
  const servers = new Map<string, ConfigResult[]>();
  for (const r of results) {
    const id = serverId(r);
    servers.set(id, [...(servers.get(id) ?? []), r]);
  }
  const lines = [
    '## OAuth routes',
    '',
    'Ratios to the unguarded route of the same server and rounds; tokens/s = median req/s of the token endpoint.',
    '',
    '| adapter | db | keys | unguarded req/s | API key ratio | Bearer req/s | Bearer ratio | Bearer CPU ratio | tokens/s | token ratio | token CPU µs |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const group of servers.values()) {
    const by = (route: RouteName) => group.find((r) => routeOf(r) === route);
    const [apikey, bearer, token] = [by('apikey'), by('bearer'), by('token')];
    if (!bearer && !token) continue;
    const first = group[0];
    lines.push(
      `| ${first.adapter} | ${first.db} | ${format(first.keys)} | ${format(first.unguarded.medianReqPerSec)} | ` +
        `${cell(apikey?.ratio, ratioText)} | ${cell(bearer?.guarded.medianReqPerSec, format)} | ` +
        `${cell(bearer?.ratio, (n) => `**${ratioText(n)}**`)} | ${cell(bearer?.cpuRatio, ratioText)} | ` +
        `${cell(token?.guarded.medianReqPerSec, (n) => `**${format(n)}**`)} | ${cell(token?.ratio, ratioText)} | ` +
        `${cell(token?.guarded.medianServerCpuUsPerReq, String)} |`,
    );
  }
  return lines;
}

/** The plain API key and the rate-limited key of one server. */
interface LimitedServer {
  apikey?: ConfigResult;
  limited?: ConfigResult;
}

const cpu = (r: ConfigResult | undefined): number | undefined => r?.guarded.medianServerCpuUsPerReq;

/** The server CPU per request the limit adds to a plain API-key request of the same server. */
function added(server: LimitedServer): number | undefined {
  const [apikey, limited] = [cpu(server.apikey), cpu(server.limited)];
  return apikey === undefined || limited === undefined ? undefined : limited - apikey;
}

/**
 * One line per server that loaded the rate-limited key: its ratio beside the plain API key's, the server CPU
 * the limit adds to an API-key request, and Redis's own CPU per request; then memory and Redis counters side
 * by side for each adapter and database.
 */
export function limitsSummary(results: ConfigResult[]): string[] {
  const servers = new Map<string, LimitedServer>();
  for (const r of results) {
    const route = routeOf(r);
    if (route !== 'apikey' && route !== 'limited') continue;
    const id = serverId(r);
    servers.set(id, { ...servers.get(id), [route]: r });
  }
  const lines = [
    '## Rate-limited key',
    '',
    'Ratios to the unguarded route of the same server and rounds. "limit adds" = server CPU per rate-limited',
    'request minus per plain API-key request of the same server; "Redis CPU" = CPU of the local redis-server',
    'per rate-limited request (its whole work: other clients included); "hits counted" = how far the',
    "key's counter moved during the load / requests the load completed (the counter may be ahead by the",
    'requests in flight when a run stopped).',
    '',
    '| adapter | db | keys | limits | unguarded req/s | API key ratio | rate-limited req/s | **ratio** | CPU ratio | server CPU µs/req (unguarded → API key → limited) | limit adds µs | Redis CPU µs | limited p99 ms | hits counted |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|',
  ];
  for (const server of servers.values()) {
    const { apikey, limited } = server;
    if (!limited) continue;
    lines.push(
      `| ${limited.adapter} | ${limited.db} | ${format(limited.keys)} | ${LIMITS_LABELS[limitsOf(limited)]} | ` +
        `${format(limited.unguarded.medianReqPerSec)} | ${cell(apikey?.ratio, ratioText)} | ` +
        `${format(limited.guarded.medianReqPerSec)} | **${ratioText(limited.ratio)}** | ` +
        `${cell(limited.cpuRatio, ratioText)} | ${cell(limited.unguarded.medianServerCpuUsPerReq, micro)} → ` +
        `${cell(cpu(apikey), micro)} → ${cell(cpu(limited), micro)} | ${cell(added(server), micro)} | ` +
        `${cell(limited.guarded.medianRedisCpuUsPerReq, micro)} | ${limited.guarded.medianLatencyP99Ms} | ` +
        (limited.counted ? `${format(limited.counted.hits)} / ${format(limited.counted.completed)}` : '–') +
        ' |',
    );
  }
  return [...lines, ...storesSideBySide(servers)];
}

/** Memory and Redis counters side by side, per adapter, database, key count and cache mode. */
function storesSideBySide(servers: Map<string, LimitedServer>): string[] {
  const pairs = new Map<string, Partial<Record<LimitsStore, LimitedServer>>>();
  for (const [id, server] of servers) {
    if (!server.limited) continue;
    const group = id.slice(0, id.lastIndexOf('/'));
    pairs.set(group, { ...pairs.get(group), [limitsOf(server.limited)]: server });
  }
  const both = [...pairs.values()].filter((p) => p.memory?.limited && p.redis?.limited);
  if (both.length === 0) return [];
  const lines = [
    '',
    'Memory and Redis counters side by side ("Redis round trip" = what the limit adds with Redis minus what',
    'it adds in memory, in server CPU per request):',
    '',
    '| adapter | db | ratio, memory | ratio, Redis | CPU ratio, memory | CPU ratio, Redis | limit adds µs, memory | limit adds µs, Redis | **Redis round trip µs** | Redis CPU µs |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const pair of both) {
    const [memory, redis] = [pair.memory!, pair.redis!];
    const [inMemory, inRedis] = [added(memory), added(redis)];
    lines.push(
      `| ${memory.limited!.adapter} | ${memory.limited!.db} | ${ratioText(memory.limited!.ratio)} | ` +
        `**${ratioText(redis.limited!.ratio)}** | ${cell(memory.limited!.cpuRatio, ratioText)} | ` +
        `${cell(redis.limited!.cpuRatio, ratioText)} | ${cell(inMemory, micro)} | ${cell(inRedis, micro)} | ` +
        `**${inMemory === undefined || inRedis === undefined ? '–' : micro(inRedis - inMemory)}** | ` +
        `${cell(redis.limited!.guarded.medianRedisCpuUsPerReq, micro)} |`,
    );
  }
  return lines;
}
