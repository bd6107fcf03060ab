import { Logger, type LoggerService } from '@nestjs/common';
import type { KeybridgeEvent, KeybridgeEventListener } from '../interfaces/keybridge-event.interface.js';

/**
 * An `onEvent` listener that writes each audit event to a Nest logger as one JSON line: refusals, rate limits
 * and outages as warnings, the rest as log lines. Events never carry a key or a token.
 */
export function logEvents(logger: LoggerService = new Logger('KeybridgeAudit')): KeybridgeEventListener {
  return (event) => {
    const line = JSON.stringify(event);
    if (event.type.startsWith('auth.')) logger.warn(line);
    else logger.log(line);
  };
}

/** A counter as `prom-client`'s `Counter` (and most metrics libraries) shapes it. */
export interface EventCounter {
  inc(labels: Record<string, string>): void;
}

/**
 * An `onEvent` listener that counts events by `type` and, for refusals, `reason`, e.g. into a `prom-client`
 * `Counter` with `labelNames: ['type', 'reason']`. Labels stay low-cardinality: no key ids, no addresses.
 */
export function countEvents(counter: EventCounter): KeybridgeEventListener {
  return (event) => counter.inc({ type: event.type, reason: reasonOf(event) });
}

/**
 * Several listeners as one: each is called in turn, and one that throws or rejects does not stop the others;
 * the first failure is passed on to the module, which logs it.
 */
export function allListeners(...listeners: KeybridgeEventListener[]): KeybridgeEventListener {
  return (event) => {
    const pending: unknown[] = [];
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        pending.push(listener(event));
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    if (!pending.some((result) => result instanceof Promise)) return undefined;
    return Promise.allSettled(pending).then((results) => {
      const rejected = results.find((result) => result.status === 'rejected');
      if (rejected) throw (rejected as PromiseRejectedResult).reason;
    });
  };
}

function reasonOf(event: KeybridgeEvent): string {
  if (event.type === 'auth.failed') return event.reason;
  if (event.type === 'auth.rate_limited') return event.limit;
  return '';
}
