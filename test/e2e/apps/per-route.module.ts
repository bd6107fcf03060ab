import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyModule, type ApiKeyModuleExtras, type ApiKeyModuleOptions } from 'nestjs-keybridge';
import { fixtureDatabase } from './database.options.js';
import { PrincipalController } from './principal.controller.js';

/** No global guard: each route names `ApiKeyGuard` or `ApiKeyPassportGuard` itself. */
@Module({})
export class PerRouteAppModule {
  static forRoot(
    databaseUrl: string,
    keybridge: ApiKeyModuleOptions & Pick<ApiKeyModuleExtras, 'oauth'>,
  ): DynamicModule {
    return {
      module: PerRouteAppModule,
      imports: [TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)), ApiKeyModule.forRoot(keybridge)],
      controllers: [PrincipalController],
    };
  }
}
