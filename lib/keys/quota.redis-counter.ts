import { createHash } from 'node:crypto';
import { storeCall } from '../common/store-call.util.js';
import type { RedisConnection } from '../redis/redis.connection.js';
import type { QuotaHolder, QuotaRow, SpentUnits } from './quota.rows.js';

/**
 * Spends `ARGV[1]` units from the hash `KEYS[1]` (`left`, `unsynced`, `epoch`). A hash missing or of an older
 * quota epoch than `ARGV[3]` is seeded from `ARGV[2]` (the row's `remaining`) when given, else the script
 * answers -2 so the caller reads the row; seeding only a missing or older hash means two instances seeding at
 * once seed once. Answers the units left after spending, or -1 when fewer than the cost are left.
 */
const SPEND = `
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
local wanted = tonumber(ARGV[3])
if epoch == nil or epoch < wanted then
  if ARGV[2] == '' then return -2 end
  redis.call('HSET', KEYS[1], 'left', ARGV[2], 'unsynced', 0, 'epoch', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local cost = tonumber(ARGV[1])
local left = tonumber(redis.call('HGET', KEYS[1], 'left'))
if left < cost then return -1 end
redis.call('HINCRBY', KEYS[1], 'left', -cost)
redis.call('HINCRBY', KEYS[1], 'unsynced', cost)
return left - cost`;

/** Takes the units spent and not yet written back, with their epoch: `{ units, epoch }`. */
const TAKE = `
local units = tonumber(redis.call('HGET', KEYS[1], 'unsynced') or '0')
local epoch = redis.call('HGET', KEYS[1], 'epoch') or '0'
if units > 0 then redis.call('HSET', KEYS[1], 'unsynced', 0) end
return {units, epoch}`;

/** Puts back units whose write-back failed, unless the quota moved to another epoch meanwhile. */
const RESTORE = `
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then redis.call('HINCRBY', KEYS[1], 'unsynced', ARGV[1]) end
return 0`;

/**
 * After units were counted from database leases (Redis was out), sets `left` to the row's units minus those
 * spent here and not yet written back, so units leased meanwhile are not spent twice.
 */
const RESYNC = `
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch'))
if epoch == nil or epoch < tonumber(ARGV[2]) then return 0 end
if epoch == tonumber(ARGV[2]) then
  local unsynced = tonumber(redis.call('HGET', KEYS[1], 'unsynced') or '0')
  redis.call('HSET', KEYS[1], 'left', math.max(0, tonumber(ARGV[1]) - unsynced))
end
return 0`;

/** A seeded hash lives this long after its last spend; written-back units make the row enough to seed again. */
const IDLE_TTL_MS = 7 * 86_400_000;

/**
 * Quotas counted in Redis, one hash per key, `<prefix>quota:{<keyId>}` (an owner's: `<prefix>owner-quota:{<subject>}`;
 * the braces keep a counter on one Redis Cluster slot), every change one Lua script, so instances never overspend. The units spent are
 * remembered in the hash (`unsynced`) until written back to the row: any instance that spends on the key
 * writes back what a dead one left, and nothing is lost unless Redis is.
 */
export class RedisQuotaCounter {
  constructor(
    private readonly redis: RedisConnection,
    private readonly timeoutMs: number,
    /** Keeps the counters of keys (`quota`) and of owners (`owner-quota`) apart. */
    private readonly namespace: string,
  ) {}

  /** Spends `cost` units; `read` gives the row when the counter must be seeded. False when they are not left. */
  async spend(key: QuotaHolder, cost: number, read: () => Promise<QuotaRow | null>): Promise<boolean> {
    let answer = await this.run(SPEND, key.id, cost, '', key.quotaEpochMs, IDLE_TTL_MS);
    if (answer === -2) {
      const row = await read();
      if (!row || row.remaining === null) return false;
      key.quotaEpochMs = Math.max(key.quotaEpochMs, row.epoch);
      answer = await this.run(SPEND, key.id, cost, row.remaining, row.epoch, IDLE_TTL_MS);
    }
    return Number(answer) >= 0;
  }

  /** The units left in Redis for a key at quota epoch `epoch`, or `undefined` when Redis has not counted it. */
  async left(keyId: string, epoch: number): Promise<number | undefined> {
    const [left, stored] = await storeCall(this.timeoutMs, () =>
      this.redis.client.hmget(this.hashOf(keyId), 'left', 'epoch'),
    );
    return left !== null && Number(stored) === epoch ? Number(left) : undefined;
  }

  /** Takes the units spent on a key and not yet written back. */
  async take(keyId: string): Promise<SpentUnits> {
    const [units, epoch] = (await this.run(TAKE, keyId)) as [number, string];
    return { id: keyId, units: Number(units), epoch: Number(epoch) };
  }

  /** Puts back units whose write-back failed. */
  async restore(spent: SpentUnits): Promise<void> {
    await this.run(RESTORE, spent.id, spent.units, String(spent.epoch));
  }

  /** Sets a key's counter from its row after units were counted outside Redis. */
  async resync(keyId: string, row: QuotaRow): Promise<void> {
    if (row.remaining !== null) await this.run(RESYNC, keyId, row.remaining, row.epoch);
  }

  private hashOf(keyId: string): string {
    return this.redis.key(`${this.namespace}:{${keyId}}`);
  }

  /** Runs a script by its SHA-1, sending its text only when the server does not have it yet. */
  private run(script: string, keyId: string, ...args: (string | number)[]): Promise<unknown> {
    const { client } = this.redis;
    const key = this.hashOf(keyId);
    return storeCall(this.timeoutMs, () =>
      client.evalsha(shaOf(script), 1, key, ...args).catch((error: Error) => {
        if (!error.message.startsWith('NOSCRIPT')) throw error;
        return client.eval(script, 1, key, ...args);
      }),
    );
  }
}

const shas = new Map<string, string>();
function shaOf(script: string): string {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
  return sha;
}
