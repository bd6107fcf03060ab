/**
 * The correctness checks around a server's load: before it, one request of each kind, so a misconfigured
 * server is caught before it is measured; after it, that the rate-limit counter moved by the requests served.
 */
import { BENCH_RATE_LIMIT, type ServerConfig } from './bench.config.js';
import type { Route } from './autocannon.load.js';
import { dpopClient, htuOf, makeProof, type DpopClient } from './dpop.proofs.js';
import { TOKEN_ENDPOINT, tokenRequest, type LoadKeys } from './load.routes.js';
import { redisKeys } from './redis.client.js';
import { format } from './report.format.js';
import type { ConfigResult } from './run.model.js';

/** What the load completed with the rate-limited key, warm-up included. */
export interface LimitedLoad {
  completed: number;
  ok: number;
  runs: number;
}

/**
 * One request of each kind. When an OAuth route is loaded, it also mints (through the real token endpoint)
 * the token the `bearer` route presents. With the `limited` route, it returns the key's `RateLimit-Remaining`
 * after one request.
 */
export async function checkServer(
  base: string,
  config: ServerConfig,
  { keys, keyIds, limited }: LoadKeys,
): Promise<{
  bearerToken: string | undefined;
  limitedRemaining: number | undefined;
  dpop?: { token: string; client: DpopClient };
}> {
  const send = async (
    route: Route,
    status: number,
  ): Promise<{ status: number; body: string; path: string; headers: Headers }> => {
    const response = await fetch(route.url, {
      method: route.method ?? 'GET',
      headers: route.headers,
      body: route.body,
      signal: AbortSignal.timeout(5000),
    });
    const body = await response.text();
    const path = new URL(route.url).pathname;
    if (response.status !== status) {
      throw new Error(
        `${route.method ?? 'GET'} ${path} answered ${response.status}, expected ${status}: ${body.slice(0, 200)}`,
      );
    }
    return { status: response.status, body, path, headers: response.headers };
  };
  const get = (path: string, headers: Record<string, string>, status: number) =>
    send({ url: base + path, headers }, status);
  await get('/unguarded', {}, 200);
  await get('/guarded', {}, 401);
  for (const key of new Set([keys[0], keys[keys.length - 1]])) {
    const answer = await get('/guarded', { 'x-api-key': key }, 200);
    if (answer.headers.has('ratelimit-limit'))
      throw new Error('the plain load key answered with RateLimit headers: is a module-wide rateLimit set?');
  }
  const limitedRemaining = config.routes.includes('limited')
    ? await checkLimited(base, config, limited)
    : undefined;
  const dpop = config.routes.includes('dpop') ? await checkDpop(base, keyIds[0], keys[0], send) : undefined;
  if (!config.routes.includes('bearer') && !config.routes.includes('token'))
    return { bearerToken: undefined, limitedRemaining, dpop };

  const minted = await send(tokenRequest(base, keyIds[0], keys[0]), 200);
  const answer = JSON.parse(minted.body) as {
    access_token?: unknown;
    token_type?: unknown;
    expires_in?: unknown;
  };
  if (typeof answer.access_token !== 'string' || answer.token_type !== 'Bearer') {
    throw new Error(
      `POST ${TOKEN_ENDPOINT} answered without a Bearer access_token: ${minted.body.slice(0, 200)}`,
    );
  }
  if (typeof answer.expires_in !== 'number' || answer.expires_in < 60 * 60 - 60) {
    throw new Error(
      `the minted token expires in ${String(answer.expires_in)} s: the bench expects tokenTtl 1h`,
    );
  }
  const header = JSON.parse(Buffer.from(answer.access_token.split('.')[0], 'base64url').toString()) as {
    alg?: unknown;
  };
  if (header.alg !== 'EdDSA')
    throw new Error(`the minted token is signed with ${String(header.alg)}, not EdDSA`);
  await get('/guarded', { authorization: `Bearer ${answer.access_token}` }, 200);
  // A token with a forged signature: refused, so the 200 above did come from a verified token.
  const [head, payload] = answer.access_token.split('.');
  await get('/guarded', { authorization: `Bearer ${head}.${payload}.${'A'.repeat(86)}` }, 401);
  return { bearerToken: answer.access_token, limitedRemaining, dpop };
}

