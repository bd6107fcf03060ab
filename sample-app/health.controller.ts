import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from 'nestjs-keybridge';
import { KeybridgeHealthIndicator } from 'nestjs-keybridge/health';

/** Readiness: 200 while keys can be checked and revocations are current, 503 naming the part that is not. */
@Controller('health')
export class HealthController {
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
