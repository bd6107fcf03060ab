import { Logger } from '@nestjs/common';
import type { KeybridgeEvent, KeybridgeEventListener } from './keybridge.events.js';

/** Hands events to the configured listener; a listener that throws is logged, never fatal to a request. */
export class KeybridgeEventEmitter {
  private readonly logger = new Logger('Keybridge');

  constructor(private readonly listener: KeybridgeEventListener | undefined) {}

  get enabled(): boolean {
    return this.listener !== undefined;
  }

  emit(event: KeybridgeEvent): void {
    if (!this.listener) return;
    try {
      this.listener(event);
    } catch (error) {
      this.logger.warn(
        `onEvent listener threw on "${event.type}": ${(error as Error)?.message ?? String(error)}`,
      );
    }
  }
}
