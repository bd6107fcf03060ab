import { Logger } from '@nestjs/common';
import type { KeybridgeEvent, KeybridgeEventListener } from '../interfaces/keybridge-event.interface.js';

/** Hands events to the configured listener; a listener that throws or rejects is logged, never fatal. */
export class KeybridgeEventEmitter {
  private readonly logger = new Logger('Keybridge');

  constructor(private readonly listener: KeybridgeEventListener | undefined) {}

  get enabled(): boolean {
    return this.listener !== undefined;
  }

  emit(event: KeybridgeEvent): void {
    if (!this.listener) return;
    try {
      const result = this.listener(event) as unknown;
      // An async listener's failure must not become an unhandled rejection that takes the process down.
      if (result instanceof Promise) result.catch((error: unknown) => this.warn(event, error));
    } catch (error) {
      this.warn(event, error);
    }
  }

  private warn(event: KeybridgeEvent, error: unknown): void {
    this.logger.warn(
      `onEvent listener failed on "${event.type}": ${(error as Error)?.message ?? String(error)}`,
    );
  }
}
