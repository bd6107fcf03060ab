#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { InvalidOptionsError, KeybridgeError } from '../errors/index.js';
import { ApiKeyService } from '../keys/api-key.service.js';
import { loadAppModule, locateAppModule, ModuleLoadError } from './app-module.loader.js';
import { parseCommandLine, USAGE, UsageError } from './cli.arguments.js';
import { printResult, routeConsoleToStderr, StderrLogger } from './cli.output.js';
import { runKeysCommand } from './keys.commands.js';
import { runSubjectLimitsCommand } from './subject-limits.commands.js';
import { SubjectLimitsService } from '../keys/subject-limits.service.js';

/**
 * `keybridge keys <command>` and `keybridge subject-limits <command>`: administers the keys (and their
 * owners' limits) of the app whose root module it boots, as a Nest
 * application context (no HTTP server), with the app's own options. Exit codes: 0 done, 1 refused or failed,
 * 2 bad usage.
 */
async function main(argv: readonly string[]): Promise<number> {
  routeConsoleToStderr();
  const line = parseCommandLine(argv);
  if (line.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const module = await loadAppModule(
    locateAppModule(line.values.module as string | undefined, process.env, process.cwd()),
  );
  const app = await NestFactory.createApplicationContext(module, {
    logger: new StderrLogger(process.env.KEYBRIDGE_CLI_VERBOSE === '1'),
    abortOnError: false,
  });
  try {
    const result =
      line.group === 'subject-limits'
        ? await runSubjectLimitsCommand(app.get(SubjectLimitsService, { strict: false }), line)
        : await runKeysCommand(apiKeyServiceOf(app), line);
    printResult(line.values.json === true, result.value, result.text);
    return 0;
  } finally {
    // Writes pending usage counts and closes the app's connections, as its own shutdown would.
    await app.close();
  }
}

function apiKeyServiceOf(app: INestApplicationContext): ApiKeyService {
  try {
    return app.get(ApiKeyService, { strict: false });
  } catch {
    throw new ModuleLoadError(
      'The app module does not provide ApiKeyService: import ApiKeyModule.forRoot() in it. (If it does, the ' +
        'app and this command use two different copies of nestjs-keybridge: run the one in the app, npx keybridge.)',
    );
  }
}

/** One line on stderr: never a stack trace, never a key (no error message of the library carries one). */
function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (error instanceof KeybridgeError || error instanceof InvalidOptionsError) {
    process.stderr.write(`Error (${error.code}): ${error.message}\n`);
  } else if (error instanceof ModuleLoadError) {
    process.stderr.write(`Error: ${error.message}\n`);
  } else {
    process.stderr.write(`Error: ${(error as Error)?.message ?? String(error)}\n`);
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(report(error)),
);
