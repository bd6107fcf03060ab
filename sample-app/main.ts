import { Logger } from '@nestjs/common';
import { configFromEnvironment } from './app.config.js';
import { createApp, type HttpAdapterName } from './app.factory.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const adapter = (process.env.HTTP_ADAPTER ?? 'express') as HttpAdapterName;
  const app = await createApp({
    adapter,
    ...configFromEnvironment(port),
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
