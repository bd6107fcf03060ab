/** The two steps a run repeats, each with its progress line: seed a database, then measure one server. */
import type { DatabaseTarget, ServerConfig } from './bench.config.js';
import { seed } from './bench-server.process.js';
import type { LoadKeys } from './load.routes.js';
import { format, ratioText, routeOf } from './report.format.js';
import { libFingerprint } from './run.provenance.js';
import { ROUTE_LABELS, SEED_BUDGET_MS, type Report, type Settings } from './run.model.js';
import { measure } from './server.measure.js';

export async function seedStep(
  target: DatabaseTarget,
  report: Report,
  settings: Settings,
): Promise<LoadKeys> {
  process.stdout.write(`seeding ${target.db} with ${format(target.keys)} key(s)… `);
  const { loadKeys, result } = await seed(target, settings);
  report.seeds.push(result);
  console.log(`${(result.seedMs / 1000).toFixed(1)} s`);
  if (result.seedMs > SEED_BUDGET_MS) console.warn(`  seeding took over ${SEED_BUDGET_MS / 1000} s`);
  return loadKeys;
}

/** Measures one server and adds its results to the report, flagged if dist/lib changed meanwhile. */
export async function measureStep(
  config: ServerConfig,
  loadKeys: LoadKeys,
  report: Report,
  settings: Settings,
): Promise<void> {
  const { adapter, cache } = config;
  const label =
    `${adapter.padEnd(7)} ${config.db.padEnd(8)} ${format(config.keys).padStart(7)} keys  cache ` +
    `${cache.padEnd(4)}  limits ${config.limits.padEnd(6)}`;
  process.stdout.write(`${label} (${config.routes.join(', ')}) …\n`);
  const results = await measure(config, loadKeys, settings);
  const fingerprint = libFingerprint();
  for (const result of results) {
    if (fingerprint !== report.libFingerprint) {
      result.problems.push(`dist/lib changed during the run (now ${fingerprint}): rebuilt by someone else?`);
    }
    report.results.push(result);
    console.log(
      `  ${ROUTE_LABELS[routeOf(result)].padEnd(16)}  unguarded ` +
        `${format(result.unguarded.medianReqPerSec).padStart(6)}  route ` +
        `${format(result.guarded.medianReqPerSec).padStart(6)}  ratio ${ratioText(result.ratio)}` +
        (result.cpuRatio === undefined ? '' : `  CPU ratio ${ratioText(result.cpuRatio)}`) +
        (result.problems.length ? `  (${result.problems.length} problem(s))` : ''),
    );
  }
}
