/**
 * The short versions of the fault-injection run for npm test, on three real nodes in network
 * namespaces:
 * - synchronous_mode on, two minutes of node crashes, agent freezes, a primary cut off from its
 *   peers and one-way loss;
 * - issue 14's scenario, asynchronous: the primary, also the Raft leader, cut off from its peers
 *   for 25 s while clients still reach it, then healed, three times.
 * Every checker must pass: no acknowledged write lost, no dual primary, timelines forward and
 * recorded, convergence within NPM_TEST_CONVERGENCE_MS of each heal, no diverged member answering 200 on /replica or
 * /read-only, every failover caused by a fault, a linearizable DCS; and the heals cost no second
 * failover and no restart of the primary. The full runs are
 * `npm run jepsen -- --time 1800 --nemesis all --mode on|async|quorum`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { missingPrerequisite } from "../../lab/jepsen/net/command.js";
import { runJepsen, type RunResult } from "./runner.js";

/**
 * Issue 14 asks for convergence within 10 s of every heal, the harness's default bound
 * (CONVERGENCE_BOUND_MS), which the full 30-minute runs hold on a quiet machine (README). Here the
 * run shares two cores with two other test files, and a rejoin (pg_rewind, a start, an agent's
 * own start) takes up to 12 s: npm test holds a load-proof bound, as heal.test.ts does for the
 * Raft stall, and prints what it measured.
 */
const NPM_TEST_CONVERGENCE_MS = 30_000;

function report(t: Test, result: RunResult): void {
  t.comment(result.summary);
  for (const check of result.checks) t.ok(check.ok, `${check.name}: ${check.figures}${check.problems.length > 0 ? `\n${check.problems.join("\n")}` : ""}`);
  const writes = result.checks.find((c) => c.name === "lost writes")!;
  t.match(writes.figures, /acked=[1-9]\d*/, "writes were acknowledged during the run");
}

const missing = missingPrerequisite();
if (missing !== null) {
  t.plan(0, `the fault-injection run needs network namespaces: ${missing}`);
} else {
  t.test("two minutes of faults in synchronous mode: every checker passes", async (t) => {
    const out = mkdtempSync(join(tmpdir(), "raftgres-jepsen-test-"));
    const result = await runJepsen({ timeS: 120, faults: ["kill-both", "freeze-agent", "partition-primary", "one-way", "kill-postgres"], seed: 11, mode: "on", nodes: 3, out, convergenceBoundMs: NPM_TEST_CONVERGENCE_MS, id: "jt" + String(process.pid % 1000), log: (line) => t.comment(line) });
    report(t, result);
  });

  // Three heals fit in 90 s on a quiet machine; a loaded one may converge slowly enough to fit
  // only two. Each heal must cost no second failover, however many there were.
  t.test("the primary and Raft leader partitioned 25 s, healed at least twice: no second failover", async (t) => {
    const out = mkdtempSync(join(tmpdir(), "raftgres-jepsen-heal-"));
    const result = await runJepsen({ timeS: 90, faults: ["partition-primary-leader"], seed: 14, mode: "async", nodes: 3, out, convergenceBoundMs: NPM_TEST_CONVERGENCE_MS, id: "jh" + String(process.pid % 1000), log: (line) => t.comment(line) });
    report(t, result);
    t.match(result.heals, /heals=[2-9] second_failovers=0 failovers_after_heal=0 primary_restarts_after_heal=0 /, result.heals);
  });
}
