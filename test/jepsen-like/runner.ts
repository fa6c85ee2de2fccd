/**
 * One run of the harness: a cluster under test in network namespaces, the workloads writing and
 * operating the DCS, the member sampler (each member's PostgreSQL beside its health answers), the
 * seeded fault schedule (each step's faults held, healed, then the time until every member is
 * back measured), the final read, the checkers, the heal report, and a report folder:
 * history.jsonl, results.json, summary.txt, timeline.svg and the agents' logs.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPrng, type Prng } from "../../src/lib/prng.js";
import { waitFor } from "../../lab/pg_cluster.js";
import { checkDivergedReads, judgeSamples } from "../../lab/jepsen/check_diverged_reads.js";
import { checkFailoverCauses } from "../../lab/jepsen/check_failover_causes.js";
import { type CheckResult, checkConvergence, checkDualPrimary, checkLinearizable, checkLostWrites, checkTimelines, CONVERGENCE_BOUND_MS, type TimelineRecord } from "../../lab/jepsen/checkers.js";
import { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { healReport, healRows, metricValue } from "../../lab/jepsen/heal_report.js";
import { converged, notBack, type Round } from "../../lab/jepsen/convergence.js";
import { History } from "../../lab/jepsen/history.js";
import { MemberSampler } from "../../lab/jepsen/member_sampler.js";
import { nextStep, type Step } from "../../lab/jepsen/nemesis.js";
import { primaryChanges } from "../../lab/jepsen/primary_changes.js";
import { loggedStalls, stepStall } from "../../lab/jepsen/raft_stall.js";
import { timelineSvg } from "./timeline_svg.js";
import { DcsWorkload, historySink } from "./workloads.js";
import { CREATE_TABLE, DirectWriter, PsqlWriter, TABLE } from "../../lab/jepsen/writers.js";

export type DurabilityMode = "async" | "on" | "strict" | "quorum";

export const MODE_CONFIG: Readonly<Record<DurabilityMode, Record<string, unknown>>> = {
  async: { synchronous_mode: "off" },
  on: { synchronous_mode: "on" },
  strict: { synchronous_mode: "on", synchronous_mode_strict: true },
  quorum: { synchronous_mode: "quorum", synchronous_node_count: 1 },
};

export interface RunOptions {
  readonly timeS: number;
  readonly faults: readonly string[];
  readonly seed: number;
  readonly mode: DurabilityMode;
  readonly nodes: number;
  /** The report folder (created). */
  readonly out: string;
  /** Topology id: 1–6 characters a-z0-9. */
  readonly id: string;
  readonly convergenceBoundMs?: number;
  /** Hold every step this long (default: the faults' own hold, else 3–12 s drawn per step). */
  readonly holdMs?: number;
  /**
   * The agent's entry point: the packaged bundle, as installed (scripts/package/build.ts
   * buildBundles). Absent: the source tree through tsx, whose start is seconds slower and which
   * picks up edits made while the run goes on.
   */
  readonly agentMain?: string;
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
  /** The heal report's summary line (min/median/max). */
  readonly heals: string;
  readonly summary: string;
  readonly out: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Writes acknowledged by a node must be found there: how long a heal may take at most before the harness gives up on it. */
const CONVERGENCE_WAIT_MS = 60_000;
const GAP_MS = 2000;

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: text };
  }
}

/** Members answering 200 on GET /primary now. */
async function primaries(cluster: ClusterUnderTest): Promise<string[]> {
  const answers = await Promise.all(cluster.nodes.map(async (node) => {
    try {
      const response = await fetch(`${cluster.apiUrl(node)}/primary`, { signal: AbortSignal.timeout(500) });
      return response.status === 200 ? node : null;
    } catch {
      return null;
    }
  }));
  return answers.filter((a): a is string => a !== null);
}

/** Sampling rounds while a heal converges: PostgreSQL is asked this often. */
const HEAL_SAMPLE_MS = 250;

interface HealMeasure {
  /** From the heal to the first round with every member back; null: not within the wait. */
  readonly ms: number | null;
  readonly returning: { node: string; ms: number | null }[];
  /** Why members were not back in the last round (for the log when it never converged). */
  readonly lastProblems: string[];
}

