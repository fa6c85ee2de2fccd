/**
 * Rate limiting for the transport's warnings. A misconfigured peer redials every couple of
 * seconds, forever; one line per (peer, reason) per interval tells the operator everything, and
 * the next line says how many were suppressed in between.
 */
import { assert } from "../../lib/assert.js";

interface KeyState {
  lastLoggedMs: number;
  suppressed: number;
}

export class WarningLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly intervalMs: number,
    private readonly keysMax: number,
  ) {
    assert(intervalMs > 0 && keysMax > 0, "warning limiter bounds must be positive");
  }

  /**
   * Returns null when the warning must be suppressed, otherwise how many identical warnings were
   * suppressed since the last one was logged.
   */
  admit(key: string, nowMs: number): number | null {
    const state = this.keys.get(key);
    if (state !== undefined && nowMs - state.lastLoggedMs < this.intervalMs) {
      state.suppressed++;
      return null;
    }
    const suppressed = state?.suppressed ?? 0;
    // Bounded memory: forgetting every key at worst repeats one line per key.
    if (state === undefined && this.keys.size >= this.keysMax) this.keys.clear();
    this.keys.set(key, { lastLoggedMs: nowMs, suppressed: 0 });
    return suppressed;
  }
}
