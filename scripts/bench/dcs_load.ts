/**
 * The load process of the DCS benchmark: the agents of S scopes × M members, each talking to the
 * DCS node that hosts it (one WebSocket per node). First it bootstraps every scope (the primary
 * reports, initializes the scope and takes the lease; the replicas report), then it runs the
 * steady pattern (dcs_bench_workload.ts): every second each member reports its status and each
 * primary renews its lease, the commands of a second spread evenly over it. After `warmupSeconds`
 * it measures for `measureSeconds`: per command, the time from send to the answer (applied at
 * that node). Prints JSON lines on stdout: {"phase":"measure"} when the measurement starts,
 * {"phase":"measured"} when it ends, then the result; exits when its stdin closes.
 */
import { commandsPerSecond, steadySecond, type Topology } from "./dcs_bench_workload.js";
import { type Load, openLoad } from "./dcs_load_client.js";
import { percentile } from "./raft_bench_protocol.js";

const ANSWER_WAIT_MS = 10_000;
const TICK_MS = 1;

export interface DcsLoadSpec {
  readonly urls: readonly string[];
  readonly scopes: number;
  readonly membersPerScope: number;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** The process gives up (exit 2) after this long, whatever happens. */
  readonly deadlineMs: number;
}

export interface DcsLoadResult {
  readonly setupMs: number;
  readonly sent: number;
  readonly accepted: number;
  readonly rejected: Record<string, number>;
  readonly unavailable: Record<string, number>;
  readonly unanswered: number;
  /** From the first to the last send of the measurement. */
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly p99MsByNode: readonly number[];
  /** Commands answered after more than 50 ms, and the 100 ms windows (by send time) with the worst ones. */
  readonly over50Ms: number;
  readonly worstWindows: readonly { readonly atS: number; readonly maxMs: number }[];
  /** Largest delay of a send behind its schedule (ms): how evenly the load was actually spread. */
  readonly sendLagMaxMs: number;
  readonly warmupProblems: number;
}

/**
 * Sends second after second of the steady pattern, command k of a second at k/N of it, from a
 * 1 ms timer that sends whatever is due (so a late timer catches up instead of drifting).
 */
function steady(load: Load, topology: Topology, generations: readonly number[], spec: DcsLoadSpec): Promise<{ lagMaxMs: number; seconds: number }> {
  const perSecond = commandsPerSecond(topology);
  const totalSeconds = spec.warmupSeconds + spec.measureSeconds;
  const beginNs = process.hrtime.bigint();
  let second = 0;
  let k = 0;
  let planned = steadySecond(topology, 1, generations);
  let lagMaxMs = 0;
  let measureBeginNs = 0n;
  return new Promise((resolve) => {
    const tick = (): void => {
      const elapsedMs = Number(process.hrtime.bigint() - beginNs) / 1e6;
      while (second < totalSeconds) {
        const dueMs = second * 1000 + (k * 1000) / perSecond;
        if (dueMs > elapsedMs) break;
        const measured = second >= spec.warmupSeconds;
        if (measured) lagMaxMs = Math.max(lagMaxMs, elapsedMs - dueMs);
        if (second === spec.warmupSeconds && k === 0) {
          measureBeginNs = process.hrtime.bigint();
          load.measureBeginNs = measureBeginNs;
          process.stdout.write(`${JSON.stringify({ phase: "measure" })}\n`);
        }
        load.send(planned[k]!, measured, false);
        if (++k === perSecond) {
          k = 0;
          second++;
          planned = steadySecond(topology, second + 1, generations);
        }
      }
      if (second < totalSeconds) setTimeout(tick, TICK_MS);
      else resolve({ lagMaxMs, seconds: Number(process.hrtime.bigint() - measureBeginNs) / 1e9 });
    };
    tick();
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as DcsLoadSpec;
  const { load, topology, generations, setupMs } = await openLoad("dcs load", spec);
  const { lagMaxMs: sendLagMaxMs, seconds } = await steady(load, topology, generations, spec);
  process.stdout.write(`${JSON.stringify({ phase: "measured" })}\n`);
  const sorted = await load.finish(ANSWER_WAIT_MS);
  const result: DcsLoadResult = {
    setupMs,
    sent: load.sent,
    accepted: load.accepted,
    rejected: load.rejected,
    unavailable: load.unavailable,
    unanswered: load.pending,
    seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    p99MsByNode: load.byNode.map((l) => percentile([...l].sort((a, b) => a - b), 99)),
    over50Ms: sorted.filter((ms) => ms > 50).length,
    worstWindows: [...load.windowMaxMs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([w, maxMs]) => ({ atS: w / 10, maxMs })),
    sendLagMaxMs,
    warmupProblems: load.warmupProblems,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Stay until the orchestrator has read our CPU time and closes our stdin.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
