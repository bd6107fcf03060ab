import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { HealthController } from './health.controller.js';
import { KeyThrottlerGuard } from './key-throttler.guard.js';

export interface ThrottleConfig {
  /** Requests per tracker (key, or client address) and route in each window. */
  limit: number;
  windowMs: number;
}

/**
 * The app-wide throttler. Nest runs the root module's `APP_GUARD`s first, then those of the modules it
 * imports, in import order: imported after `ApiKeyModule` (whose `globalGuard` is one of those), the throttler
 * runs after the key guard and can count per key.
 */
@Module({})
export class ThrottlingModule {
  static forRoot(config: ThrottleConfig): DynamicModule {
    return {
      module: ThrottlingModule,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [{ ttl: config.windowMs, limit: config.limit }],
          // Probes are never throttled: an orchestrator polling /health must not take the app out of service.
          skipIf: (context) => context.getClass() === HealthController,
        }),
      ],
      providers: [{ provide: APP_GUARD, useClass: KeyThrottlerGuard }],
    };
  }
}
