/**
 * `npm run sim -- --workload cluster [--mode async|on|quorum] --seeds N [--from S] [--seed S]
 * [--bug ackBeforeSync|noFence|ignorePausedSwitchover|renewWithoutAnswer|renewEveryCycle] [--verbose]`: whole-agent seeds one after another (test/sim/agent/cluster_workload.ts),
 * a line per failing seed with its faults and what failed, and a last line with the totals and
 * the simulated seconds per wall second. A failing seed replays exactly with --seed (and
 * --verbose prints the agents' log lines on virtual time).
 */
import { parseArgs } from "node:util";
import { CLUSTER_BUGS, type ClusterBugs, type ClusterMode, runClusterSeed } from "./cluster_workload.js";

const MODES: readonly ClusterMode[] = ["async", "on", "quorum"];

export async function runClusterCli(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      workload: { type: "string" },
      mode: { type: "string", default: "on" },
      seeds: { type: "string", default: "10" },
      from: { type: "string", default: "1" },
      seed: { type: "string" },
      bug: { type: "string" },
      verbose: { type: "boolean", default: false },
    },
  });
  const mode = values.mode as ClusterMode;
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(", ")}, got ${values.mode}`);
  const bug = values.bug as keyof ClusterBugs | undefined;
  if (bug !== undefined && !CLUSTER_BUGS.includes(bug)) throw new Error(`--bug for the cluster workload must be one of ${CLUSTER_BUGS.join(", ")}, got ${values.bug}`);
  const single = values.seed === undefined ? null : Number(values.seed);
  const from = single ?? Number(values.from);
  const count = single === null ? Number(values.seeds) : 1;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(count) || count < 1) throw new Error(`--from/--seed and --seeds must be positive integers`);
  const bugs: ClusterBugs = bug === undefined ? {} : { [bug]: true };
  const started = performance.now();
  let failed = 0;
  let virtualMs = 0;
  let acked = 0;
  let promotions = 0;
  for (let seed = from; seed < from + count; seed++) {
    const log = single !== null && values.verbose === true ? (line: string) => console.log(line) : undefined;
    const result = await runClusterSeed({ seed, mode, bugs, ...(log === undefined ? {} : { log }) });
    virtualMs += result.virtualMs;
    acked += result.acked;
    promotions += Math.max(0, (result.timeline ?? 1) - 1);
    if (single !== null || !result.ok) {
      console.log(`seed ${seed} (${mode}): ${result.ok ? "ok" : "FAILED"}, ${result.acked} writes acknowledged, final timeline ${result.timeline}, synchronous_standby_names ${JSON.stringify(result.syncStandbyNames)}`);
      for (const fault of result.faults) console.log(`  fault at ${fault}`);
      for (const failure of result.failures) console.log(`  ${failure}`);
      if (!result.ok) console.log(`  replay: npm run sim -- --workload cluster --mode ${mode} --seed ${seed}`);
    }
    if (!result.ok) failed++;
  }
  const wallS = (performance.now() - started) / 1000;
  console.log(`sim cluster: ${count - failed}/${count} seeds passed (mode ${mode}, seeds ${from}..${from + count - 1}) in ${wallS.toFixed(1)} s; ` +
    `${acked} writes acknowledged, ${promotions} promotions; ${(virtualMs / 1000).toFixed(0)} simulated s, ${(virtualMs / 1000 / wallS).toFixed(1)} simulated s per wall s`);
  return failed === 0 ? 0 : 1;
}
