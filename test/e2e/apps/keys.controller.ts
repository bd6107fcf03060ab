import { Body, Controller, Get, Header, HttpCode, Param, Post, Req } from '@nestjs/common';
import {
  ApiKeyService,
  ClientAddressResolver,
  Scopes,
  type ApiKeyView,
  type AuthenticatedRequest,
  type CreateApiKeyInput,
  type CreatedApiKey,
} from 'nestjs-keybridge';

/** Routes under a class-level scope, so that a request needs the scopes of class and handler together. */
@Controller('keys')
@Scopes('keys:admin')
export class KeysController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly addresses: ClientAddressResolver,
  ) {}

  @Get()
  async list(): Promise<{ keys: ApiKeyView[] }> {
    return { keys: await this.keys.list({}) };
  }

  @Post()
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  create(@Body() body: CreateApiKeyInput, @Req() request: AuthenticatedRequest): Promise<CreatedApiKey> {
    return this.keys.create(body, this.audit(request));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  revoke(
    @Param('id') id: string,
    @Body() body: { reason?: string } | undefined,
    @Req() request: AuthenticatedRequest,
  ): Promise<ApiKeyView> {
    return this.keys.revoke(id, body?.reason, this.audit(request));
  }

  private audit(request: AuthenticatedRequest) {
    return { ip: this.addresses.of(request), actor: request.user?.keyId };
  }
}
