import request from 'supertest';

/** One answer with when it was sent and received (client clock, ms). */
export interface TimedAnswer {
  status: number;
  sent: number;
  received: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** `GET /orders` (or `method path`) with `key`, timed. */
export async function timed(
  app: { url: string },
  key: { key: string },
  method: 'get' | 'post' = 'get',
  path = '/orders',
): Promise<TimedAnswer> {
  const sent = Date.now();
  const res = await request(app.url)[method](path).set('X-API-Key', key.key);
  return {
    status: res.status,
    sent,
    received: Date.now(),
    headers: res.headers as Record<string, string>,
    body: res.body as Record<string, unknown>,
  };
}

/**
 * The most admissions (200s) that certainly fell within one interval shorter than `windowMs` on the server:
 * for each admitted request i, the admitted requests j received less than `windowMs` after i was sent (the
 * server admitted j at most `received_j - sent_i` after it admitted i). A limiter that admits no more than
 * `limit` in any interval of the window keeps this at most `limit`, whatever the network delays.
 */
export function mostAdmittedWithinWindow(answers: readonly TimedAnswer[], windowMs: number): number {
  const admitted = answers.filter((answer) => answer.status === 200);
  let most = 0;
  for (const first of admitted) {
    const within = admitted.filter(
      (other) => other.sent >= first.sent && other.received - first.sent < windowMs,
    ).length;
    most = Math.max(most, within);
  }
  return most;
}
