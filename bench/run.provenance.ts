/**
 * What a report records about where its figures come from: the command, the commit and the compiled library,
 * the versions and the machine, so that two reports are only compared when they should be.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  KEY_COUNT_TOLERANCE,
  ROOT,
  TOKEN_TARGET,
  WARM_TARGET,
  type Report,
  type Settings,
} from './run.model.js';

const VERSIONS_OF = [
  '@nestjs/core',
  'fastify',
  'express',
  'typeorm',
  'better-sqlite3',
  'pg',
  'autocannon',
  'jose',
];

/** A report with no results yet, stamped with what the run starts from. */
export function newReport(outName: string, settings: Settings): Report {
  return {
    outName,
    date: new Date().toISOString(),
    command: commandLine(),
    git: gitDescription(),
    libFingerprint: libFingerprint(),
    node: process.version,
    versions: Object.fromEntries(VERSIONS_OF.map((name) => [name, packageVersion(name)])),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageAtStart: loadavg(),
      loadAverageAtEnd: [],
    },
    settings,
    seeds: [],
    results: [],
    targets: {
      warmRatio: WARM_TARGET,
      keyCountTolerance: KEY_COUNT_TOLERANCE,
      tokensPerSecond: TOKEN_TARGET,
    },
    durationSec: 0,
  };
}

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    return manifest.version;
  } catch {
    return 'unknown';
  }
}

/**
 * A digest of the compiled library the servers load. Others may rebuild dist/ while a long run goes on; a
 * change between configurations is reported instead of silently mixing two versions in one table.
 */
export function libFingerprint(): string {
  const digest = createHash('sha256');
  const libDir = join(ROOT, 'dist', 'lib');
  const files = readdirSync(libDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .sort();
  for (const file of files) digest.update(file).update(readFileSync(join(libDir, file)));
  return digest.digest('hex').slice(0, 16);
}

function gitDescription(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout?.trim() ? ' (lib/ has uncommitted changes)' : ''}`;
}

function commandLine(): string {
  const rest = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${rest ? ` -- ${rest}` : ''}`;
  return `node dist/bench/run.js${rest ? ` ${rest}` : ''}`;
}
