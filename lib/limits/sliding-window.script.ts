import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { NamedLimit, StoreAnswer } from './limit.types.js';

/**
 * One check of several limits of one counter, atomic in Redis, on Redis's own clock (`TIME`) so every
 * instance agrees. KEYS: one per limit, all in one hash slot. ARGV: cost, units wanted (the cost, or a
 * lease's size), then per limit its size, window (ms) and policy (`w` sliding log, `s` smooth GCRA).
 *
 * A sliding limit is a sorted set of one member per unit, scored by its time in µs: entries older than the
 * window are dropped, and the units are added only if every limit has room (all-or-nothing). A member is
 * `<µs>:<count before + i>`, unique even for two calls in one microsecond: the second sees the first's
 * members. A smooth limit is the theoretical arrival time of the next unit (µs), admitted when it is not in
 * the future. Answers: refusing limit (1-based, 0 for none), units granted, then per limit the units left and
 * ms until units come back (until enough of them do for this cost, when refused).
 */
export const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = t[1] .. string.format('%06d', tonumber(t[2]))
local cost = tonumber(ARGV[1])
local grant = tonumber(ARGV[2])
local n = #KEYS
local counts, waits = {}, {}
local refused, longest = 0, 0
for i = 1, n do
  local size = tonumber(ARGV[i * 3])
  local window = tonumber(ARGV[i * 3 + 1]) * 1000
  local wait = 0
  if ARGV[i * 3 + 2] == 's' then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    counts[i] = tat
    if tat > now then wait = tat - now end
    if grant > cost then grant = cost end
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[i])
    counts[i] = count
    if size - count < cost then
      local nth = redis.call('ZRANGE', KEYS[i], count + cost - size - 1, count + cost - size - 1, 'WITHSCORES')
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
local answer = { refused, grant }
for i = 1, n do
  local size = tonumber(ARGV[i * 3])
  local window = tonumber(ARGV[i * 3 + 1]) * 1000
  local left, reset
  if ARGV[i * 3 + 2] == 's' then
    local tat = counts[i]
    if grant > 0 then
      if tat < now then tat = now end
      tat = tat + grant * window / size
      redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
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
          redis.call('ZADD', KEYS[i], unpack(members))
          members = {}
        end
      end
      redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000) + 1)
      count = count + grant
    end
    left = size - count
    if left < 0 then left = 0 end
    if waits[i] > 0 then
      reset = waits[i]
    elseif count > 0 then
      local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      reset = tonumber(first[2]) + window - now
    else
      reset = 0
    end
  end
  answer[#answer + 1] = left
  answer[#answer + 1] = math.ceil(reset / 1000)
end
return answer
`;

const SCRIPT_SHA = createHash('sha1').update(SLIDING_WINDOW_SCRIPT).digest('hex');

/** The script's arguments for `limits`: size, window in ms and policy of each. */
function scriptArguments(limits: readonly NamedLimit[], cost: number, want: number): (string | number)[] {
  const args: (string | number)[] = [cost, want];
  for (const limit of limits) {
    args.push(limit.limit, limit.windowSeconds * 1000, limit.policy === 'smooth' ? 's' : 'w');
  }
  return args;
}

/**
 * Runs the script on `client` (a `Redis` or a `Cluster`: `EVALSHA`, and `EVAL` once when the server does not
 * know the script yet). `keys` must share one hash tag.
 */
export async function runSlidingWindow(
  client: Redis | Cluster,
  keys: readonly string[],
  limits: readonly NamedLimit[],
  cost: number,
  want: number,
): Promise<StoreAnswer> {
  const args = scriptArguments(limits, cost, want);
  let reply: number[];
  try {
    reply = (await client.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args)) as number[];
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    reply = (await client.eval(SLIDING_WINDOW_SCRIPT, keys.length, ...keys, ...args)) as number[];
  }
  const remaining: number[] = [];
  const resetMs: number[] = [];
  for (let i = 2; i < reply.length; i += 2) {
    remaining.push(Number(reply[i]));
    resetMs.push(Number(reply[i + 1]));
  }
  return { refused: Number(reply[0]) - 1, granted: Number(reply[1]), remaining, resetMs };
}
