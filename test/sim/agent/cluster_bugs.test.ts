/**
 * Planted bugs the cluster workload's checkers must catch (test/sim/agent/cluster_workload.ts);
 * the seeds that must pass are in cluster_on, cluster_quorum and cluster_async.test.ts. One by
 * hand: `npm run sim -- --workload cluster --seeds 10 --bug NAME`.
 */
import t from "tap";
import { type ClusterRunOptions, runClusterSeed } from "./cluster_workload.js";

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
    caught: /at rest the log grew by \d+ entries in 10 s; the cadence .* allows \d+/,
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
