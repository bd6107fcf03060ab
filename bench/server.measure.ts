/**
 * Measures one server: starts it, checks it, loads the unguarded route and the routes under test in
 * interleaved rounds until enough rounds were quiet, and reduces the rounds to one result per route.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadName, ProfileWindow, ServerConfig } from './bench.config.js';
import { load, measuredRun } from './autocannon.load.js';
import { profileName, startChild, stopChild } from './bench-server.process.js';
import { loadsFor, type LoadKeys } from './load.routes.js';
import { deleteRedisKeys } from './redis.client.js';
import {
  QUIET_LIMIT_CORES,
  ROUTE_LABELS,
  type ConfigResult,
  type RouteSummary,
  type RunSample,
  type Settings,
} from './run.model.js';
import { checkServer, countedHits, type LimitedLoad } from './server.checks.js';

const HOST = '127.0.0.1';

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export async function measure(
  config: ServerConfig,
  loadKeys: LoadKeys,
  settings: Settings,
): Promise<ConfigResult[]> {
  const child = startChild({ mode: 'serve', ...config }, settings);
  // With --profile: when each load ran (CLOCK_MONOTONIC µs, the clock of V8's profile timestamps) and how
  // many requests it served, so bench/profile-report.ts can split the profile by load.
  const timeline: ProfileWindow[] = [];
  // Every request the load completed with the rate-limited key, warm-up included, against its counter.
  const limitedLoad: LimitedLoad = { completed: 0, ok: 0, runs: 0 };
  const timed = async (name: LoadName, work: () => Promise<RunSample>): Promise<RunSample> => {
    const startUs = monotonicUs();
    const sample = await work();
    timeline.push({ load: name, startUs, endUs: monotonicUs(), requests: sample.total });
    if (name === 'limited') {
      limitedLoad.completed += sample.total;
      limitedLoad.ok += sample.ok;
      limitedLoad.runs += 1;
    }
    return sample;
  };
  try {
    const ready = await child.next('ready', 60_000);
    if (ready.type !== 'ready') throw new Error('unexpected message');
    const base = `http://${HOST}:${ready.port}`;
    const {
      bearerToken,
      limitedRemaining: remainingBefore,
      dpop,
    } = await checkServer(base, config, loadKeys);
    const loads = loadsFor(base, config, loadKeys, bearerToken, dpop);
    const names: LoadName[] = ['unguarded', ...config.routes];
    if (settings.warmupSec > 0) {
      for (const name of names) {
        await timed(name, () => load(loads[name], settings.warmupSec, settings.connections));
      }
    }
    const rounds: { samples: Record<LoadName, RunSample>; quiet: boolean }[] = [];
    const failures: Partial<Record<LoadName, string[]>> = {};
    const quietRounds = (): number => rounds.filter((r) => r.quiet).length;
    while (quietRounds() < settings.rounds && rounds.length < settings.rounds + settings.retries) {
      // ABBA order, generalised to several routes (A B C, C B A, …), so a drift in machine load favours none.
      const order = rounds.length % 2 === 0 ? names : [...names].reverse();
      const samples: Partial<Record<LoadName, RunSample>> = {};
      for (const name of order) {
        const sample = await timed(name, () => measuredRun(child.process.pid, loads[name], settings));
        if (sample.failures > 0) {
          (failures[name] ??= []).push(
            `${name === 'unguarded' ? 'unguarded' : ROUTE_LABELS[name]} round ${rounds.length + 1}: ` +
              `${sample.failures} failed requests (${sample.failureDetail})`,
          );
        }
        samples[name] = sample;
      }
      const quiet = order.every((name) => (samples[name]!.otherCpuCores ?? 0) <= QUIET_LIMIT_CORES);
      rounds.push({ samples: samples as Record<LoadName, RunSample>, quiet });
    }
    // Medians over the quiet rounds when there are enough of them, otherwise over every round (and said so).
    const problems: string[] = [...(failures.unguarded ?? [])];
    let used = rounds.filter((r) => r.quiet);
    if (used.length < Math.ceil(settings.rounds / 2)) {
      problems.push(
        `only ${used.length} of ${rounds.length} rounds ran without other load above ` +
          `${QUIET_LIMIT_CORES} cores; the medians include disturbed rounds`,
      );
      used = rounds;
    }
    const unguarded = summarize(used.map((r) => r.samples.unguarded));
    const counted =
      remainingBefore === undefined
        ? undefined
        : await countedHits(base, loadKeys, remainingBefore, limitedLoad, settings.connections);
    return config.routes.map((route): ConfigResult => {
      const guarded = summarize(used.map((r) => r.samples[route]));
      const others = used.flatMap((r) => [r.samples.unguarded.otherCpuCores, r.samples[route].otherCpuCores]);
      return {
        ...pick(config),
        route,
        limits: config.limits,
        unguarded,
        guarded,
        ratio: guarded.medianReqPerSec / unguarded.medianReqPerSec,
        roundRatios: used.map((r) => r.samples[route].reqPerSec / r.samples.unguarded.reqPerSec),
        cpuRatio:
          unguarded.medianServerCpuUsPerReq !== undefined && guarded.medianServerCpuUsPerReq !== undefined
            ? unguarded.medianServerCpuUsPerReq / guarded.medianServerCpuUsPerReq
            : undefined,
        maxOtherCpuCores: others.every((o) => o !== undefined) ? Math.max(...others) : undefined,
        rounds: { measured: rounds.length, used: used.length },
        ...(route === 'limited' && counted ? { counted: counted.counted } : {}),
        problems: [
          ...problems,
          ...(failures[route] ?? []),
          ...(route === 'limited' && counted?.problem ? [counted.problem] : []),
        ],
      };
    });
  } finally {
    await stopChild(child);
    if (config.redis) await deleteRedisKeys(config.redis);
    if (settings.profileDir) {
      writeFileSync(
        join(settings.profileDir, `${profileName(config)}.loads.json`),
        `${JSON.stringify(timeline, null, 2)}\n`,
      );
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summarize(samples: RunSample[]): RouteSummary {
  const cpu = samples.map((s) => s.serverCpuUsPerReq);
  const redisCpu = samples.map((s) => s.redisCpuUsPerReq);
  return {
    medianReqPerSec: Math.round(median(samples.map((s) => s.reqPerSec))),
    medianLatencyP50Ms: median(samples.map((s) => s.latencyP50Ms)),
    medianLatencyP99Ms: median(samples.map((s) => s.latencyP99Ms)),
    medianServerCpuUsPerReq: cpu.every((c) => c !== undefined)
      ? Math.round(median(cpu) * 10) / 10
      : undefined,
    ...(redisCpu.every((c) => c !== undefined)
      ? { medianRedisCpuUsPerReq: Math.round(median(redisCpu) * 10) / 10 }
      : {}),
    runs: samples.map((s) => Math.round(s.reqPerSec)),
  };
}

function pick(config: ServerConfig): Pick<ConfigResult, 'adapter' | 'db' | 'keys' | 'cache'> {
  return { adapter: config.adapter, db: config.db, keys: config.keys, cache: config.cache };
}
