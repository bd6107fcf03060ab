import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyModule, type ApiKeyModuleExtras, type ApiKeyModuleOptions } from 'nestjs-keybridge';
import { fixtureDatabase } from './database.options.js';
import { HealthController } from './health.controller.js';
import { KeysController } from './keys.controller.js';
import { OrderBook, OrdersController } from './orders.controller.js';

/** The module's guard on every route (`globalGuard: true`), routes opting out with `@Public()`. */
@Module({})
export class GlobalGuardAppModule {
  static forRoot(
    databaseUrl: string,
    keybridge: ApiKeyModuleOptions & Pick<ApiKeyModuleExtras, 'oauth'>,
  ): DynamicModule {
    return {
      module: GlobalGuardAppModule,
      imports: [
        TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)),
        ApiKeyModule.forRoot({ ...keybridge, globalGuard: true }),
      ],
      controllers: [OrdersController, KeysController, HealthController],
      providers: [OrderBook],
    };
  }
}
