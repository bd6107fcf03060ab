import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { Order } from './order.entity.js';

@Injectable()
export class OrdersService {
  constructor(@InjectRepository(Order) private readonly orders: Repository<Order>) {}

  list(placedBy: string): Promise<Order[]> {
    return this.orders.find({ where: { placedBy }, order: { id: 'DESC' }, take: 100 });
  }

  async place(item: string, quantity: number, placedBy: string): Promise<Order> {
    const order = this.orders.create({ item, quantity, placedBy, createdAt: new Date() });
    return this.orders.save(order);
  }
}
