import type { Cluster, Redis } from 'ioredis';
import type { RateLimitState } from '../errors/index.js';
import { storeCall } from '../common/store-call.util.js';
import { ThrottledLogger } from '../common/throttled.logger.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import type { RedisOutagePolicy } from '../interfaces/redis-options.interface.js';
import { LeaseBook, type Reservation } from './limit.lease.js';
import type { LimitCounter, LimitDecision, LimitState, NamedLimit, StoreAnswer } from './limit.types.js';
import { MemoryLimitStore, type CounterLimit } from './sliding-window.memory.js';
import { SlidingWindowScript } from './sliding-window.script.js';

export interface RateLimitDecision extends RateLimitState {
  allowed: boolean;
}

export interface KeyRateLimiterOptions {
  /** Counters shared by every instance; without it they live in this process's memory. */
  redis?: RedisConnection | null;
  /** How long a Redis call may take before it counts as failed. */
  timeoutMs: number;
  /** When Redis fails: 503 (`AuthUnavailableError`), or count locally until it is back. Default the connection's. */
  onOutage?: RedisOutagePolicy;
  /** With Redis, reserve blocks of this many units per instance and admit from them locally (leased mode). */
  lease?: number;
}

const SWEEP_EVERY = 10_000;

/**
 * Exact sliding-window limits (and smooth GCRA ones), in memory or shared through Redis, where each limit of
 * a counter is `<prefix>rl:{<namespace>:<id>}:<name>` (a sorted set, one member per unit in the window;
 * `…:<name>:smooth` for a smooth limit's next arrival time), expiring a window after its last unit. The
 * `{…}` hash tag puts every limit of one counter in one Redis Cluster slot, so one script checks them all.
 */
export class KeyRateLimiter {
  private readonly local = new MemoryLimitStore();
  private readonly leases: LeaseBook | undefined;
  private readonly logger = new ThrottledLogger('Keybridge');
  private readonly onOutage: RedisOutagePolicy;
  private readonly script: SlidingWindowScript | undefined;
  private checks = 0;

  constructor(
    /** Keeps the counters of different uses apart: `requests`, `tokens`, `failed-auth`. */
    private readonly namespace: string,
    private readonly options: KeyRateLimiterOptions,
  ) {
    this.onOutage = options.onOutage ?? options.redis?.onOutage ?? 'fail-closed';
    if (options.redis && options.lease) this.leases = new LeaseBook(options.lease);
    if (options.redis) this.script = new SlidingWindowScript(options.redis.client as Redis | Cluster);
  }

  /**
   * Counts one hit for `id` against one sliding limit. Throws `AuthUnavailableError` when the shared counter
   * cannot be reached and the policy is to fail closed.
   */
  async consume(id: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const named: NamedLimit = { name: 'default', limit, windowSeconds, policy: 'sliding' };
    const decision = await this.check([{ id, scope: 'key', limits: [named] }], 1);
    const state = decision.states[0];
    return { allowed: decision.allowed, limit, remaining: state.remaining, resetSeconds: state.resetSeconds };
  }

  /**
   * Takes `cost` units from every limit of every counter, or from none when one of them refuses (all in one
   * Redis round trip, except on a Redis Cluster, where each counter is its own call and a counter checked
   * after a refusing one is not counted, but one checked before it is). A cost above a limit is refused
   * without counting anything.
   */
  async check(counters: readonly LimitCounter[], cost = 1): Promise<LimitDecision> {
    const entries = counters.flatMap((counter) =>
      counter.limits.map((limit) => ({ counter, limit, counterId: `${this.namespace}:${counter.id}` })),
    );
    const tooCostly = entries.find(({ limit }) => cost > limit.limit);
    if (tooCostly) {
      const states = entries.map(({ counter, limit }) => stateOf(counter, limit, limit.limit, 0));
      const refused = states[entries.indexOf(tooCostly)];
      refused.resetSeconds = refused.windowSeconds;
      return { allowed: false, states, refused, tooCostly: true };
    }
    const redis = this.options.redis;
    if (!redis) return decisionOf(entries, this.local.take(entries, cost));
    try {
      if (this.leases && entries.every(({ limit }) => limit.policy === 'sliding')) {
        if (++this.checks % SWEEP_EVERY === 0) this.leases.sweep();
        const windowMs = Math.min(...entries.map(({ limit }) => limit.windowSeconds * 1000));
        const signature = entries.map(({ counterId, limit }) => `${counterId}:${limit.name}`).join('\n');
        return await this.leases.take(signature, cost, windowMs, (want) =>
          storeCall(this.options.timeoutMs, () => this.reserve(redis, entries, cost, want)),
        );
      }
      return await storeCall(
        this.options.timeoutMs,
        async () => (await this.reserve(redis, entries, cost, cost)).decision,
      );
    } catch (error) {
      if (this.onOutage === 'fail-closed') throw error;
      this.logger.warn(
        `Redis is unreachable; counting ${this.namespace} limits in this instance's memory until it is back.`,
      );
      return decisionOf(entries, this.local.take(entries, cost));
    }
  }

  /** One script for all the limits, or one per counter on a Cluster, stopping at the first refusal. */
  private async reserve(
    redis: RedisConnection,
    entries: Entry[],
    cost: number,
    want: number,
  ): Promise<Reservation> {
    const script = this.script!;
    const keys = entries.map(({ counterId, limit }) => redis.key(limitKey(counterId, limit)));
    if (!(redis.client as unknown as Cluster).isCluster) {
      const answer = await script.run(
        keys,
        entries.map(({ limit }) => limit),
        cost,
        want,
      );
      return { decision: decisionOf(entries, answer), granted: answer.granted };
    }
    const answer: StoreAnswer = { refused: -1, granted: want, remaining: [], resetMs: [] };
    for (let start = 0; start < entries.length;) {
      let end = start + 1;
      while (end < entries.length && entries[end].counterId === entries[start].counterId) end++;
      const limits = entries.slice(start, end).map(({ limit }) => limit);
      const part = await script.run(keys.slice(start, end), limits, cost, want);
      answer.remaining.push(...part.remaining);
      answer.resetMs.push(...part.resetMs);
      if (part.refused >= 0) {
        answer.refused = start + part.refused;
        answer.granted = 0;
        break;
      }
      answer.granted = Math.min(answer.granted, part.granted);
      want = answer.granted;
      start = end;
    }
    const checked = entries.slice(0, answer.remaining.length);
    return { decision: decisionOf(checked, answer), granted: answer.granted };
  }
}

interface Entry extends CounterLimit {
  counter: LimitCounter;
}

/** The Redis key of one limit of a counter: the counter id is the hash tag. */
function limitKey(counterId: string, limit: NamedLimit): string {
  return `rl:{${counterId}}:${limit.name}${limit.policy === 'smooth' ? ':smooth' : ''}`;
}

function stateOf(counter: LimitCounter, limit: NamedLimit, remaining: number, resetMs: number): LimitState {
  return {
    name: limit.name,
    scope: counter.scope,
    policy: limit.policy,
    limit: limit.limit,
    windowSeconds: limit.windowSeconds,
    remaining,
    resetSeconds: Math.max(0, resetMs) / 1000,
  };
}

function decisionOf(entries: readonly Entry[], answer: StoreAnswer): LimitDecision {
  const states = entries.map(({ counter, limit }, i) =>
    stateOf(counter, limit, answer.remaining[i], answer.resetMs[i]),
  );
  if (answer.refused < 0) return { allowed: true, states };
  return { allowed: false, states, refused: states[answer.refused] };
}
