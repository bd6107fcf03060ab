import { DenylistMirror } from './denylist.mirror.js';
import type { DenylistStore } from '../interfaces/denylist-store.interface.js';

/** Revocations in this process's memory: for a single instance; they are lost on restart. */
export class MemoryDenylistStore implements DenylistStore {
  private readonly mirror = new DenylistMirror();

  constructor(private readonly clock: () => number = Date.now) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async add(id: string, expiresAtMs: number): Promise<void> {
    this.mirror.set(id, expiresAtMs);
    this.mirror.prune(this.clock());
  }

  has(id: string, now: number): boolean {
    return this.mirror.has(id, now);
  }

  isCurrent(): boolean {
    return true;
  }
}
