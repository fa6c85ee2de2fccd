/**
 * The cluster workload of the simulator (issue 17 items 4–6, first step): whole agents
 * (sim_agents.ts) under a seeded schedule of faults — a host crash and its return, a crash of
 * PostgreSQL alone, an agent frozen (SIGSTOP) while its watchdog and PostgreSQL run on, a member
 * cut off from the others while the clients still reach it — with
 * clients writing throughout, then checked:
 * - never two members acknowledging writes at overlapping times;
 * - in synchronous mode, no acknowledged write missing from the final primary;
 * - after the last heal, one primary and every other member streaming from it within a bound;
 * - every timeline of the final primary's history recorded in the cluster's, where it branched;
 * - no failover after a fault that did not touch the primary;
 * - no member reports itself usable for reads on a fork of the primary's WAL (check_diverged.ts);
 * - every operator request (cluster_operator.ts) completes or is refused with a reason;
 * - at rest (converged, clients writing), the log grows no faster than the cadence allows: a
 *   renewal per loop_wait and a report per member per loop_wait (issue 13);
 * - every simulated server's own invariants after every run step.
 */
import type { MemberName } from "../../../src/dcs/model.js";
import type { JsonObject } from "../../../src/dcs/json.js";
import { jsonLogger } from "../../../src/lib/json_logger.js";
import type { Logger } from "../../../src/lib/logger.js";
import { createPrng, pick, type Prng } from "../../../src/lib/prng.js";
import { missingAcknowledged, overlappingPrimaries } from "../pg/sim_clients.js";
import { DivergedReadsCheck } from "./check_diverged.js";
import { OPERATIONS, send } from "./cluster_operator.js";
import { SIM_SCOPE, SimAgents } from "./sim_agents.js";

export type ClusterMode = "async" | "on" | "quorum";

const MODE_CONFIG: Record<ClusterMode, JsonObject> = {
  async: {},
  on: { synchronous_mode: true },
  quorum: { synchronous_mode: "quorum" },
};

export interface ClusterRunOptions {
  readonly seed: number;
  readonly mode: ClusterMode;
  /** Fault steps after the bootstrap. */
  readonly steps?: number;
  /** The share of steps that are an operator's request rather than a fault (0.25 unless given). */
  readonly operatorShare?: number;
  /** Planted bugs (test/sim/pg's and the agents'), to show the checkers catch them. */
  readonly bugs?: ClusterBugs;
  /** Where the agents' log lines go (info and above, as JSON lines with the virtual time), to replay a seed; none by default. */
  readonly log?: (line: string) => void;
}

export interface ClusterBugs {
  readonly ackBeforeSync?: boolean;
  readonly noFence?: boolean;
  readonly ignorePausedSwitchover?: boolean;
  readonly renewWithoutAnswer?: boolean;
  readonly renewEveryCycle?: boolean;
}

export const CLUSTER_BUGS = ["ackBeforeSync", "noFence", "ignorePausedSwitchover", "renewWithoutAnswer", "renewEveryCycle"] as const satisfies readonly (keyof ClusterBugs)[];

export interface ClusterRunResult {
  readonly seed: number;
  readonly mode: ClusterMode;
  readonly ok: boolean;
  readonly failures: string[];
  readonly faults: string[];
  readonly acked: number;
  readonly virtualMs: number;
  /** synchronous_standby_names of the primary once the mode was set (before the faults). */
  readonly syncStandbyNames: string | null;
  /** The final primary's timeline (how many promotions the run went through, plus one). */
  readonly timeline: number | null;
}

/** After the last heal, the cluster must have converged within this (virtual) time. */
export const CONVERGENCE_BOUND_MS = 60_000;

type Fault = (sim: SimAgents, prng: Prng) => { readonly name: string; readonly victim: MemberName; readonly heal: () => void };

/** The primary now, else any member: most faults are aimed where they hurt. */
function target(sim: SimAgents, prng: Prng): MemberName {
  const primary = sim.primaries()[0];
  return primary !== undefined && prng.chance(0.7) ? primary : pick(prng, sim.members);
}

