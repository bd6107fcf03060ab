import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import {
  ApiKeyService,
  KeybridgeError,
  type ApiKeyView,
  type CreateApiKeyInput,
  type SigningAlgorithm,
} from 'nestjs-keybridge';
import { AppModule } from '../app.module.js';
import { loadSecrets } from '../dev-secrets.js';

const USAGE = `Usage: npm run keys -- <command> [options]

Commands:
  create --name <name> --scopes <a,b> [--subject <s>] [--expires-in <30d>] [--test] [--json]
  list [--subject <s>] [--all] [--json]
  get <id> [--json]
  revoke <id> [--reason <text>] [--json]
  rotate <id> [--grace <24h>] [--json]     (prints the new key once; --grace 0 revokes the old key at once)
  disable <id> [--json]
  enable <id> [--json]

The database is the app's: DATABASE_URL, or ./data/keybridge.sqlite. With REDIS_URL set, revocations
also go to the app's Redis denylist. Revoking a key also revokes every token minted from it.`;

class UsageError extends Error {}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      subject: { type: 'string' },
      'expires-in': { type: 'string' },
      reason: { type: 'string' },
      grace: { type: 'string' },
      test: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, id] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const { pepper, signingKey } = loadSecrets();
  const app = await NestFactory.createApplicationContext(
    // The app's own configuration: a revocation here reaches the running app through the same denylist.
    AppModule.forRoot({
      databaseUrl: process.env.DATABASE_URL,
      pepper,
      signingKey,
      signingAlgorithm: process.env.KEYBRIDGE_SIGNING_ALG as SigningAlgorithm | undefined,
      issuer: process.env.KEYBRIDGE_ISSUER ?? 'http://localhost:3000',
      redisUrl: process.env.REDIS_URL || undefined,
      redisKeyPrefix: process.env.KEYBRIDGE_REDIS_PREFIX || undefined,
    }),
    { logger: ['error'], abortOnError: false },
  );
  try {
    const keys = app.get(ApiKeyService);
    const print = (value: unknown, text: () => string): void =>
      console.log(values.json ? JSON.stringify(value, null, 2) : text());
    switch (command) {
      case 'create': {
        if (!values.name) throw new UsageError('create needs --name.');
        const input: CreateApiKeyInput = {
          name: values.name,
          scopes: values.scopes
            ? values.scopes
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean)
            : [],
          subject: values.subject,
          expiresIn: values['expires-in'],
          environment: values.test ? 'test' : undefined,
        };
        const created = await keys.create(input);
        print(created, () =>
          [
            `Created ${created.id} (${created.name}) with scopes: ${created.scopes.join(' ') || '(none)'}`,
            `Expires: ${created.expiresAt ? created.expiresAt.toISOString() : 'never'}`,
            '',
            `  ${created.key}`,
            '',
            'This is the only time the key is shown. Store it now.',
          ].join('\n'),
        );
        return 0;
      }
      case 'list': {
        const list = await keys.list({ subject: values.subject, includeRevoked: values.all, limit: 1000 });
        print(list, () => table(list));
        return 0;
      }
      case 'get': {
        if (!id) throw new UsageError('get needs a key id.');
        const key = await keys.get(id);
        print(key, () => table([key]));
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('revoke needs a key id.');
        const key = await keys.revoke(id, values.reason);
        print(key, () => `Revoked ${key.id} (${key.name}).`);
        return 0;
      }
      case 'rotate': {
        if (!id) throw new UsageError('rotate needs a key id.');
        const rotated = await keys.rotate(id, { grace: values.grace });
        print(rotated, () =>
          [
            `Rotated ${id} to ${rotated.id} (${rotated.name}); the old key works until ${
              values.grace === '0' ? 'now (revoked)' : 'the end of its grace period'
            }.`,
            '',
            `  ${rotated.key}`,
            '',
            'This is the only time the key is shown. Store it now.',
          ].join('\n'),
        );
        return 0;
      }
      case 'disable':
      case 'enable': {
        if (!id) throw new UsageError(`${command} needs a key id.`);
        const key = command === 'disable' ? await keys.disable(id) : await keys.enable(id);
        print(key, () => `${command === 'disable' ? 'Disabled' : 'Enabled'} ${key.id} (${key.name}).`);
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "${command}".`);
    }
  } finally {
    await app.close();
  }
}

/** A stored instant for the table; a column value that is no date (written by hand) must not stop the listing. */
function instant(date: Date | null, none: string): string {
  if (!date) return none;
  return Number.isFinite(date.getTime()) ? date.toISOString() : 'invalid';
}

function table(keys: ApiKeyView[]): string {
  if (keys.length === 0) return 'No keys.';
  const rows = keys.map((k) => [
    k.id,
    k.name,
    k.status,
    k.scopes.join(' '),
    k.hint,
    instant(k.expiresAt, '-'),
    instant(k.lastUsedAt, 'never'),
  ]);
  const header = ['ID', 'NAME', 'STATUS', 'SCOPES', 'HINT', 'EXPIRES', 'LAST USED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof KeybridgeError) {
      console.error(`Error (${error.code}): ${error.message}`);
      process.exit(1);
    }
    console.error(`Error: ${(error as Error)?.message ?? String(error)}`);
    process.exit(1);
  },
);
