/**
 * The cluster workload's seeds in the test run (cluster_workload.ts), one test file per
 * synchronous mode so the test runner spreads them over its jobs: whole agents under faults and
 * operator requests, every check after every seed. More seeds:
 * `npm run sim -- --workload cluster --mode on|quorum|async --seeds N`.
 */
import t from "tap";
import { type ClusterMode, runClusterSeed } from "./cluster_workload.js";

/** 67 seeds in each of the three modes: 201 in all (issue 17: at least 200 in npm test). */
export const SEEDS_PER_MODE = Number(process.env["SIM_TEST_CLUSTER_SEEDS"] ?? 67);

export function clusterSeedsTest(mode: ClusterMode): void {
  t.test(`${SEEDS_PER_MODE} seeds of whole agents under faults and operator requests, synchronous mode ${mode}: every check passes`, async (t) => {
    const failed: string[] = [];
    let acked = 0;
    for (let seed = 1; seed <= SEEDS_PER_MODE; seed++) {
      const result = await runClusterSeed({ seed, mode });
      acked += result.acked;
      if (!result.ok) failed.push(`seed ${seed}: ${result.faults.join(" | ")}\n  ${result.failures.join("\n  ")}`);
    }
    t.same(failed, [], `failing seeds (replay with npm run sim -- --workload cluster --mode ${mode} --seed N --verbose):\n${failed.join("\n")}`);
    t.ok(acked > SEEDS_PER_MODE * 500, `clients had ${acked} writes acknowledged`);
  });
}
