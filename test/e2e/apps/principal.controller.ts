import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiKeyGuard, ApiKeyPassportGuard, CurrentPrincipal, Scopes, type Principal } from 'nestjs-keybridge';

/** Routes that hand back the principal a guard attached, guarded per route by each of the module's guards. */
@Controller('principal')
export class PrincipalController {
  @Get()
  @UseGuards(ApiKeyGuard)
  @Scopes('things:read')
  guarded(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }

  @Get('write')
  @UseGuards(ApiKeyGuard)
  @Scopes('things:write')
  write(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }

  @Get('passport')
  @UseGuards(ApiKeyPassportGuard)
  @Scopes('things:read')
  passport(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }

  @Get('passport/write')
  @UseGuards(ApiKeyPassportGuard)
  @Scopes('things:write')
  passportWrite(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }
}
