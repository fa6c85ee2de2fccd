/**
 * How late the Raft loop ran (issue 14): a stall is the time from when work fell due (a tick's
 * timer, a message or request that scheduled a cycle) until the cycle that did it ended, so it
 * counts both the wait for the event loop and the cycle's own work. A leader whose loop stalls
 * an election timeout loses its followers; one that stalls the lease's margin costs the primary
 * its lease. The meter keeps the longest since start and over about the last minute (buckets of
 * ten seconds: the recent maximum covers the last 50 to 60 s), for /metrics.
 */
import { assert } from "../../lib/assert.js";

/** A longer stall is logged as a warning (issue 14 sets it as the bound for a heal). */
export const LOOP_STALL_WARN_MS = 200;
export const LOOP_STALL_WINDOW_MS = 60_000;
const BUCKET_MS = 10_000;
const BUCKETS = LOOP_STALL_WINDOW_MS / BUCKET_MS;

export class LoopStallMeter {
  private maxSinceStartMs = 0;
  /** Per ten-second bucket: its start (a multiple of BUCKET_MS) and the longest stall in it. */
  private readonly bucketStartMs: number[] = new Array<number>(BUCKETS).fill(-1);
  private readonly bucketMaxMs: number[] = new Array<number>(BUCKETS).fill(0);

  /** Records one stall measured at `nowMs` (monotonic). Returns whether it deserves a warning. */
  record(stallMs: number, nowMs: number): boolean {
    assert(Number.isFinite(stallMs) && stallMs >= 0, () => `a stall is a duration, got ${stallMs}`);
    const rounded = Math.round(stallMs);
    if (rounded > this.maxSinceStartMs) this.maxSinceStartMs = rounded;
    const start = Math.floor(nowMs / BUCKET_MS) * BUCKET_MS;
    const i = Math.floor(nowMs / BUCKET_MS) % BUCKETS;
    if (this.bucketStartMs[i] !== start) {
      this.bucketStartMs[i] = start;
      this.bucketMaxMs[i] = 0;
    }
    if (rounded > this.bucketMaxMs[i]!) this.bucketMaxMs[i] = rounded;
    return stallMs > LOOP_STALL_WARN_MS;
  }

  maxMs(): number {
    return this.maxSinceStartMs;
  }

  recentMaxMs(nowMs: number): number {
    let max = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (nowMs - this.bucketStartMs[i]! < LOOP_STALL_WINDOW_MS && this.bucketMaxMs[i]! > max) max = this.bucketMaxMs[i]!;
    }
    return max;
  }
}
