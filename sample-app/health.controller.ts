import { Controller, Get } from '@nestjs/common';
import { Public } from 'nestjs-keybridge';

@Controller('health')
export class HealthController {
  @Get()
  @Public()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
