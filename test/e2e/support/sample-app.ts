import type { INestApplication } from '@nestjs/common';
import { ApiKeyService, type ApiKeyModuleOptions, type KeybridgeEvent } from 'nestjs-keybridge';
import { createApp, type HttpAdapterName } from '../../../sample-app/app.factory.js';

export const TEST_PEPPER = 'test-pepper-0123456789abcdefghijklmnopqrstuvwxyz';

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
): Promise<RunningApp> {
  const events: KeybridgeEvent[] = [];
  const clock = { now: Date.now() };
  const app = await createApp({
    adapter,
    databaseUrl,
    pepper: TEST_PEPPER,
    logger: ['error', 'warn'],
    keybridge: { clock: () => clock.now, onEvent: (event) => events.push(event), ...keybridge },
  });
  await app.listen(0, '127.0.0.1');
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
