/** What each load sends to one server: the URL, the credentials, and how they are spread over connections. */
import type { LoadName, ServerConfig } from './bench.config.js';
import type { Route } from './autocannon.load.js';
import { htuOf, makeProof, type DpopClient } from './dpop.proofs.js';

export const TOKEN_ENDPOINT = '/oauth/token';

/** The keys the load presents, and their ids (the `client_id` of the token endpoint's Basic credentials). */
export interface LoadKeys {
  keys: readonly string[];
  keyIds: readonly string[];
  /** The key of the `limited` route, created with `BENCH_RATE_LIMIT`. */
  limited?: { key: string; id: string };
  /** The key of the `quota` route, created with `BENCH_QUOTA`. */
  quota?: { key: string; id: string };
}

/** RFC 6749 §2.3.1: `client_id:client_secret`, each form-urlencoded, in base64. */
function basicCredentials(clientId: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/** The token endpoint request of the `token` route, also used once to mint the `bearer` route's token. */
export function tokenRequest(base: string, keyId: string, key: string): Route {
  return {
    url: base + TOKEN_ENDPOINT,
    method: 'POST',
    headers: {
      authorization: basicCredentials(keyId, key),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  };
}

/** The requests of each load against one server. */
export function loadsFor(
  base: string,
  config: ServerConfig,
  { keys, keyIds, limited, quota }: LoadKeys,
  bearerToken: string | undefined,
  dpop?: { token: string; client: DpopClient },
): Record<LoadName, Route> {
  const guardedHtu = htuOf('/guarded');
  return {
    // The unguarded route gets no key: the guard returns before reading it on a @Public() route anyway.
    unguarded: { url: `${base}/unguarded`, headers: {} },
    // With the cache warm every connection presents the same key. With the cache off each connection has
    // its own: the module shares one store read between concurrent misses of a key, and the cache-miss
    // path is meant to cost one indexed query per request.
    apikey:
      config.cache === 'warm'
        ? { url: `${base}/guarded`, headers: { 'x-api-key': keys[0] } }
        : { url: `${base}/guarded`, headers: {}, keyPerConnection: keys },
    // One token for every connection: after the first request it is answered from the verified-token
    // cache, and the denylist (its in-memory mirror) is checked on every request.
    bearer: { url: `${base}/guarded`, headers: { authorization: `Bearer ${bearerToken ?? 'not-minted'}` } },
    // Every request authenticates the key (from the key cache) and mints and signs a new token.
    token: tokenRequest(base, keyIds[0], keys[0]),
    // One key on every connection, as for `apikey` with the cache warm; each request counts one hit.
    limited: { url: `${base}/guarded`, headers: { 'x-api-key': limited?.key ?? 'not-seeded' } },
    // One DPoP-bound token for every connection (from the verified-token cache after the first request),
    // and a new proof signed by the client for every request: the server checks its signature, claims and
    // `ath`, and claims its `jti` once in the replay cache.
    dpop: {
      url: `${base}/guarded`,
      headers: { authorization: `DPoP ${dpop?.token ?? 'not-minted'}` },
      perRequest: () =>
        dpop
          ? { dpop: makeProof(dpop.client, 'GET', guardedHtu, dpop.token) }
          : ({} as Record<string, string>),
    },
    // The same with a key whose quota each request spends one unit of.
    quota: { url: `${base}/guarded`, headers: { 'x-api-key': quota?.key ?? 'not-seeded' } },
  };
}
