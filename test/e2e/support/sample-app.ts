import { ApiKeyService, type ApiKeyModuleOptions, type KeybridgeEvent } from 'nestjs-keybridge';
import { createApp, type HttpAdapterName } from '../../../sample-app/app.factory.js';
import { listen, type RunningApp } from './app-starter.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './test-secrets.js';

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

/** Starts the sample app on a real port on 127.0.0.1, for the suites about the sample app itself. */
export async function startSampleApp(
  adapter: HttpAdapterName,
  databaseUrl: string,
  keybridge: ApiKeyModuleOptions = {},
  options: SampleAppOptions = {},
): Promise<RunningApp> {
  const events: KeybridgeEvent[] = [];
  const clock = { now: Date.now() };
  const port = options.port ?? 0;
  const issuer = options.issuer ?? (port ? `http://127.0.0.1:${port}` : 'http://127.0.0.1');
  const app = await createApp({
    adapter,
    databaseUrl,
    pepper: TEST_PEPPER,
    signingKey: options.signingKey ?? TEST_SIGNING_KEY,
    issuer,
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
  return {
    app,
    ...(await listen(app, port)),
    keys: app.get(ApiKeyService),
    events,
    clock,
    issuer,
    close: () => app.close(),
  };
}
export type { RunningApp } from './app-starter.js';
