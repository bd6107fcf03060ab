/**
 * The child process of the benchmark. `BENCH_TASK` (JSON) says what to do:
 * - `seed`: reset the database, start the app context (the shipped migrations create the tables), store the
 *   keys, report the load keys and their ids over IPC and exit (without Redis: it counts nothing);
 * - `serve`: start the fixture app on 127.0.0.1 (a free port), report the port, and serve until the parent
 *   sends `stop` or goes away.
 * Running the server apart from the load generator lets each use its own core.
 */
import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ApiKeyService } from 'nestjs-keybridge';
import { DataSource } from 'typeorm';
import { BenchAppModule } from './bench-app.module.js';
import type { BenchTask, ChildMessage, ServerConfig } from './bench.config.js';
import { resetDatabase, seedKeys } from './seed.js';

const LOGGER = ['error', 'warn'] as const;

/** A fresh Ed25519 private key per process: tokens only need to verify in the server that signed them. */
function signingKey() {
  return generateKeyPairSync('ed25519').privateKey;
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      console.log(JSON.stringify(message));
      resolve();
    } else process.send(message, undefined, undefined, () => resolve());
  });
}

async function seed(task: Extract<BenchTask, { mode: 'seed' }>): Promise<void> {
  const started = performance.now();
  await resetDatabase(task);
  const context: INestApplicationContext = await NestFactory.createApplicationContext(
    BenchAppModule.forRoot(task, 'off', signingKey()),
    { logger: [...LOGGER], abortOnError: false },
  );
  try {
    const seeded = await seedKeys(context.get(ApiKeyService), context.get(DataSource), task);
    await send({ type: 'seeded', ...seeded, seedMs: performance.now() - started });
  } finally {
    await context.close();
  }
}

async function serve(task: ServerConfig): Promise<void> {
  const module = BenchAppModule.forRoot(task, task.cache, signingKey(), task.redis);
  const options = { logger: [...LOGGER], abortOnError: false };
  const app: INestApplication =
    task.adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), options)
      : await NestFactory.create(module, options);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    await app.close();
    // A normal exit, so that `node --cpu-prof` writes its profile.
    process.exit(0);
  };
  process.on('message', (message) => {
    if (message === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  await send({ type: 'ready', port });
}

async function main(): Promise<void> {
  const task = JSON.parse(process.env.BENCH_TASK ?? 'null') as BenchTask | null;
  if (!task) throw new Error('BENCH_TASK is not set: this file is started by bench/run.js.');
  if (task.mode === 'seed') {
    await seed(task);
    process.exit(0);
  }
  await serve(task);
}

main().catch(async (error: unknown) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(`bench server failed: ${message}`);
  await send({ type: 'failed', message });
  process.exit(1);
});
