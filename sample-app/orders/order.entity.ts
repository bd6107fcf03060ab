import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'sample_orders' })
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  item!: string;

  @Column({ type: 'integer' })
  quantity!: number;

  /** The subject of the key that placed the order. */
  @Index('IDX_sample_orders_placed_by')
  @Column({ name: 'placed_by', type: 'varchar', length: 200 })
  placedBy!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
