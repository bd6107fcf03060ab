import type { QuotaHolder, QuotaRows } from './quota.rows.js';

/** Past `TAIL_SHARE × block` units left, an instance reserves at most `1 / TAIL_SHARE` of what is left. */
const TAIL_SHARE = 4;

/** Units of one key's quota this instance reserved from its row and has not spent yet. */
interface Lease {
  /** The quota epoch the units belong to: a refill or top-up after it voids them. */
  epoch: number;
  left: number;
  /** When the row was last found without enough units (`performance.now()`), to ask again only after a while. */
  emptyAt?: number;
}

/**
 * Quotas counted in this process's memory from blocks reserved in their row (a key's or an owner's): each reservation is one
 * `UPDATE … SET remaining = remaining - <block> WHERE remaining >= <block>`, so instances sharing the
 * database never reserve the same units and a quota is never overspent. Units reserved and not spent go back
 * to the row on shutdown; an instance that dies keeps at most one block from its customer (underspent,
 * never overspent). An instance may refuse while another still holds units (at most one block each, a
 * quarter of what was left near the end); the holder spends them on its next requests.
 */
export class QuotaLeases {
  private readonly leases = new Map<string, Lease>();
  private readonly reserving = new Map<string, Promise<boolean>>();

  constructor(
    private readonly rows: QuotaRows,
    /** Units reserved at a time. */
    private readonly block: number,
    /** How long a row found used up is believed without asking again, in ms. */
    private readonly recheckMs: number,
  ) {}

  /** Spends `cost` units of the key's quota; false when they are not left. */
  async spend(key: QuotaHolder, cost = 1): Promise<boolean> {
    for (;;) {
      const lease = this.leases.get(key.id);
      if (lease && lease.epoch >= key.quotaEpochMs) {
        if (lease.left >= cost) {
          lease.left -= cost;
          return true;
        }
        if (lease.emptyAt !== undefined && performance.now() - lease.emptyAt < this.recheckMs) return false;
      }
      let pending = this.reserving.get(key.id);
      if (!pending) {
        pending = this.reserve(key, cost).finally(() => this.reserving.delete(key.id));
        this.reserving.set(key.id, pending);
      }
      if (!(await pending)) return false;
    }
  }

  /** The units of the key this instance holds and has not spent, when they belong to quota epoch `epoch`. */
  held(keyId: string, epoch: number): number {
    const lease = this.leases.get(keyId);
    return lease && lease.epoch === epoch ? lease.left : 0;
  }

  /** Gives the key's unspent units back to its row and forgets them. */
  async release(keyId: string): Promise<void> {
    const lease = this.leases.get(keyId);
    this.leases.delete(keyId);
    if (lease && lease.left > 0) await this.rows.release(keyId, lease.left, lease.epoch);
  }

  /** Gives every unspent unit back (shutdown). */
  async releaseAll(): Promise<void> {
    for (const keyId of [...this.leases.keys()]) await this.release(keyId).catch(() => undefined);
  }

  /**
   * Reserves a block (or what is left, if less) for the key. Tries a full block at the epoch the key knows,
   * then reads the row and reserves what it holds; a reservation lost to another instance reads again.
   */
  private async reserve(key: QuotaHolder, cost: number): Promise<boolean> {
    const block = Math.max(this.block, cost);
    const known = this.leases.get(key.id);
    if (known && known.epoch >= key.quotaEpochMs && known.emptyAt === undefined) {
      if (await this.rows.reserve(key.id, block, known.epoch)) return this.add(key, known.epoch, block);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.rows.read(key.id);
      if (!row || row.remaining === null) return false;
      key.quotaEpochMs = Math.max(key.quotaEpochMs, row.epoch);
      // Near the end, a quarter of what is left: few units sit idle in one instance while another runs out.
      const units = Math.min(block, Math.max(cost, Math.ceil(row.remaining / TAIL_SHARE)), row.remaining);
      if (units < cost) {
        this.leases.set(key.id, {
          epoch: row.epoch,
          left: this.held(key.id, row.epoch),
          emptyAt: performance.now(),
        });
        return false;
      }
      if (await this.rows.reserve(key.id, units, row.epoch)) return this.add(key, row.epoch, units);
    }
    return false;
  }

  private add(key: QuotaHolder, epoch: number, units: number): true {
    const lease = this.leases.get(key.id);
    if (lease && lease.epoch === epoch) {
      lease.left += units;
      lease.emptyAt = undefined;
    } else this.leases.set(key.id, { epoch, left: units });
    return true;
  }
}
