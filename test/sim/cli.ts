/**
 * npm run sim -- --seeds N [--from S] [--seed S] [--nodes 3|5] [--jobs J] [--bug NAME] [--workload register|dcs]
 * npm run sim -- --workload cluster [--mode async|on|quorum] --seeds N [--from S] [--seed S] [--bug ackBeforeSync|noFence]
 *
 * Runs N deterministic simulations (seeds S..S+N-1, S = 1 by default) on J worker threads, or one
 * seed with its details (--seed). A failing seed prints its id; `--seed` replays it exactly.
 * --bug plants a mistake in the runtime (sendBeforePersist: in the shared driver; forgetVote, staleReads,
 * forgetTail: a node that lost its log's tail to a storage fault starts as a voter anyway) to
 * show the checkers catch it. --workload dcs replicates the cluster state (DCS) instead of the
 * registers and checks its leases and config compare-and-set. --workload cluster runs whole
 * agents (the real HA loop, simulated PostgreSQL) under faults (test/sim/agent/cluster_workload.ts),
 * one seed after another. Exits non-zero if any seed fails.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { runClusterCli } from "./agent/cluster_cli.js";
import type { SimBugs } from "./sim_node.js";
import { runSimulation, type SimResult } from "./simulation.js";

interface Job {
  readonly from: number;
  readonly count: number;
  readonly stride: number;
  readonly nodes: 3 | 5 | undefined;
  readonly bugs: Partial<SimBugs>;
  readonly workload: "register" | "dcs";
}

const BUGS = ["sendBeforePersist", "forgetVote", "staleReads", "forgetTail"] as const;

function runJob(job: Job, report: (result: SimResult) => void): void {
  for (let seed = job.from; seed < job.from + job.count * job.stride; seed += job.stride) {
    report(runSimulation({ seed, ...(job.nodes === undefined ? {} : { nodes: job.nodes }), bugs: job.bugs, workload: job.workload }));
  }
}

function parse(): { job: Job; single: number | null; jobs: number } {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "100" },
      from: { type: "string", default: "1" },
      seed: { type: "string" },
      nodes: { type: "string" },
      jobs: { type: "string" },
      bug: { type: "string" },
      workload: { type: "string", default: "register" },
    },
  });
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new Error(`--nodes must be 3 or 5, got ${values.nodes}`);
  const bug = values.bug;
  if (bug !== undefined && !(BUGS as readonly string[]).includes(bug)) throw new Error(`--bug must be one of ${BUGS.join(", ")}`);
  const workload = values.workload;
  if (workload !== "register" && workload !== "dcs") throw new Error(`--workload must be register or dcs, got ${workload}`);
  const count = Number(values.seeds);
  const from = Number(values.from);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`--seeds must be a positive integer, got ${values.seeds}`);
  return {
    job: { from, count, stride: 1, nodes, bugs: bug === undefined ? {} : { [bug]: true }, workload },
    single: values.seed === undefined ? null : Number(values.seed),
    jobs: Math.max(1, Number(values.jobs ?? availableParallelism())),
  };
}

function printFailure(result: SimResult): void {
  console.log(`seed ${result.seed} FAILED (${result.config})`);
  for (const failure of result.failures) console.log(`  ${failure}`);
  console.log(`  replay: npm run sim -- --seed ${result.seed}`);
}

async function main(): Promise<void> {
  const { job, single, jobs } = parse();
  if (single !== null) {
    const result = runSimulation({ seed: single, ...(job.nodes === undefined ? {} : { nodes: job.nodes }), bugs: job.bugs, workload: job.workload });
    console.log(`seed ${single}: ${result.ok ? "ok" : "FAILED"}\n  config: ${result.config}\n  stats: ${JSON.stringify(result.stats)}`);
    if (!result.ok) printFailure(result);
    process.exitCode = result.ok ? 0 : 1;
    return;
  }
  const started = performance.now();
  const workers = Math.min(jobs, job.count);
  let done = 0;
  let failed = 0;
  const totals = { ops: 0, faults: 0, leaders: 0, messages: 0 };
  const onResult = (result: SimResult): void => {
    done++;
    totals.ops += result.stats.ops;
    totals.faults += result.stats.faults;
    totals.leaders += result.stats.leaders;
    totals.messages += result.stats.messages;
    if (!result.ok) {
      failed++;
      printFailure(result);
    }
    if (done % 1000 === 0) console.log(`... ${done}/${job.count} seeds, ${failed} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve, reject) => {
    const slice: Job = { ...job, from: job.from + w, count: Math.ceil((job.count - w) / workers), stride: workers };
    const worker = new Worker(new URL("./worker_entry.mjs", import.meta.url), { workerData: slice });
    worker.on("message", onResult);
    worker.on("error", reject);
    worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`simulation worker exited with ${code}`))));
  })));
  const seconds = (performance.now() - started) / 1000;
  console.log(`sim: ${done - failed}/${done} seeds passed (seeds ${job.from}..${job.from + job.count - 1}) in ${seconds.toFixed(1)} s; ` +
    `${totals.ops} client operations, ${totals.faults} faults, ${totals.leaders} leaders elected, ${totals.messages} messages`);
  process.exitCode = failed === 0 ? 0 : 1;
}

if (isMainThread && process.argv.includes("cluster")) {
  runClusterCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  });
} else if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  });
} else {
  runJob(workerData as Job, (result) => parentPort!.postMessage(result));
}