const FAULTS: readonly Fault[] = [
  (sim, prng) => {
    const m = target(sim, prng);
    sim.crashHost(m);
    return { name: `host of ${m} crashed`, victim: m, heal: () => sim.restartHost(m) };
  },
  (sim, prng) => {
    const m = target(sim, prng);
    sim.pg.crash(m, "process");
    return { name: `PostgreSQL of ${m} crashed`, victim: m, heal: () => {} };
  },
  (sim, prng) => {
    const m = target(sim, prng);
    sim.freezeAgent(m);
    return { name: `agent of ${m} frozen (its watchdog and PostgreSQL run on)`, victim: m, heal: () => sim.thawAgent(m) };
  },
  (sim, prng) => {
    const m = target(sim, prng);
    sim.isolated.add(m);
    return { name: `${m} cut off from the other members (clients still reach it)`, victim: m, heal: () => sim.isolated.delete(m) };
  },
];

/** Why the cluster has not converged: null once one primary runs and every other member streams from it. */
function notConverged(sim: SimAgents): string | null {
  const primaries = sim.primaries();
  if (primaries.length !== 1) return `${primaries.length} primaries (${primaries.join(", ")})`;
  const primary = primaries[0]!;
  for (const m of sim.members) {
    if (m === primary) continue;
    const observed = sim.pg.observe(m);
    if (observed.role !== "replica" || !observed.streaming || observed.upstream !== primary) {
      return `${m} is ${observed.process}, ${observed.role ?? "no role"}, ${observed.streaming ? "streaming" : "not streaming"} from ${observed.upstream ?? "nobody"}`;
    }
  }
  return null;
}

