import 'reflect-metadata';
import type { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { rejectUnreadableUrl } from 'nestjs-keybridge';
import { AppModule, type SampleAppConfig } from './app.module.js';

export type HttpAdapterName = 'express' | 'fastify';

export interface CreateAppOptions extends SampleAppConfig {
  adapter?: HttpAdapterName;
  logger?: LogLevel[] | false;
}

/** Builds the sample app on Express (Nest's default) or Fastify, ready for `listen()`. */
export async function createApp(options: CreateAppOptions): Promise<INestApplication> {
  const { adapter = 'express', logger = ['log', 'warn', 'error'], ...config } = options;
  // Loaded only when asked for: the app runs without @nestjs/throttler installed.
  const throttling = config.throttle
    ? [(await import('./throttling.module.js')).ThrottlingModule.forRoot(config.throttle)]
    : [];
  const module = AppModule.forRoot(config, throttling);
  if (adapter === 'fastify') {
    return NestFactory.create(module, new FastifyAdapter({ frameworkErrors: rejectUnreadableUrl }), {
      logger,
      abortOnError: false,
    });
  }
  return NestFactory.create(module, { logger, abortOnError: false });
}
