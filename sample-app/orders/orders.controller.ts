import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { Cost, CurrentPrincipal, Scopes, type Principal } from 'nestjs-keybridge';
import { invalidRequest, requireObject } from '../request-body.util.js';
import type { Order } from './order.entity.js';
import { OrdersService } from './orders.service.js';

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Get()
  @Scopes('orders:read')
  async list(@CurrentPrincipal() principal: Principal): Promise<{ orders: Order[] }> {
    return { orders: await this.orders.list(principal.subject) };
  }

  /** Every order of the caller at once: an expensive report, so it spends 5 units of each rate limit. */
  @Post('export')
  @HttpCode(200)
  @Scopes('orders:read')
  @Cost(5)
  async export(@CurrentPrincipal() principal: Principal): Promise<{ orders: Order[] }> {
    return { orders: await this.orders.list(principal.subject) };
  }

  @Post()
  @HttpCode(201)
  @Scopes('orders:write')
  place(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<Order> {
    const { item, quantity } = requireObject(body);
    if (typeof item !== 'string' || item.trim() === '' || item.length > 200) {
      throw invalidRequest('item must be a non-empty string of at most 200 characters.');
    }
    if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 10_000) {
      throw invalidRequest('quantity must be a whole number from 1 to 10000.');
    }
    return this.orders.place(item.trim(), quantity as number, principal.subject);
  }
}
