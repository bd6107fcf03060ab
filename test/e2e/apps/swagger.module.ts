import { Body, Controller, Get, Module, Post, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  ApiKeyModule,
  CurrentPrincipal,
  Public,
  Scopes,
  type ApiKeyModuleExtras,
  type ApiKeyModuleOptions,
  type Principal,
} from 'nestjs-keybridge';
import { fixtureDatabase } from './database.options.js';
import {
  AdminListingController,
  PerRouteController,
  PublicListingController,
} from './route-guards.controllers.js';

/** A catalogue whose reads and writes need different scopes, with one public route. */
@Controller('catalog')
@Scopes('catalog:read')
export class CatalogController {
  @Get()
  list(@CurrentPrincipal() principal: Principal): { items: string[]; subject: string } {
    return { items: ['lamp', 'desk'], subject: principal.subject };
  }

  @Post()
  @Scopes('catalog:write')
  add(@Body() body: { item?: string }): { added: string } {
    return { added: String(body?.item ?? '') };
  }

  @Get('featured')
  @Public()
  featured(): { items: string[] } {
    return { items: ['lamp'] };
  }
}

export interface SwaggerAppOptions {
  /** The module's guard on every route; otherwise only the per-route guards of `PerRouteController` apply. */
  globalGuard: boolean;
}

/**
 * An app for the OpenAPI document: with the global guard, the catalogue and two controllers sharing an
 * inherited handler; without it, the routes guarded one by one (the catalogue is then unguarded).
 */
@Module({})
export class SwaggerAppModule {
  static forRoot(
    databaseUrl: string,
    keybridge: ApiKeyModuleOptions & Pick<ApiKeyModuleExtras, 'oauth'>,
    { globalGuard }: SwaggerAppOptions,
  ): DynamicModule {
    return {
      module: SwaggerAppModule,
      imports: [
        TypeOrmModule.forRoot(fixtureDatabase(databaseUrl)),
        ApiKeyModule.forRoot({ ...keybridge, globalGuard }),
      ],
      controllers: globalGuard
        ? [CatalogController, PublicListingController, AdminListingController]
        : [CatalogController, PerRouteController],
    };
  }
}
