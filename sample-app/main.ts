import { Logger } from '@nestjs/common';
import type { SigningAlgorithm } from 'nestjs-keybridge';
import { createApp, type HttpAdapterName } from './app.factory.js';
import { loadSecrets } from './dev-secrets.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const adapter = (process.env.HTTP_ADAPTER ?? 'express') as HttpAdapterName;
  const { pepper, signingKey } = loadSecrets();
  const app = await createApp({
    adapter,
    databaseUrl: process.env.DATABASE_URL,
    pepper,
    signingKey,
    signingAlgorithm: process.env.KEYBRIDGE_SIGNING_ALG as SigningAlgorithm | undefined,
    issuer: process.env.KEYBRIDGE_ISSUER ?? `http://localhost:${port}`,
    redisUrl: process.env.REDIS_URL || undefined,
    redisKeyPrefix: process.env.KEYBRIDGE_REDIS_PREFIX || undefined,
    throttle: process.env.THROTTLE_LIMIT
      ? {
          limit: Number(process.env.THROTTLE_LIMIT),
          windowMs: Number(process.env.THROTTLE_WINDOW_MS ?? 60_000),
        }
      : undefined,
  });
  app.enableShutdownHooks();
  await app.listen(port, '0.0.0.0');
  new Logger('SampleApp').log(`Listening on http://localhost:${port} (${adapter})`);
}

main().catch((error: unknown) => {
  console.error(`Could not start: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
});
