import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { KeybridgeHealthProbe, type KeybridgeHealthReport } from './keybridge.health-probe.js';

/**
 * A `@nestjs/terminus` health indicator for the module: the key store, the denylist (fresh or stale) and
 * Redis when configured. Down, Terminus answers 503 naming the part in `failed`:
 * `{ keybridge: { status: 'down', keyStore: 'down', denylist: 'stale', failed: ['keyStore', 'denylist'] } }`.
 * Provide it beside `TerminusModule` and call `isHealthy()` from a `HealthCheckService.check()`.
 *
 * @publicApi
 */
@Injectable()
export class KeybridgeHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly probe: KeybridgeHealthProbe,
  ) {}

  async isHealthy<const Key extends string = 'keybridge'>(
    key: Key = 'keybridge' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.health.check(key);
    const report = await this.probe.check();
    if (KeybridgeHealthProbe.healthy(report)) return indicator.up({ ...report });
    return indicator.down({ ...report, failed: failedParts(report) });
  }
}

function failedParts(report: KeybridgeHealthReport): string[] {
  const failed: string[] = [];
  if (report.keyStore === 'down') failed.push('keyStore');
  if (report.denylist === 'stale') failed.push('denylist');
  if (report.redis === 'down') failed.push('redis');
  return failed;
}
