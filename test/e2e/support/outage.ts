import { setTimeout as sleep } from 'node:timers/promises';
import { expectOAuthError } from './oauth.js';

export interface HttpAnswer {
  status: number;
  body: unknown;
  text: string;
  headers: Record<string, string>;
}

/** A stack frame as Node prints it: `at fn (/path/file.js:12:3)`. */
const STACK_FRAME = /\bat .*\.(js|ts):\d+/;

/**
 * Sends `send` every `everyMs` until it answers `status` or `timeoutMs` pass. Returns every status seen, the
 * last answer (the one that stopped it) and how long it took.
 */
export async function until<T extends { status: number }>(
  send: () => PromiseLike<T>,
  status: number,
  timeoutMs: number,
  everyMs = 100,
): Promise<{ seen: number[]; last: T; ms: number }> {
  const started = Date.now();
  const seen: number[] = [];
  for (;;) {
    const last = await send();
    seen.push(last.status);
    if (last.status === status || Date.now() - started > timeoutMs) {
      return { seen, last, ms: Date.now() - started };
    }
    await sleep(everyMs);
  }
}

/** Sends `send` in a loop from now until `stop()`, keeping every status. */
export class StatusRecorder {
  readonly seen: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(send: () => PromiseLike<{ status: number }>, everyMs = 50) {
    this.loop = (async () => {
      while (this.running) {
        this.seen.push((await send()).status);
        await sleep(everyMs);
      }
    })();
  }

  async stop(): Promise<number[]> {
    this.running = false;
    await this.loop;
    return this.seen;
  }
}

/**
 * 503 `auth_unavailable` on a guarded route: exactly the documented body, `Retry-After: 1`, and neither a
 * stack trace nor any of `secrets` anywhere in the answer.
 */
export function expectAuthUnavailable(res: HttpAnswer, secrets: readonly string[] = []): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status: 503,
    body: {
      statusCode: 503,
      error: 'Service Unavailable',
      message: expect.any(String),
      code: 'auth_unavailable',
    },
  });
  expect(res.headers['retry-after']).toBe('1');
  const everything = `${JSON.stringify(res.headers)}\n${res.text}`;
  expect(everything).not.toMatch(STACK_FRAME);
  for (const secret of secrets) expect(everything).not.toContain(secret);
}

/**
 * 503 `temporarily_unavailable` from an OAuth endpoint: the RFC 6749 §5.2 body and nothing else, no-store,
 * `Retry-After: 1`, no stack trace, none of `secrets`.
 */
export function expectTemporarilyUnavailable(res: HttpAnswer, secrets: readonly string[] = []): void {
  expectOAuthError(res, 503, 'temporarily_unavailable', secrets);
  expect(res.headers['retry-after']).toBe('1');
  expect(res.text).not.toMatch(STACK_FRAME);
}
