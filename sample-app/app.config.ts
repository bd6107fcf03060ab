import type { SigningAlgorithm } from 'nestjs-keybridge';
import type { SampleAppConfig } from './app.module.js';
import { loadSecrets } from './dev-secrets.js';
import { redisFromEnvironment } from './redis.config.js';

/** The sample app's configuration from its environment variables, as the server and the keys CLI read it. */
export function configFromEnvironment(port = Number(process.env.PORT ?? 3000)): SampleAppConfig {
  const { pepper, signingKey } = loadSecrets();
  return {
    databaseUrl: process.env.DATABASE_URL,
    pepper,
    signingKey,
    signingAlgorithm: process.env.KEYBRIDGE_SIGNING_ALG as SigningAlgorithm | undefined,
    issuer: process.env.KEYBRIDGE_ISSUER ?? `http://localhost:${port}`,
    redis: redisFromEnvironment(),
    redisKeyPrefix: process.env.KEYBRIDGE_REDIS_PREFIX || undefined,
  };
}
