/**
 * A token bucket: at most `burst` events at once, refilled at `ratePerSecond`. The transport
 * uses it to bound how many unauthenticated connections it admits per second, in total and per
 * source address (transport_admission.ts). Time is passed in (monotonic milliseconds).
 */
import { assert } from "../../lib/assert.js";

export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    assert(ratePerSecond > 0 && burst >= 1, "a token bucket needs a positive rate and a burst of at least 1");
    this.tokens = burst;
    this.updatedMs = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket is full again: forgetting it then changes nothing. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  private refill(nowMs: number): void {
    // A clock that went backwards (it should not: callers pass monotonic time) refills nothing.
    const elapsedMs = Math.max(0, nowMs - this.updatedMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    this.updatedMs = nowMs;
  }
}
