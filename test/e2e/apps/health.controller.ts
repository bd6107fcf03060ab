import { Controller, Get } from '@nestjs/common';
import { Public } from 'nestjs-keybridge';

/** A route the global guard must leave open. */
@Controller('health')
export class HealthController {
  @Get()
  @Public()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
