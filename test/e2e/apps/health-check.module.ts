import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyModule, Public } from 'nestjs-keybridge';
import { KeybridgeHealthIndicator } from 'nestjs-keybridge/health';
import type { KeybridgeOptions } from '../support/app-starter.js';
import { fixtureDatabase } from './database.options.js';

/** A Terminus readiness route made of the module's indicator alone. */
@Controller('ready')
export class ReadinessController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly keybridge: KeybridgeHealthIndicator,
  ) {}

  @Get()
  @Public()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.keybridge.isHealthy()]);
  }
}

/** The key guard on every route, and `GET /ready` through `@nestjs/terminus`. */
@Module({})
export class HealthCheckAppModule {
  static forRoot(databaseUrl: string, keybridge: KeybridgeOptions): DynamicModule {
    return {
      module: HealthCheckAppModule,
      imports: [
        TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)),
        ApiKeyModule.forRoot({ ...keybridge, globalGuard: true }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [ReadinessController],
      providers: [KeybridgeHealthIndicator],
    };
  }
}
