import { Body, Controller, Get, Header, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import {
  ApiKeyService,
  ClientAddressResolver,
  Scopes,
  type ApiKeyView,
  type AuthenticatedRequest,
  type ChangeContext,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type UpdateApiKeyInput,
} from 'nestjs-keybridge';
import { invalidRequest, requireObject } from '../request-body.util.js';

/**
 * Key administration over HTTP, for holders of `keys:admin`. The new key is in the creation response only.
 * Each change is audited with the admin key's id and the client address.
 */
@Controller('keys')
@Scopes('keys:admin')
export class KeysAdminController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly addresses: ClientAddressResolver,
  ) {}

  @Post()
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  create(@Body() body: unknown, @Req() request: AuthenticatedRequest): Promise<CreatedApiKey> {
    return this.keys.create(requireObject(body) as unknown as CreateApiKeyInput, this.audit(request));
  }

  @Get()
  async list(
    @Query('subject') subject?: string,
    @Query('includeRevoked') includeRevoked?: string,
    @Query('limit') limit?: string,
    @Query('offset') offset?: string,
  ): Promise<{ keys: ApiKeyView[] }> {
    return {
      keys: await this.keys.list({
        subject,
        includeRevoked: includeRevoked === 'true',
        limit: toInteger(limit, 'limit'),
        offset: toInteger(offset, 'offset'),
      }),
    };
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.get(id);
  }

  @Patch(':id')
  update(
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<ApiKeyView> {
    return this.keys.update(id, requireObject(body) as UpdateApiKeyInput, this.audit(request));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  revoke(
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<ApiKeyView> {
    const reason = body && typeof body === 'object' ? (body as { reason?: unknown }).reason : undefined;
    if (reason !== undefined && typeof reason !== 'string') throw invalidRequest('reason must be a string.');
    return this.keys.revoke(id, reason, this.audit(request));
  }

  /** A new key replacing this one; the old one works for `grace` (default 24 h; 0 revokes it at once). */
  @Post(':id/rotate')
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  rotate(
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() request: AuthenticatedRequest,
  ): Promise<CreatedApiKey> {
    const grace = body && typeof body === 'object' ? (body as { grace?: unknown }).grace : undefined;
    if (grace !== undefined && typeof grace !== 'string' && typeof grace !== 'number') {
      throw invalidRequest('grace must be a duration such as "24h".');
    }
    return this.keys.rotate(id, { grace }, this.audit(request));
  }

  @Post(':id/disable')
  @HttpCode(200)
  disable(@Param('id') id: string, @Req() request: AuthenticatedRequest): Promise<ApiKeyView> {
    return this.keys.disable(id, this.audit(request));
  }

  @Post(':id/enable')
  @HttpCode(200)
  enable(@Param('id') id: string, @Req() request: AuthenticatedRequest): Promise<ApiKeyView> {
    return this.keys.enable(id, this.audit(request));
  }

  /** Who is making a change: the admin key (or the key behind the admin's token) and the client address. */
  private audit(request: AuthenticatedRequest): ChangeContext {
    return { ip: this.addresses.of(request), actor: request.user?.keyId };
  }
}

function toInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) throw invalidRequest(`${name} must be a whole number.`);
  return Number(value);
}