/** Samples more often until a round taken wholly after the heal has every member back. */
async function measureHeal(sampler: MemberSampler, nodes: readonly string[], victims: readonly string[], healedAt: number): Promise<HealMeasure> {
  const back = new Map<string, number>();
  let convergedAt: number | null = null;
  let last: Round = [];
  sampler.periodMs = HEAL_SAMPLE_MS;
  const done = await sampler.until((round) => {
    if (round.length === 0 || Math.min(...round.map((s) => s.atMs)) < healedAt) return false;
    last = round;
    for (const sample of round) if (victims.includes(sample.node) && !back.has(sample.node) && notBack(round, sample.node) === null) back.set(sample.node, sample.atMs - healedAt);
    if (!converged(round, nodes)) return false;
    convergedAt = Math.max(...round.map((s) => s.atMs));
    return true;
  }, CONVERGENCE_WAIT_MS);
  sampler.periodMs = 1000;
  const lastProblems = nodes.flatMap((n) => {
    const why = notBack(last, n);
    return why === null ? [] : [`${n}: ${why}`];
  });
  return { ms: done && convergedAt !== null ? Math.round(convergedAt - healedAt) : null, returning: victims.map((node) => ({ node, ms: back.has(node) ? Math.round(back.get(node)!) : null })), lastProblems };
}

/** GET /history as records, after the bootstrap's (whose new primary is the first one the harness saw). */
function timelineRecords(history: unknown, firstPrimary: string): TimelineRecord[] {
  const records: TimelineRecord[] = [{ timeline: 1, lsn: 0n, reason: "bootstrap", newPrimary: firstPrimary }];
  if (!Array.isArray(history)) return records;
  for (const entry of history) {
    if (!Array.isArray(entry)) continue;
    records.push({ timeline: Number(entry[0]) + 1, lsn: BigInt(Math.trunc(Number(entry[1]))), reason: String(entry[2]), newPrimary: String(entry[4]) });
  }
  return records;
}

/** Applies a step's faults, holds them, heals them in reverse order, then measures the heal. */
async function runStep(cluster: ClusterUnderTest, history: History, sampler: MemberSampler, prng: Prng, step: Step, index: number, log: (line: string) => void): Promise<void> {
  const stepStartMs = history.now();
  const primary = await cluster.primary();
  const raftLeader = await cluster.raftLeader();
  const victims = new Set<string>();
  for (const fault of step.faults) {
    // Stamped before the fault acts, so a failover it causes is never seen before its start.
    const atMs = history.now();
    const started = await fault.start(cluster, prng).catch((error: unknown) => ({ detail: `failed to start: ${String(error)}`, victims: [] }));
    for (const v of started.victims) victims.add(v);
    history.add({ type: "fault", name: fault.name, phase: "start", step: index, atMs, detail: started.detail, victims: started.victims, viaRaftLeader: fault.viaRaftLeader, primary, raftLeader });
    log(`${(history.now() / 1000).toFixed(1)} s  ${fault.name}: ${started.detail} (${Math.round(step.durationMs / 1000)} s)`);
  }
  await sleep(step.durationMs);
  for (const fault of [...step.faults].reverse()) {
    await fault.end(cluster).catch((error: unknown) => log(`healing ${fault.name} failed: ${String(error)}`));
    history.add({ type: "fault", name: fault.name, phase: "end", step: index, atMs: history.now(), detail: "" });
  }
  // A membership fault whose add-back failed (another fault had its node down) is finished as
  // an operator would: the node is added again now that it runs.
  if (step.faults.some((f) => f.name === "membership")) await cluster.readdRaftMembers();
  const healedAt = history.now();
  const heal = await measureHeal(sampler, cluster.nodes, [...victims].sort(), healedAt);
  const rejoin = heal.returning.map((r) => `${r.node} back ${r.ms === null ? "never" : `in ${r.ms} ms`}`).join(", ");
  log(`${(history.now() / 1000).toFixed(1)} s  healed; ${heal.ms === null ? `NOT converged (${heal.lastProblems.join("; ")})` : `converged in ${heal.ms} ms`}${rejoin === "" ? "" : `; ${rejoin}`}`);
  if (heal.ms === null) await cluster.healAll();
  // A stall the heal causes may come after convergence (issue 14: 2–3.4 s after the heal).
  await sleep(GAP_MS);
  // The victims' own stalls are the fault (a frozen agent "stalls" as long as it is frozen).
  const raftStallMs = await raftStall(cluster, cluster.nodes.filter((n) => !victims.has(n)), history.epochMsAtZero + stepStartMs);
  history.add({ type: "convergence", step: index, afterFault: step.faults.map((f) => f.name).join(" + "), atMs: healedAt, ms: heal.ms, returning: heal.returning, raftStallMs });
}

