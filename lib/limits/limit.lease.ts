import { AuthUnavailableError } from '../errors/index.js';
import type { LimitDecision } from './limit.types.js';

/** Reservations one request may wait for before it gives up (each outlived by other requests' demand). */
const MAX_REFILLS = 5;

/** What a reservation in the shared store answered: the decision, and the units it set aside. */
export interface Reservation {
  decision: LimitDecision;
  granted: number;
}

interface Block {
  /** Units reserved in the shared store and not admitted yet. */
  units: number;
  /** The block may be spent until then: a window after it was asked for, before its units leave the log. */
  expiresAt: number;
  /** The answer that reserved it, for the headers of the requests it admits. */
  reserved?: LimitDecision;
  /** The store refused until then: refusing locally meanwhile admits nothing it would have admitted. */
  refusedUntil: number;
  refusal?: LimitDecision;
  /** The reservation in flight: one at a time per counter, so an instance holds at most one block. */
  pending?: Promise<void>;
}

/**
 * Leased fast mode: each instance reserves blocks of `lease` units in the shared sliding logs (one atomic
 * script, the same one as the exact mode) and admits requests from its block without a round trip. A block
 * is spent within one window of being asked for, and an instance holds one block per counter at a time, so
 * in any interval of the window every instance can admit at most `lease` units reserved before the interval
 * plus its share of at most `limit` units reserved within it: admitted ≤ limit + instances × lease.
 */
export class LeaseBook {
  private readonly blocks = new Map<string, Block>();

  constructor(
    readonly lease: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Admits `cost` units from the counter's block, reserving a new block through `reserve` when it is empty;
   * `windowMs` is the shortest window of the counter's limits. A failure of `reserve` reaches every request
   * waiting for it.
   */
  async take(
    counter: string,
    cost: number,
    windowMs: number,
    reserve: (want: number) => Promise<Reservation>,
  ): Promise<LimitDecision> {
    let block = this.blocks.get(counter);
    if (!block) {
      block = { units: 0, expiresAt: 0, refusedUntil: 0 };
      this.blocks.set(counter, block);
    }
    for (let refills = 0; ; refills++) {
      const now = this.now();
      if (block.units >= cost && now < block.expiresAt) {
        block.units -= cost;
        return admitted(block.reserved!, block.units);
      }
      if (block.refusal && now < block.refusedUntil) return block.refusal;
      if (refills === MAX_REFILLS) throw new AuthUnavailableError(new Error('no leased block could be kept'));
      if (!block.pending) block.pending = this.refill(block, cost, windowMs, reserve);
      await block.pending;
      // A refusal answers every request that waited for it; admitted units go to whoever comes first.
      if (block.refusal && this.now() < block.refusedUntil && block.units < cost) return block.refusal;
    }
  }

  /** Forgets blocks whose window has passed (their units are gone anyway). */
  sweep(): void {
    const now = this.now();
    for (const [counter, block] of this.blocks) {
      if (!block.pending && block.expiresAt <= now && block.refusedUntil <= now) this.blocks.delete(counter);
    }
  }

  private async refill(
    block: Block,
    cost: number,
    windowMs: number,
    reserve: (want: number) => Promise<Reservation>,
  ): Promise<void> {
    const askedAt = this.now();
    try {
      const { decision, granted } = await reserve(Math.max(this.lease, cost));
      if (decision.allowed) {
        // What is left of the old block is dropped: one block at a time keeps the bound.
        block.units = granted;
        block.expiresAt = askedAt + windowMs;
        block.reserved = decision;
        block.refusal = undefined;
      } else {
        block.units = 0;
        block.refusal = decision;
        block.refusedUntil = askedAt + Math.max(1, (decision.refused?.resetSeconds ?? 0) * 1000);
      }
    } finally {
      block.pending = undefined;
    }
  }
}

/** The reserving answer with the block's unspent units counted as remaining: this instance may still admit them. */
function admitted(reserved: LimitDecision, unspent: number): LimitDecision {
  return {
    allowed: true,
    states: reserved.states.map((state) => ({ ...state, remaining: state.remaining + unspent })),
  };
}
