/**
 * The agents' load of bench:dcs's capacity part (issue 13): S clusters of M members sending what
 * real agents at rest send (dcs_bench_workload.ts agentTick: a renewal per loop_wait, unchanged
 * reports once per ttl/3), each cluster's loop at its own phase of the loop_wait; and, `storm.atS`
 * into the measurement, a failover of every tenth cluster within one second (failoverSteps).
 * Measures, per command, the time from send to the answer (applied at that node), the answers
 * during the storm apart, and whether a healthy primary lost its lease (a renewal refused).
 * Prints JSON lines like dcs_load.ts: {"phase":"measure"}, {"phase":"measured"}, the result.
 */
import { agentTick, type Cadence, failoverSteps, type ScopeLive, type Topology } from "./dcs_bench_workload.js";
import { type Load, openLoad } from "./dcs_load_client.js";
import { percentile } from "./raft_bench_protocol.js";

export interface AgentsLoadSpec {
  readonly urls: readonly string[];
  readonly scopes: number;
  readonly membersPerScope: number;
  readonly cadence: Cadence;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** Seconds into the measurement when every `1 / fraction`-th cluster fails over, within one second. */
  readonly storm: { readonly atS: number; readonly fraction: number };
  readonly deadlineMs: number;
}

export interface AgentsLoadResult {
  readonly setupMs: number;
  readonly sent: number;
  readonly accepted: number;
  readonly unavailable: Record<string, number>;
  readonly unanswered: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Commands sent in the storm's second and the one after it. */
  readonly stormP99Ms: number;
  readonly failovers: number;
  readonly failoversDone: number;
  /** Renewals of a healthy primary (not failing over) that were refused: a lease lost. */
  readonly leaseLost: number;
  readonly sendLagMaxMs: number;
}

const TICK_MS = 1;
const ANSWER_WAIT_MS = 10_000;

class Agents {
  readonly live: ScopeLive[];
  readonly failingOver = new Set<number>();
  leaseLost = 0;
  failoversDone = 0;
  readonly stormLatencies: number[] = [];

  constructor(private readonly load: Load, private readonly topology: Topology, private readonly spec: AgentsLoadSpec, generations: readonly number[]) {
    this.live = generations.map((generation) => ({ primary: 0, generation, timeline: 1 }));
  }

  /** One scope's loop tick: what its agents send, the renewal watched for a refusal. */
  tick(scope: number, tick: number, measured: boolean): void {
    if (this.failingOver.has(scope)) return;
    const live = this.live[scope]!;
    for (const planned of agentTick(this.topology, this.spec.cadence, scope, tick, live)) {
      if (planned.command.kind !== "renewLease") {
        this.load.send(planned, measured, false);
        continue;
      }
      const generation = live.generation;
      void this.load.send(planned, measured, true)!.then((answer) => {
        if (!answer.ok && !this.failingOver.has(scope) && this.live[scope]!.generation === generation) this.leaseLost++;
      });
    }
  }

  /** A cluster fails over: its steps one after another, as its agents would. */
  async failover(scope: number): Promise<void> {
    this.failingOver.add(scope);
    const live = this.live[scope]!;
    const { steps, acquire } = failoverSteps(this.topology, scope, live, this.spec.cadence.ttlS * 1000);
    let generation = live.generation;
    for (const [i, planned] of steps.entries()) {
      const sentNs = process.hrtime.bigint();
      const answer = await this.load.send(planned, true, true)!;
      this.stormLatencies.push(Number(process.hrtime.bigint() - sentNs) / 1e6);
      if (!answer.ok) throw new Error(`failover of scope ${scope}: ${planned.command.kind} refused: ${answer.body.toString()}`);
      if (i === acquire) generation = answer.body.readDoubleLE(8);
    }
    this.live[scope] = { primary: (live.primary + 1) % this.topology.membersPerScope, generation, timeline: live.timeline + 1 };
    this.failingOver.delete(scope);
    this.failoversDone++;
  }
}

/** Every scope's loop at its own phase of the loop_wait; the storm on schedule. */
function run(agents: Agents, load: Load, spec: AgentsLoadSpec): Promise<{ lagMaxMs: number; seconds: number; failovers: number }> {
  const periodMs = spec.cadence.loopWaitS * 1000;
  const totalMs = (spec.warmupSeconds + spec.measureSeconds) * 1000;
  const beginNs = process.hrtime.bigint();
  const stormScopes = Array.from({ length: spec.scopes }, (_, s) => s).filter((s) => s % Math.round(1 / spec.storm.fraction) === 0);
  const stormAtMs = (spec.warmupSeconds + spec.storm.atS) * 1000;
  let next = 0;
  let stormNext = 0;
  let lagMaxMs = 0;
  let measureBeginNs = 0n;
  const failovers: Promise<void>[] = [];
  return new Promise((resolve, reject) => {
    const step = (): void => {
      const elapsedMs = Number(process.hrtime.bigint() - beginNs) / 1e6;
      for (;;) {
        // The n-th send overall: scope n mod S, at its phase in loop tick ⌊n / S⌋.
        const tick = Math.floor(next / spec.scopes);
        const scope = next % spec.scopes;
        const dueMs = tick * periodMs + (scope * periodMs) / spec.scopes;
        if (dueMs > elapsedMs || dueMs >= totalMs) break;
        const measured = dueMs >= spec.warmupSeconds * 1000;
        if (measured && measureBeginNs === 0n) {
          measureBeginNs = process.hrtime.bigint();
          load.measureBeginNs = measureBeginNs;
          process.stdout.write(`${JSON.stringify({ phase: "measure" })}\n`);
        }
        if (measured) lagMaxMs = Math.max(lagMaxMs, elapsedMs - dueMs);
        agents.tick(scope, tick, measured);
        next++;
      }
      while (stormNext < stormScopes.length && stormAtMs + (stormNext * 1000) / stormScopes.length <= elapsedMs) {
        failovers.push(agents.failover(stormScopes[stormNext++]!).catch(reject));
      }
      if (elapsedMs < totalMs) setTimeout(step, TICK_MS);
      else void Promise.all(failovers).then(() => resolve({ lagMaxMs, seconds: Number(process.hrtime.bigint() - measureBeginNs) / 1e9, failovers: stormScopes.length }));
    };
    step();
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as AgentsLoadSpec;
  const { load, topology, generations, setupMs } = await openLoad("dcs agents load", spec);
  const agents = new Agents(load, topology, spec, generations);
  const { lagMaxMs, seconds, failovers } = await run(agents, load, spec);
  process.stdout.write(`${JSON.stringify({ phase: "measured" })}\n`);
  const sorted = await load.finish(ANSWER_WAIT_MS);
  const result: AgentsLoadResult = {
    setupMs,
    sent: load.sent,
    accepted: load.accepted,
    unavailable: load.unavailable,
    unanswered: load.pending,
    seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    stormP99Ms: percentile([...agents.stormLatencies].sort((a, b) => a - b), 99),
    failovers,
    failoversDone: agents.failoversDone,
    leaseLost: agents.leaseLost,
    sendLagMaxMs: lagMaxMs,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