/**
 * The longest Raft loop stall any of `nodes` had since `sinceEpochMs` (the step's start), from
 * its metrics and its log (lab/jepsen/raft_stall.ts); null if none answers.
 */
async function raftStall(cluster: ClusterUnderTest, nodes: readonly string[], sinceEpochMs: number): Promise<number | null> {
  const values = await Promise.all(nodes.map(async (node) => {
    let recentMaxMs: number | null = null;
    try {
      const response = await fetch(`${cluster.apiUrl(node)}/metrics`, { signal: AbortSignal.timeout(2000) });
      recentMaxMs = metricValue(await response.text(), "raftgres_raft_loop_stall_recent_max_ms");
    } catch {
      recentMaxMs = null;
    }
    return stepStall(recentMaxMs, loggedStalls(cluster.pg.agentLog(node), sinceEpochMs, Date.now()));
  }));
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : Math.max(...known);
}

export async function runJepsen(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const boundMs = options.convergenceBoundMs ?? CONVERGENCE_BOUND_MS;
  mkdirSync(options.out, { recursive: true });
  const prng = createPrng(options.seed);
  log(`starting ${options.nodes} nodes in network namespaces (topology ${options.id}), synchronous mode ${options.mode}`);
  log(options.agentMain !== undefined ? `agents run the packaged bundle ${options.agentMain}` : process.env["RAFTGRES_AGENTS_FROM_SOURCE"] === "1" ? "agents run from the source tree (tsx)" : "agents run the bundle of the source tree (lab/agent_bundle.ts)");
  const cluster = await ClusterUnderTest.create({ id: options.id, nodes: options.nodes, ...(options.agentMain === undefined ? {} : { agentMain: options.agentMain }) });
  const history = new History();
  try {
    cluster.pg.startAll();
    let primary = await cluster.pg.waitHealthy(180_000);
    const firstPrimary = primary;
    const patched = await json(`${cluster.apiUrl(primary)}/config`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(MODE_CONFIG[options.mode]) });
    if (patched.status !== 200) throw new Error(`PATCH /config answered ${patched.status}: ${JSON.stringify(patched.body)}`);
    if (options.mode !== "async") {
      await waitFor("a synchronous standby", 30_000, async () => {
        const rows = await cluster.pg.query<{ n: string }>(primary, "SELECT count(*) AS n FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')");
        return Number(rows[0]?.n) > 0 ? true : undefined;
      }, 250);
    }
    await cluster.pg.query(primary, CREATE_TABLE);
    log(`healthy; primary ${primary}; running ${options.timeS} s of faults: ${options.faults.join(", ")}`);

    const sink = historySink(history);
    const writers = [
      new PsqlWriter(sink, "dsn", cluster.dsn(), cluster.nodeOf, 1),
      ...cluster.nodes.map((node, i) => new DirectWriter(sink, node, cluster.target(node), cluster.nodeOf, (i + 1) * 1_000_000_000)),
    ];
    const apis = new Map(cluster.nodes.map((n) => [n, cluster.apiUrl(n)] as const));
    const dcs = [new DcsWorkload(history, apis, prng.fork(), 1, 1000)];
    const members = new MemberSampler(cluster, history);
    members.start();
    for (const w of [...writers, ...dcs]) w.start();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        history.add({ type: "sample", atMs: history.now(), primaries: await primaries(cluster) });
        await sleep(250);
      }
    })();

    const deadline = Date.now() + options.timeS * 1000;
    await sleep(3000);
    for (let index = 1; Date.now() < deadline; index++) {
      await runStep(cluster, history, members, prng, nextStep(prng, options.faults, options.holdMs), index, log);
    }

    await cluster.healAll();
    await sleep(2000);
    for (const w of [...writers, ...dcs]) await w.stop();
    sampling = false;
    await sampler;
    await members.stop();
    primary = await cluster.pg.waitHealthy(CONVERGENCE_WAIT_MS);
    const final = await cluster.pg.query<{ id: string }>(primary, `SELECT id::text FROM ${TABLE}`);
    const present = new Set(final.map((r) => Number(r.id)));
    const timelines = timelineRecords((await json(`${cluster.apiUrl(primary)}/history`)).body, firstPrimary);
    const config = (await json(`${cluster.apiUrl(primary)}/config`)).body as Record<string, unknown>;
    const maxLag = typeof config["maximum_lag_on_failover"] === "number" ? config["maximum_lag_on_failover"] : 1024 * 1024;

    const writes = history.of("write");
    const samples = history.of("member");
    const changes = primaryChanges(timelines, samples, writes);
    const checks = [
      checkLostWrites(writes, present, { synchronous: options.mode !== "async", maxLagBytes: maxLag, history: timelines }),
      checkDualPrimary(writes),
      checkTimelines(writes, timelines),
      checkConvergence(history.of("convergence"), boundMs),
      checkDivergedReads(samples, history.of("timeline-history")),
      checkFailoverCauses(changes, history.of("fault"), history.of("convergence")),
      checkLinearizable(history.of("dcs")),
    ];
    const heals = healReport(healRows(history.of("convergence"), changes, history.of("fault"), samples));
    const ok = checks.every((c) => c.ok);
    const summary = summaryText(options, history, checks, heals, ok);
    writeFileSync(join(options.out, "history.jsonl"), history.toJsonl());
    writeFileSync(join(options.out, "results.json"), JSON.stringify({ options, epochMsAtZero: history.epochMsAtZero, ok, checks, heals, changes }, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
    writeFileSync(join(options.out, "summary.txt"), `${summary}\n`);
    const divergedServing = judgeSamples(samples, history.of("timeline-history")).filter((j) => j.why !== null && (j.sample.replica === 200 || j.sample.readOnly === 200)).map((j) => ({ node: j.sample.node, atMs: j.sample.answeredMs }));
    writeFileSync(join(options.out, "timeline.svg"), timelineSvg(history.events, cluster.nodes, `raftgres jepsen-like: ${options.mode}, seed ${options.seed}`, divergedServing));
    return { ok, checks, heals: heals.summary, summary, out: options.out };
  } finally {
    for (const node of cluster.nodes) {
      const logFile = join(cluster.pg.spec(node).dir, "agent.log");
      if (existsSync(logFile)) copyFileSync(logFile, join(options.out, `${node}.agent.log`));
    }
    await cluster.destroy();
  }
}

