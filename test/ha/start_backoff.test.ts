/**
 * Failed starts back off (issue 12): the wait doubles from 1 s to a 60 s cap, the rules decide
 * it on the facts of the HA memory, a start that lasts clears them, and the member's state is
 * "start failed" until a start succeeds — never "streaming".
 */
import t from "tap";
import type { Lsn } from "../../src/dcs/model.js";
import { decide } from "../../src/ha/decide.js";
import type { HaMemory, StartFailure } from "../../src/ha/input.js";
import { memberStatus } from "../../src/ha/member_status.js";
import {
  afterObservation,
  afterStartFailure,
  exitedTooSoon,
  START_BACKOFF_MAX_MS,
  START_LASTED_MS,
  startBackoffMs,
  startFailed,
  startWaitLeftMs,
} from "../../src/ha/start_backoff.js";
import { Driver, heldLease, input, m, pg, STEADY_MEMORY, summary } from "./fixtures.js";

const held = heldLease;
const STOPPED_REPLICA = pg({ process: "stopped", role: null, controlState: "shut down in recovery", streaming: false, walReceived: null });
const failed = (failures: number, atMs: number, reason = "FATAL: could not access file \"no_such_library\": No such file or directory"): HaMemory => ({
  ...STEADY_MEMORY,
  startFailure: { failures, atMs, reason, runningSinceMs: null },
});

function cluster(): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  return d;
}

t.test("the wait doubles from 1 s and stops at 60 s", async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 8, 100].map(startBackoffMs), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, START_BACKOFF_MAX_MS]);
  t.throws(() => startBackoffMs(0), "a wait follows a failure");
  t.equal(startWaitLeftMs(null, 0), 0);
  t.equal(startWaitLeftMs({ failures: 3, atMs: 1_000, reason: "x", runningSinceMs: null }, 2_000), 3_000);
  t.equal(startWaitLeftMs({ failures: 3, atMs: 1_000, reason: "x", runningSinceMs: 1_500 }, 2_000), 0, "running again: no wait");
});

t.test("a replica whose start failed waits out the backoff, then starts", async (t) => {
  const d = cluster();
  const waiting = decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(3, 9_000) }));
  t.same(summary(waiting.actions), [], "no start during the wait");
  t.equal(waiting.reason, "PostgreSQL failed to start 3 times in a row: waiting 4 s before starting it again");
  t.match(waiting.detail, /^FATAL: could not access file "no_such_library".* \(next start in 3 s\)$/);
  const later = decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(3, 9_000), nowMs: 12_999 }));
  t.equal(later.reason, waiting.reason, "the sentence stays the same through the wait (it is logged once)");
  t.same(summary(decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(3, 9_000), nowMs: 13_000 })).actions), ["start:replica<pg1"], "then it starts");
  t.match(decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(1, 9_500) })).reason, /failed to start once: waiting 1 s/);
});

t.test("the lease holder keeps renewing while its start backs off; no lease: no read-only start either", async (t) => {
  const d = cluster();
  const down = pg({ process: "crashed", role: null, controlState: "in production", streaming: false });
  const holder = decide(input(d, "pg1", { pg: down, lease: held(), memory: { ...failed(2, 9_500), crashedAtMs: 9_000 } }));
  t.same(summary(holder.actions), ["dcs:renewLease"]);
  t.match(holder.reason, /failed to start 2 times in a row/);
  t.same(summary(decide(input(d, "pg1", { pg: down, lease: held(), memory: { ...failed(2, 8_000), crashedAtMs: 8_000 } })).actions), ["dcs:renewLease", "start:primary"]);
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  t.same(summary(decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(1, 9_900) })).actions), []);
  t.same(summary(decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory: failed(1, 9_000) })).actions), ["start:replica"]);
});

t.test("memory: a failure counts, running marks the recovery, running START_LASTED_MS clears it", async (t) => {
  const one = afterStartFailure(null, "FATAL: x", 1_000);
  t.same(one, { failures: 1, atMs: 1_000, reason: "FATAL: x", runningSinceMs: null });
  const two = afterStartFailure(one, "FATAL: y", 2_500);
  t.same(two, { failures: 2, atMs: 2_500, reason: "FATAL: y", runningSinceMs: null });
  t.equal(afterStartFailure(null, "x".repeat(5_000), 0).reason.length, 2_000, "the reason is bounded");
  t.equal(afterObservation(two, false, 3_000), two, "still down: unchanged");
  const running = afterObservation(two, true, 5_000);
  t.same(running, { ...two, runningSinceMs: 5_000 });
  t.ok(startFailed(two) && !startFailed(running) && !startFailed(null));
  t.equal(afterObservation(running, true, 5_000 + START_LASTED_MS - 1), running);
  t.equal(afterObservation(running, true, 5_000 + START_LASTED_MS), null, "a start that lasted clears the failures");
  t.ok(exitedTooSoon(running, 6_000), "an exit soon after counts as a failure");
  t.notOk(exitedTooSoon(running, 5_000 + START_LASTED_MS));
  t.notOk(exitedTooSoon(two, 6_000));
});

t.test("the member's state is start failed until a start succeeds, never what it was", async (t) => {
  const identity = { name: m("pg2"), apiUrl: "", connUrl: "", tags: { nofailover: false, failoverPriority: 1, nosync: false, noloadbalance: false, clonefrom: false, replicatefrom: null }, agentVersion: "t" };
  t.equal(memberStatus(identity, STOPPED_REPLICA, null, false, true).state, "start failed");
  t.equal(memberStatus(identity, pg({ process: "crashed" }), null, false, true).state, "start failed");
  t.equal(memberStatus(identity, STOPPED_REPLICA, "start", false, true).state, "starting", "while a start runs");
  t.equal(memberStatus(identity, pg(), null, false, true).state, "streaming", "running again: what it does");
  t.equal(memberStatus(identity, STOPPED_REPLICA, null, false, false).state, "stopped");
});

t.test("a start that fails at once every time: 7 starts in 72 s, not 372", async (t) => {
  // Cycles every 50 ms (a busy cluster triggers them on every change); each start fails at once.
  const d = cluster();
  let memory: HaMemory = STEADY_MEMORY;
  let starts = 0;
  for (let nowMs = 10_000; nowMs < 10_000 + 72_000; nowMs += 50) {
    const decided = decide(input(d, "pg2", { pg: STOPPED_REPLICA, memory, nowMs }));
    if (decided.actions.some((a) => a.kind === "start")) {
      starts++;
      memory = { ...memory, startFailure: afterStartFailure(memory.startFailure, "FATAL: x", nowMs) };
    }
  }
  // 0, 1, 3, 7, 15, 31, 63 s: the waits 1, 2, 4 … 32 s.
  t.equal(starts, 7);
  const last: StartFailure | null = memory.startFailure;
  t.equal(last?.failures, 7);
});
