import type { LoggerService } from '@nestjs/common';
import { allListeners, countEvents, logEvents, type KeybridgeEvent } from '../../../lib/index.js';

const AT = new Date('2026-11-22T12:00:00Z');
const failed: KeybridgeEvent = {
  type: 'auth.failed',
  reason: 'revoked',
  keyId: 'key_a',
  ip: '10.0.0.1',
  at: AT,
};
const created: KeybridgeEvent = { type: 'key.created', keyId: 'key_a', subject: 's', scopes: [], at: AT };

describe('logEvents', () => {
  it('writes refusals as warnings and the rest as log lines, one JSON line each', () => {
    const lines: [string, string][] = [];
    const logger: LoggerService = {
      log: (message: string) => lines.push(['log', message]),
      warn: (message: string) => lines.push(['warn', message]),
      error: () => undefined,
    };
    const listener = logEvents(logger);
    listener(failed);
    listener(created);
    expect(lines).toEqual([
      ['warn', JSON.stringify(failed)],
      ['log', JSON.stringify(created)],
    ]);
  });
});

describe('countEvents', () => {
  it('counts by type and reason only', () => {
    const seen: Record<string, string>[] = [];
    const listener = countEvents({ inc: (labels) => seen.push(labels) });
    listener(failed);
    listener(created);
    listener({ type: 'auth.rate_limited', keyId: 'key_a', limit: 'quota', at: AT });
    expect(seen).toEqual([
      { type: 'auth.failed', reason: 'revoked' },
      { type: 'key.created', reason: '' },
      { type: 'auth.rate_limited', reason: 'quota' },
    ]);
  });
});

describe('allListeners', () => {
  it('calls every listener even when one throws, then passes the first failure on', () => {
    const calls: string[] = [];
    const listener = allListeners(
      () => {
        calls.push('a');
        throw new Error('first');
      },
      () => {
        calls.push('b');
        throw new Error('second');
      },
      () => void calls.push('c'),
    );
    expect(() => listener(failed)).toThrow('first');
    expect(calls).toEqual(['a', 'b', 'c']);
  });

  it('waits for async listeners and rejects with the first rejection', async () => {
    const calls: string[] = [];
    const listener = allListeners(
      async () => void calls.push('a'),
      async () => {
        throw new Error('async failure');
      },
      () => void calls.push('c'),
    );
    await expect(listener(failed) as Promise<unknown>).rejects.toThrow('async failure');
    expect(calls).toEqual(['a', 'c']);
  });

  it('returns nothing when every listener is synchronous', () => {
    expect(allListeners(() => undefined)(failed)).toBeUndefined();
  });
});
