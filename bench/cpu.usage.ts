/**
 * CPU time read from /proc around each run: the server's own cost per request, which moves far less than
 * req/s when the machine is shared, and how busy everything else was, to tell quiet rounds from disturbed ones.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { RunSample } from './run.model.js';

export interface CpuSnapshot {
  at: number;
  server: { user: number; system: number } | undefined;
  machineUser: number | undefined;
  driverUser: number;
  /** User CPU seconds of the local PostgreSQL and redis-server processes: part of the workload. */
  databaseUser: number;
  /** CPU seconds (user + system) of the local redis-server. */
  redis: number;
}

let clockTicks: number | undefined;

/** /proc counts CPU time in clock ticks; asked once, when first needed. */
function ticksPerSecond(): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return clockTicks;
}

/** User and system CPU seconds from the fields of a /proc/<pid>/stat line. */
function statCpu(stat: string): { user: number; system: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / ticksPerSecond(), system: Number(fields[12]) / ticksPerSecond() };
}

/** CPU seconds of one process from /proc (Linux), or undefined elsewhere. */
function processCpu(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** User CPU seconds of the whole machine (user + nice), or undefined off Linux. */
function machineUserCpu(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    return (Number(fields[1]) + Number(fields[2])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of the local PostgreSQL and Redis processes: on the cache-miss path and with counters in
 * Redis they are part of the workload. `databaseUser` is their user time; `redis` is redis-server's user and
 * system time.
 */
function storeCpu(): { databaseUser: number; redis: number } {
  const total = { databaseUser: 0, redis: 0 };
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return total;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres' && name !== 'redis-server') continue;
      const { user, system } = statCpu(stat);
      total.databaseUser += user;
      if (name === 'redis-server') total.redis += user + system;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

export function cpuSnapshot(serverPid: number | undefined): CpuSnapshot {
  return {
    at: performance.now(),
    server: processCpu(serverPid),
    machineUser: machineUserCpu(),
    driverUser: process.cpuUsage().user / 1e6,
    ...storeCpu(),
  };
}

/** Fills in a run's CPU figures from the snapshots taken just before and just after it. */
export function attributeCpu(sample: RunSample, before: CpuSnapshot, after: CpuSnapshot): RunSample {
  if (before.server && after.server && sample.total > 0) {
    const serverCpu = after.server.user + after.server.system - before.server.user - before.server.system;
    sample.serverCpuUsPerReq = (serverCpu * 1e6) / sample.total;
  }
  if (sample.total > 0) sample.redisCpuUsPerReq = ((after.redis - before.redis) * 1e6) / sample.total;
  if (before.server && after.server && before.machineUser !== undefined && after.machineUser !== undefined) {
    const others =
      after.machineUser -
      before.machineUser -
      (after.server.user - before.server.user) -
      (after.driverUser - before.driverUser) -
      (after.databaseUser - before.databaseUser);
    sample.otherCpuCores = Math.max(0, others) / ((after.at - before.at) / 1000);
  }
  return sample;
}
