import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { NamedLimit, StoreAnswer } from './limit.types.js';

/**
 * Checks of several limits, each atomic, in one script run on Redis's own clock (`TIME`) so every instance
 * agrees. ARGV[1] is the number of checks; each check then gives its number of limits `n`, its cost, the units
 * it wants (the cost, or a lease's size) and per limit its size, window (ms) and policy (`w` sliding log, `s`
 * smooth GCRA); its `n` keys follow the previous check's in KEYS. One check's keys share one hash slot.
 *
 * A sliding limit is a sorted set of one member per unit, scored by its time in µs: entries older than the
 * window are dropped, and the units are added only if every limit of the check has room (all-or-nothing). A
 * member is `<µs>:<count before + i>`, unique even for two checks in one microsecond: the second sees the
 * first's members. A smooth limit is the theoretical arrival time of the next unit (µs), admitted when it is
 * not in the future. Answers, per check: refusing limit (1-based, 0 for none), units granted, then per limit
 * the units left and ms until units come back (until enough of them do for this cost, when refused).
 */
export const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = t[1] .. string.format('%06d', tonumber(t[2]))
local answer = {}
local k, a = 0, 2
for r = 1, tonumber(ARGV[1]) do
  local n, cost, grant = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local base = a + 3
  local counts, waits = {}, {}
  local refused, longest = 0, 0
  for i = 1, n do
    local key = KEYS[k + i]
    local at = base + (i - 1) * 3
    local size, window = tonumber(ARGV[at]), tonumber(ARGV[at + 1]) * 1000
    local wait = 0
    if ARGV[at + 2] == 's' then
      local tat = tonumber(redis.call('GET', key) or '0')
      counts[i] = tat
      if tat > now then wait = tat - now end
      if grant > cost then grant = cost end
    else
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
      local count = redis.call('ZCARD', key)
      counts[i] = count
      if size - count < cost then
        local nth = redis.call('ZRANGE', key, count + cost - size - 1, count + cost - size - 1, 'WITHSCORES')
        wait = tonumber(nth[2]) + window - now
        if wait < 1 then wait = 1 end
      elseif size - count < grant then
        grant = size - count
      end
    end
    waits[i] = wait
    if wait > longest then refused, longest = i, wait end
  end
  if refused > 0 then grant = 0 end
  answer[#answer + 1] = refused
  answer[#answer + 1] = grant
  for i = 1, n do
    local key = KEYS[k + i]
    local at = base + (i - 1) * 3
    local size, window = tonumber(ARGV[at]), tonumber(ARGV[at + 1]) * 1000
    local left, reset
    if ARGV[at + 2] == 's' then
      local tat = counts[i]
      if grant > 0 then
        if tat < now then tat = now end
        tat = tat + grant * window / size
        redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
      end
      if tat > now then left, reset = 0, tat - now else left, reset = 1, 0 end
    else
      local count = counts[i]
      if grant > 0 then
        local members = {}
        for j = 1, grant do
          members[#members + 1] = now
          members[#members + 1] = stamp .. ':' .. (count + j)
          if #members >= 400 or j == grant then
            redis.call('ZADD', key, unpack(members))
            members = {}
          end
        end
        redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1)
        count = count + grant
      end
      left = size - count
      if left < 0 then left = 0 end
      if waits[i] > 0 then
        reset = waits[i]
      elseif count > 0 then
        local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        reset = tonumber(first[2]) + window - now
      else
        reset = 0
      end
    end
    answer[#answer + 1] = left
    answer[#answer + 1] = math.ceil(reset / 1000)
  end
  k, a = k + n, base + n * 3
end
return answer
`;

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');

/** One check waiting for the next batch. */
interface Pending {
  keys: readonly string[];
  limits: readonly NamedLimit[];
  cost: number;
  want: number;
  resolve(answer: StoreAnswer): void;
  reject(error: unknown): void;
}

/**
 * Runs checks on `client` (a `Redis` or a `Cluster`: `EVALSHA`, and `EVAL` once when the server does not know
 * the script yet). On one Redis, the checks asked for while the process handles one batch of I/O go out as
 * one script call (each still atomic and all-or-nothing on its own): one write, one reply and one script
 * run for all the requests that arrived together. On a Cluster each check is its own call, as checks of
 * different counters live in different slots.
 */
export class SlidingWindowScript {
  private queue: Pending[] = [];
  private readonly batching: boolean;

  constructor(private readonly client: Redis | Cluster) {
    this.batching = !(client as Cluster).isCluster;
  }

  /** Takes `cost` units (or up to `want`) from every limit, or none; `keys` share one hash tag. */
  run(
    keys: readonly string[],
    limits: readonly NamedLimit[],
    cost: number,
    want: number,
  ): Promise<StoreAnswer> {
    return new Promise((resolve, reject) => {
      const pending = { keys, limits, cost, want, resolve, reject };
      if (!this.batching) {
        this.send([pending]);
        return;
      }
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push(pending);
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.send(batch);
  }

  private send(batch: Pending[]): void {
    const keys: string[] = [];
    const args: (string | number)[] = [batch.length];
    for (const check of batch) {
      keys.push(...check.keys);
      args.push(check.limits.length, check.cost, check.want);
      for (const limit of check.limits) {
        args.push(limit.limit, limit.windowSeconds * 1000, limit.policy === 'smooth' ? 's' : 'w');
      }
    }
    evaluate(this.client, keys, args).then(
      (reply) => {
        let at = 0;
        for (const check of batch) {
          const remaining: number[] = [];
          const resetMs: number[] = [];
          const [refused, granted] = [Number(reply[at]), Number(reply[at + 1])];
          at += 2;
          for (let i = 0; i < check.limits.length; i++, at += 2) {
            remaining.push(Number(reply[at]));
            resetMs.push(Number(reply[at + 1]));
          }
          check.resolve({ refused: refused - 1, granted, remaining, resetMs });
        }
      },
      (error: unknown) => {
        for (const check of batch) check.reject(error);
      },
    );
  }
}

async function evaluate(
  client: Redis | Cluster,
  keys: string[],
  args: (string | number)[],
): Promise<number[]> {
  try {
    return (await client.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args)) as number[];
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return (await client.eval(SLIDING_WINDOW_SCRIPT, keys.length, ...keys, ...args)) as number[];
  }
}
