import { Controller, Get, Header, Inject } from '@nestjs/common';
import { Public } from 'nestjs-keybridge';
import { Counter, Registry } from 'prom-client';

export const METRICS = Symbol('SAMPLE_METRICS');

/** The app's Prometheus registry and the counter the keybridge audit events feed. */
export class SampleMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'keybridge_events_total',
    help: 'Keybridge audit events by type and reason (authentication failures, rate limits, keys, tokens).',
    labelNames: ['type', 'reason'],
    registers: [this.registry],
  });
}

/** `GET /metrics` in the Prometheus text format. Public here for the demo; put it behind your network. */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS) private readonly metrics: SampleMetrics) {}

  @Get()
  @Public()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
