import { BadRequestException, Body, Controller, Get, HttpCode, Injectable, Post } from '@nestjs/common';
import { Cost, CurrentPrincipal, Scopes, type Principal } from 'nestjs-keybridge';

export interface Order {
  id: number;
  item: string;
  quantity: number;
  placedBy: string;
  createdAt: string;
}

/**
 * The orders of one app, kept in memory: the routes never touch the database, so what a guarded request
 * answers during a database outage is the guard's doing alone.
 */
@Injectable()
export class OrderBook {
  private readonly orders: Order[] = [];

  list(placedBy: string): Order[] {
    return this.orders.filter((order) => order.placedBy === placedBy).reverse();
  }

  place(item: string, quantity: number, placedBy: string): Order {
    const order = {
      id: this.orders.length + 1,
      item,
      quantity,
      placedBy,
      createdAt: new Date().toISOString(),
    };
    this.orders.push(order);
    return order;
  }
}

/** A 400 in the library's `{ statusCode, error, message, code }` shape. */
function invalidRequest(message: string): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message, code: 'invalid_request' });
}

/**
 * A resource read with `orders:read` and written with `orders:write`, listed per principal subject. A body it
 * refuses answers 400 only after the guard admitted the request, which tells a test the guard said yes.
 */
@Controller('orders')
export class OrdersController {
  constructor(private readonly book: OrderBook) {}

  @Get()
  @Scopes('orders:read')
  list(@CurrentPrincipal() principal: Principal): { orders: Order[] } {
    return { orders: this.book.list(principal.subject) };
  }

  /** An expensive read: it spends 5 units of every rate limit of the key. */
  @Post('export')
  @HttpCode(200)
  @Scopes('orders:read')
  @Cost(5)
  export(@CurrentPrincipal() principal: Principal): { orders: Order[] } {
    return { orders: this.book.list(principal.subject) };
  }

  @Post()
  @HttpCode(201)
  @Scopes('orders:write')
  place(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Order {
    const { item, quantity } = (body ?? {}) as { item?: unknown; quantity?: unknown };
    if (typeof item !== 'string' || item.trim() === '')
      throw invalidRequest('item must be a non-empty string.');
    if (!Number.isInteger(quantity) || (quantity as number) < 1) {
      throw invalidRequest('quantity must be a positive whole number.');
    }
    return this.book.place(item.trim(), quantity as number, principal.subject);
  }
}
