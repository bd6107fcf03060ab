import { KeybridgeEventEmitter } from '../../../lib/events/event.emitter.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeybridgeEvent } from '../../../lib/interfaces/keybridge-event.interface.js';

const event: KeybridgeEvent = { type: 'auth.failed', reason: 'unknown', at: new Date(0) };

describe('KeybridgeEventEmitter', () => {
  it('hands each event to the listener', () => {
    const seen: KeybridgeEvent[] = [];
    new KeybridgeEventEmitter((e) => seen.push(e)).emit(event);
    expect(seen).toEqual([event]);
  });

  it('survives a listener that throws', () => {
    const emitter = new KeybridgeEventEmitter(() => {
      throw new Error('audit store down');
    });
    expect(() => emitter.emit(event)).not.toThrow();
  });

  it('leaves no unhandled rejection behind an async listener that fails', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      new KeybridgeEventEmitter(async () => {
        throw new Error('audit store down');
      }).emit(event);
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
