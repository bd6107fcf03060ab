import { Controller, Get } from '@nestjs/common';
import { Public, Scopes } from 'nestjs-keybridge';
import { BENCH_SCOPE } from './bench.config.js';

const BODY = Object.freeze({ ok: true, service: 'bench' });

/** Two routes that differ only in the guard: the ratio of their throughput is the guard's cost. */
@Controller()
export class BenchController {
  @Get('unguarded')
  @Public()
  unguarded(): typeof BODY {
    return BODY;
  }

  @Get('guarded')
  @Scopes(BENCH_SCOPE)
  guarded(): typeof BODY {
    return BODY;
  }
}
