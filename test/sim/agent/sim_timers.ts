/**
 * The HA loop's timers on the simulator's virtual time (src/ha/io/loop_timers.ts), and its
 * process-group kill aimed at the simulated PostgreSQL: a SIGKILL of a postmaster's group is a
 * crash of that server (its written WAL stays, as after a real kill -9).
 */
import type { MemberName } from "../../../src/dcs/model.js";
import type { LoopTimers, TimerHandle } from "../../../src/ha/io/loop_timers.js";
import type { EventQueue } from "../event_queue.js";
import type { SimPostgres } from "../pg/sim_postgres.js";

interface VirtualTimer extends TimerHandle {
  cancelled: boolean;
}

/**
 * `toAgent` hands a fired timer to the agent: at once, or once it runs again when it is frozen
 * (SimAgents): a stopped process runs no timer, and runs the overdue ones when it continues.
 */
export function virtualTimers(queue: EventQueue, pg: SimPostgres, member: MemberName, toAgent: (run: () => void) => void = (run) => run()): LoopTimers {
  return {
    set: (run, ms) => {
      const timer: VirtualTimer = { timerHandle: true, cancelled: false };
      queue.schedule(ms, () =>
        toAgent(() => {
          if (!timer.cancelled) run();
        }),
      );
      return timer;
    },
    clear: (handle) => {
      (handle as VirtualTimer).cancelled = true;
    },
    sleep: (ms) => new Promise((resolve) => queue.schedule(ms, () => toAgent(resolve))),
    killGroup: (pid) => {
      // Only its own postmaster: a PID of another member's is never signalled from here.
      if (pg.server(member).pid === pid) pg.crash(member, "process");
    },
  };
}
