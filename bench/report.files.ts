/** Where reports land: bench/results/<name>.json with the raw data, and <name>.md rendered from it. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fail, isPlainName } from './run.args.js';
import { markdown } from './report.markdown.js';
import { RESULTS_DIR, type Report } from './run.model.js';

/** Writes both files, with the load average at the time of writing as the run's last. */
export function writeReport(report: Report): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  report.machine.loadAverageAtEnd = loadavg();
  writeFileSync(join(RESULTS_DIR, `${report.outName}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${report.outName}.md`), markdown(report));
}

/** Rewrites a report's markdown from its JSON, without running anything. */
export function renderReport(name: string): void {
  if (!isPlainName(name)) fail('--render takes a plain file name (letters, digits, - and _).');
  const report = JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as Report;
  writeFileSync(join(RESULTS_DIR, `${name}.md`), markdown(report));
  console.log(`Rewrote bench/results/${name}.md from ${name}.json.`);
}