export async function runClusterSeed(options: ClusterRunOptions): Promise<ClusterRunResult> {
  const prng = createPrng(options.seed * 7919 + 17);
  const bugs = options.bugs ?? {};
  let nowMs = (): number => 0;
  const log = options.log;
  const logger = log === undefined ? undefined : (member: MemberName): Logger => jsonLogger({ write: (line) => log(line.trimEnd()), now: () => nowMs(), base: { member } });
  const sim = new SimAgents({
    seed: options.seed,
    pg: { ackBeforeSync: bugs.ackBeforeSync ?? false },
    bugs: { noFence: bugs.noFence ?? false, ignorePausedSwitchover: bugs.ignorePausedSwitchover ?? false, renewWithoutAnswer: bugs.renewWithoutAnswer ?? false, renewEveryCycle: bugs.renewEveryCycle ?? false },
    ...(logger === undefined ? {} : { logger }),
  });
  nowMs = () => sim.queue.now;
  const divergedReads = new DivergedReadsCheck(sim);
  const operatorShare = options.operatorShare ?? 0.25;
  let syncStandbyNames: string | null = null;
  const failures: string[] = [];
  const faults: string[] = [];
  const settled = async (what: string): Promise<boolean> => {
    for (let waited = 0; waited < CONVERGENCE_BOUND_MS; waited += 1000) {
      if (notConverged(sim) === null) return true;
      await sim.run(1000);
    }
    const why = notConverged(sim);
    if (why !== null) failures.push(`not converged ${CONVERGENCE_BOUND_MS / 1000} s after ${what}: ${why}`);
    return why === null;
  };
  try {
    await sim.run(30_000);
    if (!(await settled("the bootstrap"))) return result();
    const primary = sim.primaries()[0]!;
    const patched = await configure(sim, primary, MODE_CONFIG[options.mode]);
    if (patched !== null) failures.push(patched);
    await sim.run(5_000);
    syncStandbyNames = sim.pg.observe(primary).syncStandbyNames;
    if (options.mode !== "async" && (syncStandbyNames ?? "") === "") failures.push(`synchronous mode ${options.mode} is not in force: synchronous_standby_names is ${JSON.stringify(syncStandbyNames)}`);
    sim.startWriter(50);
    const steps = options.steps ?? 4;
    for (let step = 0; step < steps; step++) {
      await sim.run(prng.int(1_000, 10_000));
      if (prng.chance(operatorShare)) {
        const operation = await pick(prng, OPERATIONS)(sim, prng);
        faults.push(`${Math.round(sim.queue.now / 100) / 10} s ${operation.name}`);
        failures.push(...operation.failures);
        if (!(await settled(operation.name))) break;
        // The primary may move when the operator asked for it, and only then.
        const after = sim.primaries()[0];
        if (!operation.movesPrimary && operation.from !== null && after !== operation.from) failures.push(`the primary moved from ${operation.from} to ${after} after "${operation.name}", which did not ask for it`);
        continue;
      }
      const before = sim.primaries()[0];
      const fault = pick(prng, FAULTS)(sim, prng);
      faults.push(`${Math.round(sim.queue.now / 100) / 10} s ${fault.name}`);
      await sim.run(prng.int(2_000, 25_000));
      fault.heal();
      if (!(await settled(fault.name))) break;
      // A fault on a replica explains no failover.
      const after = sim.primaries()[0];
      if (before !== undefined && fault.victim !== before && after !== before) failures.push(`the primary moved from ${before} to ${after} after "${fault.name}", a fault that did not touch it`);
    }
    await sim.run(5_000);
    const cadence = await restCadence(sim);
    if (cadence !== null) failures.push(cadence);
    failures.push(...divergedReads.violations);
    const overlaps = overlappingPrimaries(sim.clients);
    if (overlaps.length > 0) failures.push(`two primaries acknowledged writes at once: ${overlaps.join("; ")}`);
    const final = sim.primaries()[0];
    if (options.mode !== "async" && final !== undefined) {
      const lost = missingAcknowledged(sim.pg, sim.clients, final);
      if (lost.length > 0) failures.push(`${lost.length} acknowledged writes are not on the final primary ${final}: ${lost.slice(0, 10).join(", ")}`);
    }
    if (sim.clients.acked().length === 0) failures.push("no write was acknowledged");
    if (final !== undefined) failures.push(...unrecordedTimelines(sim, final));
  } catch (error: unknown) {
    failures.push(`the simulation failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  return result();

  function finalTimeline(): number | null {
    const final = sim.primaries()[0];
    return final === undefined ? null : sim.pg.server(final).d.timeline;
  }

  function result(): ClusterRunResult {
    return { seed: options.seed, mode: options.mode, ok: failures.length === 0, failures, faults, acked: sim.clients.acked().length, virtualMs: sim.queue.now, syncStandbyNames, timeline: finalTimeline() };
  }
}

/** How long the cluster is watched at rest, and the entries allowed beyond the cadence in that time. */
export const REST_WINDOW_MS = 10_000;
const REST_SLACK_ENTRIES = 6;

/**
 * Null when the log grew no faster than the cadence allows over REST_WINDOW_MS of a converged
 * cluster (nothing to say about one that has not converged: that is reported already).
 */
async function restCadence(sim: SimAgents): Promise<string | null> {
  const primary = sim.primaries()[0];
  if (notConverged(sim) !== null || primary === undefined) return null;
  const loopWaitMs = sim.loops.get(primary)?.status().settings.loopWaitMs;
  if (loopWaitMs === undefined) return null;
  const before = sim.dcs.committed();
  await sim.run(REST_WINDOW_MS);
  const entries = sim.dcs.committed() - before;
  const allowed = Math.floor(((1 + sim.members.length) * REST_WINDOW_MS) / loopWaitMs) + REST_SLACK_ENTRIES;
  if (entries <= allowed) return null;
  return `at rest the log grew by ${entries} entries in ${REST_WINDOW_MS / 1000} s; the cadence (a renewal and ${sim.members.length} reports per loop_wait of ${loopWaitMs} ms) allows ${allowed}`;
}

/** The timelines of the final primary's history that the cluster state's history lacks, or records elsewhere. */
function unrecordedTimelines(sim: SimAgents, primary: MemberName): string[] {
  const recorded = sim.dcs.client(primary).local(SIM_SCOPE)?.primaryHistory ?? [];
  return sim.pg.server(primary).d.history.flatMap((branch) => {
    const entry = recorded.find((e) => e.timeline === branch.timeline);
    if (entry === undefined) return [`timeline ${branch.timeline} (from ${branch.parent} at ${branch.switchLsn}) is not in the cluster's history: ${recorded.map((e) => e.timeline).join(", ")}`];
    if (entry.lsn !== branch.switchLsn) return [`timeline ${branch.timeline} is recorded as branching at ${entry.lsn}, but it branched at ${branch.switchLsn}`];
    return [];
  });
}

/** PATCH /config as an operator would, through the primary's DCS client; null when applied. */
async function configure(sim: SimAgents, member: MemberName, value: JsonObject): Promise<string | null> {
  if (Object.keys(value).length === 0) return null;
  const started = sim.queue.now;
  const outcome = await send(sim, member, { kind: "setConfig", expectedVersion: null, mode: "patch", value });
  // A second in all, as the steps that follow were timed.
  await sim.run(Math.max(0, 1_000 - (sim.queue.now - started)));
  return outcome._tag === "Right" ? null : `the config change was refused: ${outcome.left}`;
}
