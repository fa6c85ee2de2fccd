/**
 * Callers waiting for something the Raft loop will produce later (a proposal's result, a read
 * barrier, a membership change), each with a deadline. Every waiter is settled exactly once:
 * resolved, rejected, or rejected by its timeout.
 */
import { RaftNodeFailure } from "./raft_node_types.js";

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (failure: RaftNodeFailure) => void;
  readonly timer: NodeJS.Timeout;
}

export class Waiters<T> {
  private readonly waiting = new Map<number, Waiter<T>>();

  /** A promise for `key`, rejected with a "timeout" failure saying `timeoutMessage` after `timeoutMs`. */
  wait(key: number, timeoutMs: number, timeoutMessage: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(key, new RaftNodeFailure("timeout", timeoutMessage)), timeoutMs);
      this.waiting.set(key, { resolve, reject, timer });
    });
  }

  has(key: number): boolean {
    return this.waiting.has(key);
  }

  keys(): number[] {
    return [...this.waiting.keys()];
  }

  resolve(key: number, value: T): boolean {
    const waiter = this.take(key);
    waiter?.resolve(value);
    return waiter !== undefined;
  }

  reject(key: number, failure: RaftNodeFailure): void {
    this.take(key)?.reject(failure);
  }

  rejectAll(failure: RaftNodeFailure): void {
    for (const key of this.keys()) this.reject(key, failure);
  }

  private take(key: number): Waiter<T> | undefined {
    const waiter = this.waiting.get(key);
    if (waiter === undefined) return undefined;
    this.waiting.delete(key);
    clearTimeout(waiter.timer);
    return waiter;
  }
}
