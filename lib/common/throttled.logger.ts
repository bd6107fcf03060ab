import { Logger } from '@nestjs/common';

/** Warnings that repeat during an outage are logged at most once per interval; the rest are dropped. */
export class ThrottledLogger {
  private readonly logger: Logger;
  private last = -Infinity;

  constructor(
    context: string,
    private readonly intervalMs = 10_000,
  ) {
    this.logger = new Logger(context);
  }

  warn(message: string): void {
    const now = performance.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.logger.warn(message);
  }
}
