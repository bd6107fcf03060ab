/**
 * Where a route's time goes, from a profile written by `npm run bench -- --profile`:
 *
 *   node dist/bench/profile-report.js bench/results/profiles/<name>.cpuprofile [--route bearer] [--top 25]
 *
 * The driver lists beside each profile (`<name>.loads.json`) when each load ran and how many requests it
 * served. The samples are split by those windows, so every function gets a cost per request of each load;
 * the report lists the functions whose cost per request grows most from the unguarded route to the chosen
 * route (self time), then the inclusive time per request of the library's and jose's functions on that
 * route. Profiler overhead is included: compare the totals with the server CPU µs/request of the results.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ROUTE_NAMES, type LoadName, type ProfileWindow, type RouteName } from './bench.config.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Per load: requests, sampled time, and time per function (self and inclusive), all in µs. */
interface LoadProfile {
  requests: number;
  wallUs: number;
  busyUs: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
}

const IDLE = '(idle)';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    route: { type: 'string', default: 'bearer' },
    top: { type: 'string', default: '25' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help || positionals.length !== 1) {
  console.log(
    'Usage: node dist/bench/profile-report.js <profile.cpuprofile> [--route apikey|bearer|token|limited] [--top n]',
  );
  process.exit(args.help ? 0 : 2);
}
const route = args.route as RouteName;
if (!ROUTE_NAMES.includes(route)) {
  console.error(`--route takes ${ROUTE_NAMES.join(', ')}`);
  process.exit(2);
}
const top = Number(args.top) || 25;
const profilePath = positionals[0];
const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
const windows = JSON.parse(
  readFileSync(profilePath.replace(/\.cpuprofile$/, '.loads.json'), 'utf8'),
) as ProfileWindow[];

/** A function's name as reports print it: name, then file and line. */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (!url) return functionName || '(anonymous)';
  const file = url.includes('/node_modules/')
    ? url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length)
    : url.startsWith('node:')
      ? url
      : basename(url);
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const names = new Map(profile.nodes.map((node) => [node.id, frameName(node)]));
/** Per node, the distinct function names on its stack (itself included), computed once. */
const stacks = new Map<number, string[]>();
function stackOf(id: number): string[] {
  let stack = stacks.get(id);
  if (!stack) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(names.get(at)!);
    stack = [...seen];
    stacks.set(id, stack);
  }
  return stack;
}

const loads = new Map<LoadName, LoadProfile>();
for (const window of windows) {
  const entry = loads.get(window.load) ?? {
    requests: 0,
    wallUs: 0,
    busyUs: 0,
    self: new Map(),
    inclusive: new Map(),
  };
  entry.requests += window.requests;
  entry.wallUs += window.endUs - window.startUs;
  loads.set(window.load, entry);
}
const sorted = [...windows].sort((a, b) => a.startUs - b.startUs);

// Sample i was taken at startTime + the sum of the deltas up to i; it stands for the time until the next one.
// A gap far longer than the sampling interval (the VM or the sampler thread was not scheduled) would pin
// all of its time on one function: such a sample counts for one median interval, and the gaps are reported.
const intervals = [...profile.timeDeltas].sort((a, b) => a - b);
const medianInterval = intervals[intervals.length >> 1] ?? 0;
const gapLimit = 20 * medianInterval;
const gaps: number[] = [];
let at = profile.startTime;
let windowIndex = 0;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i];
  let duration = (profile.timeDeltas[i + 1] ?? 0) > 0 ? profile.timeDeltas[i + 1] : 0;
  if (duration > gapLimit) {
    gaps.push(duration);
    duration = medianInterval;
  }
  while (windowIndex < sorted.length && sorted[windowIndex].endUs < at) windowIndex++;
  const window = sorted[windowIndex];
  if (!window || at < window.startUs) continue;
  const node = byId.get(profile.samples[i])!;
  const name = names.get(node.id)!;
  if (name === IDLE) continue;
  const entry = loads.get(window.load)!;
  entry.busyUs += duration;
  entry.self.set(name, (entry.self.get(name) ?? 0) + duration);
  for (const frame of stackOf(node.id))
    entry.inclusive.set(frame, (entry.inclusive.get(frame) ?? 0) + duration);
}

const baseline = loads.get('unguarded');
const measured = loads.get(route);
if (!baseline || !measured) {
  console.error(`The profile has no ${baseline ? route : 'unguarded'} load.`);
  process.exit(1);
}
const perRequest = (load: LoadProfile, us: number | undefined): number => (us ?? 0) / load.requests;
const us = (n: number): string => n.toFixed(2).padStart(8);

console.log(`${basename(profilePath)}: ${route} against unguarded, µs of profile time per request`);
if (gaps.length > 0) {
  console.log(
    `  (${gaps.length} sampling gap(s) over ${(gapLimit / 1000).toFixed(0)} ms, ` +
      `${gaps.map((g) => `${(g / 1000).toFixed(0)} ms`).join(', ')}, counted as one ${medianInterval} µs interval each)`,
  );
}
for (const [name, load] of loads) {
  console.log(
    `  ${name.padEnd(10)} ${load.requests.toLocaleString('en-US').padStart(9)} requests  ` +
      `${us(perRequest(load, load.busyUs))} µs busy/request  ` +
      `(${((100 * load.busyUs) / load.wallUs).toFixed(0)} % of the wall time busy)`,
  );
}
const extra = perRequest(measured, measured.busyUs) - perRequest(baseline, baseline.busyUs);
console.log(`  ${route} costs ${extra.toFixed(2)} µs more per request than unguarded.\n`);

console.log(`Self time per request that grows most (${route} − unguarded):`);
const functions = new Set([...baseline.self.keys(), ...measured.self.keys()]);
const growth = [...functions]
  .map((name) => {
    const base = perRequest(baseline, baseline.self.get(name));
    const with_ = perRequest(measured, measured.self.get(name));
    return { name, base, with_, diff: with_ - base };
  })
  .sort((a, b) => b.diff - a.diff);
console.log(`  ${'Δ µs'.padStart(8)} ${'unguarded'.padStart(9)} ${route.padStart(9)}  function`);
for (const f of growth.slice(0, top)) console.log(`  ${us(f.diff)} ${us(f.base)} ${us(f.with_)}   ${f.name}`);
const shrink = growth
  .slice(-5)
  .reverse()
  .filter((f) => f.diff < 0);
if (shrink.length > 0) {
  console.log('  … and shrinking most:');
  for (const f of shrink) console.log(`  ${us(f.diff)} ${us(f.base)} ${us(f.with_)}   ${f.name}`);
}

console.log(`\nInclusive time per ${route} request, nestjs-keybridge and jose functions:`);
const ours = [...measured.inclusive.entries()]
  .filter(([name]) => /\.js:\d+$/.test(name) && !name.includes(' node:') && !/ (?!jose\/)[^ ]*\//.test(name))
  .map(([name, time]) => ({ name, time: perRequest(measured, time) }))
  .sort((a, b) => b.time - a.time);
for (const f of ours.slice(0, top)) console.log(`  ${us(f.time)}   ${f.name}`);
