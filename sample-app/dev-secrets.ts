import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SampleSecrets {
  pepper: string;
  /** The token signing key: a PEM (PKCS#8) or JWK private key. */
  signingKey: string;
}

const DEFAULT_SECRETS_FILE = './data/dev-secrets.json';

const GENERATORS: Record<keyof SampleSecrets, () => string> = {
  pepper: () => randomBytes(32).toString('base64url'),
  signingKey: () =>
    generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
};

const VARIABLES: Record<keyof SampleSecrets, string> = {
  pepper: 'KEYBRIDGE_PEPPER',
  signingKey: 'KEYBRIDGE_SIGNING_KEY',
};

/**
 * The secrets the app runs with. From the environment when set; in production they must be. In development
 * a missing secret is generated once and kept in `./data/dev-secrets.json`, with a loud warning, so keys
 * created earlier keep working across restarts and tokens keep verifying.
 */
export function loadSecrets(env: NodeJS.ProcessEnv = process.env): SampleSecrets {
  const fromEnv: Partial<SampleSecrets> = {
    pepper: env.KEYBRIDGE_PEPPER || undefined,
    signingKey: env.KEYBRIDGE_SIGNING_KEY || undefined,
  };
  const missing = (Object.keys(VARIABLES) as (keyof SampleSecrets)[]).filter((name) => !fromEnv[name]);
  if (missing.length === 0) return fromEnv as SampleSecrets;
  if (env.NODE_ENV === 'production') {
    throw new Error(
      `${missing.map((name) => VARIABLES[name]).join(' and ')} must be set when NODE_ENV=production (KEYBRIDGE_PEPPER: a random secret of at least 32 characters; KEYBRIDGE_SIGNING_KEY: an Ed25519 private key in PEM). Keep both stable.`,
    );
  }
  const file = env.KEYBRIDGE_DEV_SECRETS_FILE ?? DEFAULT_SECRETS_FILE;
  let stored: Partial<SampleSecrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<SampleSecrets>;
  if (missing.some((name) => !stored[name])) {
    for (const name of missing) stored[name] ??= GENERATORS[name]();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  // stderr, so the CLI's --json output on stdout stays parseable.
  console.warn(
    `!!! ${missing.map((name) => VARIABLES[name]).join(' and ')} not set: using development secrets kept in ${file}. Set them (and NODE_ENV=production) before deploying. !!!`,
  );
  const secrets = { ...fromEnv };
  for (const name of missing) secrets[name] = stored[name];
  return secrets as SampleSecrets;
}
