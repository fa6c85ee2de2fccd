/**
 * A step's Raft loop stall (lab/jepsen/raft_stall.ts): a stall an agent logged before the step
 * (a freeze of the step before, say) does not count; one logged in the step does; without one,
 * the metric counts only up to the logging bound.
 */
import t from "tap";
import { loggedStalls, stepStall } from "../../lab/jepsen/raft_stall.js";
import { LOOP_STALL_WARN_MS } from "../../src/raft/runtime/loop_stall.js";

const line = (time: number, stallMs: number): string =>
  JSON.stringify({ level: 40, time, stallMs, lateMs: stallMs - 5, busyMs: 5, msg: `the raft loop stalled for ${stallMs} ms: it ran ${stallMs - 5} ms late and worked 5 ms (was the process stopped or starved of CPU?)` });

const log = [
  line(1_000, 9_902),
  JSON.stringify({ level: 30, time: 1_500, msg: "this member holds the lease" }),
  "not json, the raft loop stalled for 99999 ms",
  line(5_000, 350),
  line(9_000, 260),
  "",
].join("\n");

t.test("stalls logged in the step are taken, those before or after it are not", async (t) => {
  t.same(loggedStalls(log, 2_000, 8_000), [350], "only the stall logged inside the step");
  t.same(loggedStalls(log, 0, 10_000), [9_902, 350, 260], "every stall of the whole log");
  t.same(loggedStalls(log, 10_000, 20_000), [], "none after the last");
});

t.test("the step's stall: the longest logged, else the metric up to the logging bound", async (t) => {
  t.equal(stepStall(9_902, [350, 260]), 350, "a frozen agent's 9.9 s from the step before does not count; the 350 ms in the step does");
  t.equal(stepStall(9_902, []), LOOP_STALL_WARN_MS, "nothing logged in the step: at most the bound");
  t.equal(stepStall(120, []), 120, "a recent maximum below the bound is the answer");
  t.equal(stepStall(null, []), null, "no metric and no log: unknown");
  t.equal(stepStall(null, [410]), 410, "the log alone answers");
});
