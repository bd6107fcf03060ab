import { createServer } from 'node:net';
import type { DynamicModule, INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  ApiKeyService,
  rejectUnreadableUrl,
  type ApiKeyModuleExtras,
  type ApiKeyModuleOptions,
  type KeybridgeEvent,
} from 'nestjs-keybridge';
import { GlobalGuardAppModule } from '../apps/global-guard.module.js';
import { PerRouteAppModule } from '../apps/per-route.module.js';
import type { ADAPTERS } from './databases.js';
import { TEST_PEPPER, TEST_SIGNING_KEY } from './test-secrets.js';

/** The issuer (and default audience) of an app started without a port or an issuer of its own. */
export const DEFAULT_ISSUER = 'http://127.0.0.1';

export type AdapterName = (typeof ADAPTERS)[number];

/** `ApiKeyModule.forRoot()` options plus the `oauth` routes, which some suites move or turn off. */
export type KeybridgeOptions = ApiKeyModuleOptions & Pick<ApiKeyModuleExtras, 'oauth'>;

/** Builds a fixture app's root module from the database URL and the module options. */
export type FixtureAppFactory = (databaseUrl: string, keybridge: KeybridgeOptions) => DynamicModule;

export interface StartOptions {
  /** Which fixture app: the guard on every route (default), guards named per route, or a module of the suite's. */
  app?: 'global-guard' | 'per-route' | FixtureAppFactory;
  /** Listen on this port (the issuer names it); default a free one picked by the OS. */
  port?: number;
  issuer?: string;
  /** The Ed25519 key that signs tokens. Default the test process's own. */
  signingKey?: string;
  /** Nest's log levels. Default errors and warnings. */
  logger?: LogLevel[] | false;
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
  /** The `iss` (and default audience) of the app's tokens. */
  issuer: string;
  close(): Promise<void>;
}

/** Creates a Nest app of `module` on Express or Fastify, ready for `listen()`. */
export function createNestApp(
  adapter: AdapterName,
  module: DynamicModule,
  logger: LogLevel[] | false = ['error', 'warn'],
): Promise<INestApplication> {
  return adapter === 'fastify'
    ? NestFactory.create(module, new FastifyAdapter({ frameworkErrors: rejectUnreadableUrl }), {
        logger,
        abortOnError: false,
      })
    : NestFactory.create(module, { logger, abortOnError: false });
}

/**
 * A fixture app, not yet listening, and what the test reads of it: the events it emitted and the clock it
 * runs on. `keybridge` is applied last, over the test defaults.
 */
export async function createApp(
  adapter: AdapterName,
  databaseUrl: string,
  keybridge: KeybridgeOptions = {},
  options: StartOptions = {},
): Promise<{ app: INestApplication; events: KeybridgeEvent[]; clock: { now: number }; issuer: string }> {
  const events: KeybridgeEvent[] = [];
  const clock = { now: Date.now() };
  const issuer = options.issuer ?? (options.port ? `http://127.0.0.1:${options.port}` : DEFAULT_ISSUER);
  const settings: KeybridgeOptions = {
    pepper: TEST_PEPPER,
    issuer,
    signing: { alg: 'EdDSA', privateKey: options.signingKey ?? TEST_SIGNING_KEY },
    clock: () => clock.now,
    onEvent: (event) => events.push(event),
    // Suites send many bad credentials from 127.0.0.1 on purpose; the throttle has its own suite.
    failedAuthLimit: false,
    ...keybridge,
  };
  const module =
    typeof options.app === 'function'
      ? options.app(databaseUrl, settings)
      : options.app === 'per-route'
        ? PerRouteAppModule.forRoot(databaseUrl, settings)
        : GlobalGuardAppModule.forRoot(databaseUrl, settings);
  return { app: await createNestApp(adapter, module, options.logger), events, clock, issuer };
}

/** Starts a fixture app on a real port on 127.0.0.1. */
export async function startApp(
  adapter: AdapterName,
  databaseUrl: string,
  keybridge: KeybridgeOptions = {},
  options: StartOptions = {},
): Promise<RunningApp> {
  const { app, events, clock, issuer } = await createApp(adapter, databaseUrl, keybridge, options);
  const { port, url } = await listen(app, options.port);
  return { app, port, url, keys: app.get(ApiKeyService), events, clock, issuer, close: () => app.close() };
}

/** Listens on 127.0.0.1 (`port`, or one the OS picks) and tells where. */
export async function listen(app: INestApplication, port = 0): Promise<{ port: number; url: string }> {
  await app.listen(port, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { port: address.port, url: `http://127.0.0.1:${address.port}` };
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
