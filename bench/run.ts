/**
 * The benchmark driver: `npm run bench [-- options]`. For each server configuration it starts the fixture app
 * in a child process, then loads `GET /unguarded` and, interleaved with it round after round, the routes
 * under test with autocannon on 127.0.0.1: `GET /guarded` with an API key, the same route with a Bearer
 * token, the token endpoint, and `GET /guarded` with a rate-limited key (counters in memory or in Redis). It
 * reports the median requests/s of each and their ratio to the unguarded
 * baseline measured in the same rounds. See bench/README.md for the options and how to read the results.
 */
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killCurrentChild, pinDriver } from './bench-server.process.js';
import { checkRedis, disconnectRedis } from './redis.client.js';
import { renderReport, writeReport } from './report.files.js';
import { markdown } from './report.markdown.js';
import { fail, parseRunArgs } from './run.args.js';
import { announcePlan, buildPlan } from './run.plan.js';
import { newReport } from './run.provenance.js';
import { measureStep, seedStep } from './run.steps.js';

export async function main(): Promise<void> {
  const options = parseRunArgs();
  const { settings, outName } = options;
  if (options.render !== undefined) return renderReport(options.render);
  const started = Date.now();
  pinDriver(settings);
  const tempDir = mkdtempSync(join(tmpdir(), 'keybridge-bench-'));
  const plan = buildPlan(options, tempDir);
  if (plan.length === 0) fail('Nothing to run with these filters.');
  if (options.limitsStores.some((store) => store !== 'memory')) await checkRedis(options.redisUrl);
  announcePlan(plan, settings);

  const report = newReport(outName, settings);
  // Saved after every server too, so an interrupted run keeps what it measured.
  const save = (): void => {
    report.durationSec = Math.round((Date.now() - started) / 1000);
    writeReport(report);
  };
  try {
    for (const { target, configs } of plan) {
      const loadKeys = await seedStep(target, report, settings);
      for (const config of configs) {
        await measureStep(config, loadKeys, report, settings);
        save();
      }
    }
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
    disconnectRedis();
  }
  save();
  console.log(`\n${markdown(report)}`);
  console.log(`Results: bench/results/${outName}.json and .md (${Math.round(report.durationSec / 60)} min).`);
}

/** Whether this module was started as `node dist/bench/run.js` (the `.js` may be left out), not imported. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  const self = fileURLToPath(import.meta.url);
  return [entry, `${entry}.js`].some((path) => existsSync(path) && realpathSync(path) === self);
}

if (isEntryPoint()) {
  process.on('SIGINT', () => {
    killCurrentChild();
    process.exit(130);
  });
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
      killCurrentChild();
      process.exit(1);
    },
  );
}
