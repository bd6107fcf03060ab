import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { ApiKeyService, type ApiKeyModuleOptions, type KeybridgeEvent } from 'nestjs-keybridge';
import { createApp, type HttpAdapterName } from '../../../sample-app/app.factory.js';

export const TEST_PEPPER = 'test-pepper-0123456789abcdefghijklmnopqrstuvwxyz';

/** One Ed25519 signing key per test process, as the sample app uses by default. */
export const TEST_SIGNING_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();

export interface SampleAppOptions {
  /** Listen on this port (the issuer names it); default a free one picked by the OS. */
  port?: number;
  issuer?: string;
  redisUrl?: string;
  /** Prefix of the Redis keys and channels (tests use a fresh one each). */
  redisKeyPrefix?: string;
  signingKey?: string;
  /** Receives the app's request log lines. Default: Nest's logger (silenced in tests). */
  requestLog?: (line: string) => void;
}

export interface RunningApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  keys: ApiKeyService;
  events: KeybridgeEvent[];
  /** The time the library sees; move it to expire keys without sleeping. */
  clock: { now: number };
  close(): Promise<void>;
}

/** Starts the sample app on a real port on 127.0.0.1. */
export async function startSampleApp(
  adapter: HttpAdapterName,
  databaseUrl: string,
  keybridge: ApiKeyModuleOptions = {},
  options: SampleAppOptions = {},
): Promise<RunningApp> {
  const events: KeybridgeEvent[] = [];
  const clock = { now: Date.now() };
  const port = options.port ?? 0;
  const app = await createApp({
    adapter,
    databaseUrl,
    pepper: TEST_PEPPER,
    signingKey: options.signingKey ?? TEST_SIGNING_KEY,
    issuer: options.issuer ?? (port ? `http://127.0.0.1:${port}` : 'http://127.0.0.1'),
    redisUrl: options.redisUrl,
    redisKeyPrefix: options.redisKeyPrefix,
    requestLog: options.requestLog,
    logger: ['error', 'warn'],
    // Suites send many bad credentials from 127.0.0.1 on purpose; the throttle has its own suite.
    keybridge: {
      clock: () => clock.now,
      onEvent: (event) => events.push(event),
      failedAuthLimit: false,
      ...keybridge,
    },
  });
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    keys: app.get(ApiKeyService),
    events,
    clock,
    close: () => app.close(),
  };
}

/** A TCP port free at the time of asking, for apps whose issuer URL must name their port before they listen. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
