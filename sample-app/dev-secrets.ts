import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SampleSecrets {
  pepper: string;
}

const DEFAULT_SECRETS_FILE = './data/dev-secrets.json';

/**
 * The secrets the app runs with. From the environment when set; in production they must be. In development
 * a missing secret is generated once and kept in `./data/dev-secrets.json`, with a loud warning, so keys
 * created earlier keep working across restarts.
 */
export function loadSecrets(env: NodeJS.ProcessEnv = process.env): SampleSecrets {
  const fromEnv = { pepper: env.KEYBRIDGE_PEPPER };
  if (fromEnv.pepper) return { pepper: fromEnv.pepper };
  if (env.NODE_ENV === 'production') {
    throw new Error(
      'KEYBRIDGE_PEPPER must be set when NODE_ENV=production (a random secret of at least 32 characters, kept stable).',
    );
  }
  const file = env.KEYBRIDGE_DEV_SECRETS_FILE ?? DEFAULT_SECRETS_FILE;
  let stored: Partial<SampleSecrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<SampleSecrets>;
  if (!stored.pepper) {
    stored.pepper = randomBytes(32).toString('base64url');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  // stderr, so the CLI's --json output on stdout stays parseable.
  console.warn(
    `!!! KEYBRIDGE_PEPPER is not set: using a development secret kept in ${file}. Set KEYBRIDGE_PEPPER (and NODE_ENV=production) before deploying. !!!`,
  );
  return { pepper: stored.pepper };
}
