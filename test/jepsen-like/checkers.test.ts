/**
 * Each checker of the harness against a clean history and against one with a planted bug it must
 * catch: a lost acknowledged write, two nodes acknowledging at once, a timeline nobody recorded,
 * a heal without convergence, a stale read of the DCS.
 */
import t from "tap";
import { checkConvergence, checkDualPrimary, checkLinearizable, checkLostWrites, checkTimelines, type TimelineRecord } from "../../lab/jepsen/checkers.js";
import type { DcsEvent, WriteEvent } from "../../lab/jepsen/history.js";
import { timelineSvg } from "./timeline_svg.js";

function write(id: number, node: string, timeline: number, endMs: number, outcome: WriteEvent["outcome"] = "ok", lsn = 1000 + id): WriteEvent {
  return { type: "write", writer: "dsn", id, startMs: endMs - 5, endMs, outcome, node: outcome === "ok" ? node : null, timeline: outcome === "ok" ? timeline : null, lsn: outcome === "ok" ? String(lsn) : null };
}

const HISTORY: TimelineRecord[] = [
  { timeline: 1, lsn: 0n, reason: "bootstrap", newPrimary: "n1" },
  { timeline: 2, lsn: 1003n, reason: "failover", newPrimary: "n2" },
];

/** n1 on timeline 1 until 300 ms, a gap, n2 on timeline 2 from 600 ms. */
const CLEAN = [write(1, "n1", 1, 100), write(2, "n1", 1, 200), write(3, "n1", 1, 300), write(4, "x", 0, 450, "unknown"), write(5, "n2", 2, 600), write(6, "n2", 2, 700)];

t.test("lost writes: every acknowledged write on the final primary, else named", async (t) => {
  const all = new Set(CLEAN.filter((w) => w.outcome === "ok").map((w) => w.id));
  t.ok(checkLostWrites(CLEAN, all, { synchronous: true, maxLagBytes: 0, history: HISTORY }).ok, "nothing lost");
  const planted = new Set([...all].filter((id) => id !== 3));
  const sync = checkLostWrites(CLEAN, planted, { synchronous: true, maxLagBytes: 1 << 20, history: HISTORY });
  t.notOk(sync.ok, "a missing acknowledged write fails a synchronous run");
  t.match(sync.problems[0], /1 acknowledged writes are missing on the final primary: 3 \(dsn→n1 tl 1/);
  const async = checkLostWrites(CLEAN, planted, { synchronous: false, maxLagBytes: 1 << 20, history: HISTORY });
  t.ok(async.ok, "asynchronous: counted, within maximum_lag_on_failover");
  t.match(async.figures, /lost=1 lost_bytes=0/, "write 3 at lsn 1003 is not beyond the fork at 1003");
  const far = [...CLEAN.slice(0, 2), write(3, "n1", 1, 300, "ok", 5000), ...CLEAN.slice(3)];
  const over = checkLostWrites(far, planted, { synchronous: false, maxLagBytes: 100, history: HISTORY });
  t.notOk(over.ok, "asynchronous: beyond maximum_lag_on_failover fails");
  t.match(over.figures, /lost_bytes=3997/);
  t.ok(checkLostWrites(CLEAN, new Set([1, 2, 3, 5, 6]), { synchronous: true, maxLagBytes: 0, history: HISTORY }).ok, "an unknown write may be missing");
});

t.test("dual primary: overlapping acknowledgements of two nodes, in ms", async (t) => {
  const clean = checkDualPrimary(CLEAN);
  t.ok(clean.ok);
  t.match(clean.figures, /dual_primary_ms=0 tenures=2/);
  const planted = checkDualPrimary([...CLEAN, write(7, "n1", 1, 650)]);
  t.notOk(planted.ok, "the old primary acknowledging after the new one's first write");
  t.match(planted.figures, /dual_primary_ms=50 /);
  t.match(planted.problems[0], /n1 \(timeline 1\) and n2 \(timeline 2\) both acknowledged writes for 50\.0 ms/);
});

t.test("timelines: forward only, each recorded", async (t) => {
  t.ok(checkTimelines(CLEAN, HISTORY).ok);
  const unrecorded = checkTimelines([...CLEAN, write(8, "n3", 3, 900)], HISTORY);
  t.notOk(unrecorded.ok);
  t.match(unrecorded.problems[0], /timeline 3, which the history does not record/);
  const backwards = checkTimelines([...CLEAN, write(9, "n1", 1, 800)], HISTORY);
  t.notOk(backwards.ok, "an acknowledgement on an older timeline after a newer one");
  t.match(backwards.problems.join("\n"), /write 9 was acknowledged on timeline 1 by n1 after timeline 2/);
  t.notOk(checkTimelines(CLEAN, [HISTORY[1]!, HISTORY[0]!]).ok, "a history that goes back");
});

t.test("convergence within the bound after every heal", async (t) => {
  t.ok(checkConvergence([{ type: "convergence", afterFault: "kill-both", atMs: 5000, ms: 2300 }], 10_000).ok);
  const slow = checkConvergence([{ type: "convergence", afterFault: "partition-halves", atMs: 9000, ms: 14_000 }, { type: "convergence", afterFault: "loss", atMs: 30_000, ms: null }], 10_000);
  t.notOk(slow.ok);
  t.equal(slow.problems.length, 2);
  t.match(slow.problems[1], /no convergence/);
});

function dcs(client: number, op: "read" | "cas", startMs: number, endMs: number, expected: string | null, value: string | null = null, ok: boolean | null = true): DcsEvent {
  return { type: "dcs", client, op, startMs, endMs, node: "n1", expected, value, ok };
}

t.test("linearizable DCS: compare-and-set and consistent reads", async (t) => {
  const clean = [dcs(1, "read", 0, 10, null), dcs(1, "cas", 20, 30, null, "a"), dcs(2, "read", 40, 50, "a"), dcs(2, "cas", 60, 70, "a", "b"), dcs(3, "cas", 65, 75, "a", "c", false), dcs(1, "read", 80, 90, "b")];
  t.ok(checkLinearizable(clean).ok, "a legal history");
  const stale = [...clean, dcs(3, "read", 100, 110, "a")];
  const verdict = checkLinearizable(stale);
  t.notOk(verdict.ok, "a read of a value overwritten before it started");
  t.match(verdict.figures, /verdict=illegal/);
  const lostUpdate = [dcs(1, "cas", 0, 10, null, "a"), dcs(2, "cas", 20, 30, null, "b")];
  t.notOk(checkLinearizable(lostUpdate).ok, "two compare-and-sets from the same value both succeeding");
  t.ok(checkLinearizable([dcs(1, "cas", 0, Infinity, null, "a", null), dcs(2, "read", 50, 60, "a")]).ok, "an unknown write may have happened");
});

t.test("the timeline picture names the faults and the nodes", async (t) => {
  const svg = timelineSvg([{ type: "fault", name: "kill-both", phase: "start", atMs: 150, detail: "kill -9 n1" }, { type: "fault", name: "kill-both", phase: "end", atMs: 400, detail: "" }, { type: "sample", atMs: 0, primaries: ["n1"] }, ...CLEAN], ["n1", "n2"], "run");
  t.match(svg, /^<svg/);
  t.match(svg, /kill-both: kill -9 n1/);
  t.match(svg, />n2</);
});