type Send = (route: Route, status: number) => Promise<{ body: string }>;

/**
 * Mints a DPoP-bound token through the real token endpoint with a proof, then checks that the route accepts
 * it with a fresh proof, refuses the same proof again (so each load request is really checked once), and
 * refuses the token as a bearer token.
 */
async function checkDpop(
  base: string,
  keyId: string,
  key: string,
  send: Send,
): Promise<{ token: string; client: DpopClient }> {
  const client = dpopClient();
  const mint = tokenRequest(base, keyId, key);
  mint.headers = { ...mint.headers, dpop: makeProof(client, 'POST', htuOf(TOKEN_ENDPOINT)) };
  const minted = JSON.parse((await send(mint, 200)).body) as { access_token?: unknown; token_type?: unknown };
  if (typeof minted.access_token !== 'string' || minted.token_type !== 'DPoP') {
    throw new Error(`POST ${TOKEN_ENDPOINT} with a DPoP proof answered no DPoP token`);
  }
  const token = minted.access_token;
  const proof = makeProof(client, 'GET', htuOf('/guarded'), token);
  const guarded = (dpop: string): Route => ({
    url: `${base}/guarded`,
    headers: { authorization: `DPoP ${token}`, dpop },
  });
  await send(guarded(proof), 200);
  await send(guarded(proof), 401);
  await send({ url: `${base}/guarded`, headers: { authorization: `Bearer ${token}` } }, 401);
  return { token, client };
}

/**
 * One request with the rate-limited key: 200 with the `RateLimit-*` headers of `BENCH_RATE_LIMIT`, and with
 * Redis counters, a counter under the server's prefix. Returns `RateLimit-Remaining`.
 */
async function checkLimited(
  base: string,
  config: ServerConfig,
  limited: LoadKeys['limited'],
): Promise<number> {
  if (!limited) throw new Error('the seed created no rate-limited key for the limited route');
  const remaining = await limitedRemaining(base, limited.key);
  if (config.redis) {
    const counters = await redisKeys(config.redis, 'rl:{requests:*');
    if (counters.length === 0) {
      throw new Error(
        `no rate-limit counter under ${config.redis.keyPrefix} in Redis after a request of the limited key`,
      );
    }
  }
  return remaining;
}

/** One request with the rate-limited key; its `RateLimit-Remaining`, checked against `BENCH_RATE_LIMIT`. */
async function limitedRemaining(base: string, key: string): Promise<number> {
  const response = await fetch(`${base}/guarded`, {
    headers: { 'x-api-key': key },
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(
      `GET /guarded with the rate-limited key answered ${response.status}: ${body.slice(0, 200)}`,
    );
  }
  const limit = response.headers.get('ratelimit-limit');
  const remaining = Number(response.headers.get('ratelimit-remaining'));
  if (limit !== String(BENCH_RATE_LIMIT.limit) || !Number.isInteger(remaining)) {
    throw new Error(
      `GET /guarded with the rate-limited key answered RateLimit-Limit ${String(limit)}, ` +
        `RateLimit-Remaining ${String(response.headers.get('ratelimit-remaining'))}`,
    );
  }
  return remaining;
}

/**
 * How far the rate-limited key's counter moved during the load (`RateLimit-Remaining` after the check
 * request, then after one more request now), against the requests the load completed. Every completed 2xx
 * was counted; the counter may be ahead by the requests in flight when a run stopped (at most one per
 * connection and run). Anything else is reported as a problem.
 */
export async function countedHits(
  base: string,
  { limited }: LoadKeys,
  remainingBefore: number,
  load: LimitedLoad,
  connections: number,
): Promise<{ counted: NonNullable<ConfigResult['counted']>; problem?: string }> {
  const remainingAfter = await limitedRemaining(base, limited!.key);
  const hits = remainingBefore - remainingAfter - 1;
  const counted = { hits, completed: load.completed, ok: load.ok, runs: load.runs };
  const slack = connections * load.runs;
  if (hits < load.ok || hits > load.completed + slack) {
    return {
      counted,
      problem:
        `the rate-limit counter moved by ${format(hits)} hits while the load completed ${format(load.completed)} ` +
        `requests (${format(load.ok)} 2xx) in ${load.runs} runs`,
    };
  }
  return { counted };
}
