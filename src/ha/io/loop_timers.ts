/**
 * The timers and the process-group kill the HA loop uses, behind an interface so a simulation
 * can run the loop on virtual time with simulated processes (issue 17); the agent uses the real
 * ones. A timer that does not keep the process alive (keepAlive false) is unref'd.
 */
import { setTimeout as sleepFor } from "node:timers/promises";

/** An armed timer, to clear; opaque. */
export type TimerHandle = { readonly timerHandle: true };

export interface LoopTimers {
  set(run: () => void, ms: number, keepAlive: boolean): TimerHandle;
  clear(handle: TimerHandle): void;
  sleep(ms: number, keepAlive: boolean): Promise<void>;
  /** SIGKILL to process group `pid` (the postmaster leads its group); gone already is fine. */
  killGroup(pid: number): void;
}

export const REAL_TIMERS: LoopTimers = {
  set: (run, ms, keepAlive) => {
    const timer = setTimeout(run, ms);
    if (!keepAlive) timer.unref();
    return timer as unknown as TimerHandle;
  },
  clear: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
  sleep: (ms, keepAlive) => sleepFor(ms, undefined, { ref: keepAlive }),
  killGroup: (pid) => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  },
};
