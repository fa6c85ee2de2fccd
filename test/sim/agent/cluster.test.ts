/**
 * The cluster workload in the test run (test/sim/agent/cluster_workload.ts): whole agents under
 * faults and operator requests, in each synchronous mode, and planted bugs the checkers must catch. More seeds:
 * `npm run sim -- --workload cluster --mode on|quorum|async --seeds N`.
 */
import t from "tap";
import { type ClusterMode, type ClusterRunOptions, runClusterSeed } from "./cluster_workload.js";

const SEEDS = Number(process.env["SIM_TEST_CLUSTER_SEEDS"] ?? 24);

for (const mode of ["on", "quorum", "async"] as const satisfies readonly ClusterMode[]) {
  t.test(`${SEEDS} seeds of whole agents under faults, synchronous mode ${mode}: every check passes`, async (t) => {
    const failed: string[] = [];
    let acked = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await runClusterSeed({ seed, mode });
      acked += result.acked;
      if (!result.ok) failed.push(`seed ${seed}: ${result.faults.join(" | ")}\n  ${result.failures.join("\n  ")}`);
    }
    t.same(failed, [], `failing seeds (replay with npm run sim -- --workload cluster --mode ${mode} --seed N):\n${failed.join("\n")}`);
    t.ok(acked > SEEDS * 500, `clients had ${acked} writes acknowledged`);
  });
}

/** Each planted bug, the run that exposes it, and what the checkers must say (within 10 seeds). */
const PLANTED: readonly { readonly title: string; readonly options: Omit<ClusterRunOptions, "seed">; readonly caught: RegExp }[] = [
  {
    title: "commits acknowledged before the synchronous standby has them are caught as lost",
    options: { mode: "on", bugs: { ackBeforeSync: true } },
    caught: /acknowledged writes are not on the final primary/,
  },
  {
    title: "a primary whose lease ran out is not fenced, and two primaries acknowledging at once are caught",
    options: { mode: "async", bugs: { noFence: true } },
    caught: /two primaries acknowledged writes at once/,
  },
  {
    title: "a switchover requested in pause is ignored, and the request left pending is caught",
    options: { mode: "async", operatorShare: 1, bugs: { ignorePausedSwitchover: true } },
    caught: /switchover in pause .* neither completed nor was refused within 30 s/,
  },
  {
    title: "a renewal without an answer counts as granted, and the primary going on past its lease is caught",
    options: { mode: "async", bugs: { renewWithoutAnswer: true } },
    caught: /two primaries acknowledged writes at once/,
  },
  {
    title: "every cycle renews the lease, due or not, and the log growing faster than the cadence at rest is caught",
    options: { mode: "async", bugs: { renewEveryCycle: true } },
    caught: /at rest the log grew by \d+ entries in 20 s; the cadence .* allows \d+/,
  },
];

for (const planted of PLANTED) {
  t.test(`planted bug: ${planted.title}`, async (t) => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 10 && caught === null; seed++) {
      const result = await runClusterSeed({ ...planted.options, seed });
      if (!result.ok) caught = `seed ${seed}: ${result.failures.join("; ").slice(0, 300)}`;
    }
    t.match(caught, planted.caught, String(caught));
  });
}
