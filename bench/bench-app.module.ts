import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyModule } from 'nestjs-keybridge';
import { BENCH_PEPPER, benchDatabaseOptions, type CacheMode, type DatabaseTarget } from './bench.config.js';
import { BenchController } from './bench.controller.js';

/**
 * The fixture app: the app's own TypeORM data source, the module with its global guard, and one controller.
 * `cache: 'off'` turns the verified-key cache off, so every guarded request costs one indexed query.
 */
@Module({})
export class BenchAppModule {
  static forRoot(target: DatabaseTarget, cache: CacheMode): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [
        TypeOrmModule.forRoot(benchDatabaseOptions(target)),
        ApiKeyModule.forRoot({
          pepper: BENCH_PEPPER,
          globalGuard: true,
          ...(cache === 'off' ? { cache: false } : {}),
        }),
      ],
      controllers: [BenchController],
    };
  }
}