function summaryText(options: RunOptions, history: History, checks: readonly CheckResult[], heals: { lines: string[]; summary: string }, ok: boolean): string {
  const writes = history.of("write");
  const attempts = writes.filter((w) => w.writer === "dsn");
  return [
    `jepsen-like: ${options.nodes} nodes, synchronous mode ${options.mode}, faults ${options.faults.join(",")}, seed ${options.seed}, ${options.timeS} s`,
    `faults applied: ${history.of("fault").filter((f) => f.phase === "start").length}; writes: ${writes.length} (dsn ${attempts.filter((w) => w.outcome === "ok").length}/${attempts.length} acknowledged); DCS operations: ${history.of("dcs").length}; member samples: ${history.of("member").length}`,
    "",
    `${"check".padEnd(18)} ${"result".padEnd(6)} figures`,
    ...checks.map((c) => `${c.name.padEnd(18)} ${(c.ok ? "ok" : "FAIL").padEnd(6)} ${c.figures}`),
    ...checks.flatMap((c) => c.problems.map((p) => `  ${c.name}: ${p}`)),
    "",
    "heals (from the heal to: every member back = converged; the step's victims back = rejoin):",
    ...heals.lines.map((l) => `  ${l}`),
    `heal report: ${heals.summary}`,
    "",
    `verdict: ${ok ? "PASS" : "FAIL"}   report: ${options.out}`,
  ].join("\n");
}
