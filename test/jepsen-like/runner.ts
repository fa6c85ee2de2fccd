/**
 * One run of the harness: a cluster under test in network namespaces, the workloads writing and
 * operating the DCS, the seeded fault schedule (each fault held, healed, then the time to
 * converge measured), the final read, the checkers, and a report folder: history.jsonl,
 * results.json, summary.txt, timeline.svg and the agents' logs.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPrng } from "../../src/lib/prng.js";
import { waitFor } from "../../lab/pg_cluster.js";
import { type CheckResult, checkConvergence, checkDualPrimary, checkLinearizable, checkLostWrites, checkTimelines, type TimelineRecord } from "../../lab/jepsen/checkers.js";
import { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { History } from "../../lab/jepsen/history.js";
import { nextStep } from "../../lab/jepsen/nemesis.js";
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
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
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

/** One primary, every other member streaming from it (judged by PostgreSQL): the time it took, or null. */
async function converge(cluster: ClusterUnderTest, boundMs: number): Promise<number | null> {
  const start = Date.now();
  try {
    await cluster.pg.waitHealthy(boundMs);
    return Date.now() - start;
  } catch {
    return null;
  }
}

function timelineRecords(history: unknown): TimelineRecord[] {
  const records: TimelineRecord[] = [{ timeline: 1, lsn: 0n, reason: "bootstrap", newPrimary: "" }];
  if (!Array.isArray(history)) return records;
  for (const entry of history) {
    if (!Array.isArray(entry)) continue;
    records.push({ timeline: Number(entry[0]) + 1, lsn: BigInt(Math.trunc(Number(entry[1]))), reason: String(entry[2]), newPrimary: String(entry[4]) });
  }
  return records;
}

export async function runJepsen(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const boundMs = options.convergenceBoundMs ?? 30_000;
  mkdirSync(options.out, { recursive: true });
  const prng = createPrng(options.seed);
  log(`starting ${options.nodes} nodes in network namespaces (topology ${options.id}), synchronous mode ${options.mode}`);
  const cluster = await ClusterUnderTest.create({ id: options.id, nodes: options.nodes });
  const history = new History();
  try {
    cluster.pg.startAll();
    let primary = await cluster.pg.waitHealthy(180_000);
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
    while (Date.now() < deadline) {
      const step = nextStep(prng, options.faults);
      for (const fault of step.faults) {
        const detail = await fault.start(cluster, prng).catch((error: unknown) => `failed to start: ${String(error)}`);
        history.add({ type: "fault", name: fault.name, phase: "start", atMs: history.now(), detail });
        log(`${(history.now() / 1000).toFixed(1)} s  ${fault.name}: ${detail} (${Math.round(step.durationMs / 1000)} s)`);
      }
      await sleep(step.durationMs);
      for (const fault of [...step.faults].reverse()) {
        await fault.end(cluster).catch((error: unknown) => log(`healing ${fault.name} failed: ${String(error)}`));
        history.add({ type: "fault", name: fault.name, phase: "end", atMs: history.now(), detail: "" });
      }
      const healedAt = history.now();
      const names = step.faults.map((f) => f.name).join(" + ");
      const ms = await converge(cluster, CONVERGENCE_WAIT_MS);
      history.add({ type: "convergence", afterFault: names, atMs: healedAt, ms });
      log(`${(history.now() / 1000).toFixed(1)} s  healed; ${ms === null ? "NOT converged" : `converged in ${ms} ms`}`);
      if (ms === null) await cluster.healAll();
      await sleep(GAP_MS);
    }

    await cluster.healAll();
    await sleep(2000);
    for (const w of [...writers, ...dcs]) await w.stop();
    sampling = false;
    await sampler;
    primary = await cluster.pg.waitHealthy(CONVERGENCE_WAIT_MS);
    const final = await cluster.pg.query<{ id: string }>(primary, `SELECT id::text FROM ${TABLE}`);
    const present = new Set(final.map((r) => Number(r.id)));
    const timelines = timelineRecords((await json(`${cluster.apiUrl(primary)}/history`)).body);
    const config = (await json(`${cluster.apiUrl(primary)}/config`)).body as Record<string, unknown>;
    const maxLag = typeof config["maximum_lag_on_failover"] === "number" ? config["maximum_lag_on_failover"] : 1024 * 1024;

    const writes = history.of("write");
    const checks = [
      checkLostWrites(writes, present, { synchronous: options.mode !== "async", maxLagBytes: maxLag, history: timelines }),
      checkDualPrimary(writes),
      checkTimelines(writes, timelines),
      checkConvergence(history.of("convergence"), boundMs, 10_000),
      checkLinearizable(history.of("dcs")),
    ];
    const ok = checks.every((c) => c.ok);
    const attempts = writes.filter((w) => w.writer === "dsn");
    const lines = [
      `jepsen-like: ${options.nodes} nodes, synchronous mode ${options.mode}, faults ${options.faults.join(",")}, seed ${options.seed}, ${options.timeS} s`,
      `faults applied: ${history.of("fault").filter((f) => f.phase === "start").length}; writes: ${writes.length} (dsn ${attempts.filter((w) => w.outcome === "ok").length}/${attempts.length} acknowledged); DCS operations: ${history.of("dcs").length}`,
      "",
      `${"check".padEnd(18)} ${"result".padEnd(6)} figures`,
      ...checks.map((c) => `${c.name.padEnd(18)} ${(c.ok ? "ok" : "FAIL").padEnd(6)} ${c.figures}`),
      ...checks.flatMap((c) => c.problems.map((p) => `  ${c.name}: ${p}`)),
      "",
      `verdict: ${ok ? "PASS" : "FAIL"}   report: ${options.out}`,
    ];
    const summary = lines.join("\n");
    writeFileSync(join(options.out, "history.jsonl"), history.toJsonl());
    writeFileSync(join(options.out, "results.json"), JSON.stringify({ options, ok, checks }, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2));
    writeFileSync(join(options.out, "summary.txt"), `${summary}\n`);
    writeFileSync(join(options.out, "timeline.svg"), timelineSvg(history.events, cluster.nodes, `raftgres jepsen-like: ${options.mode}, seed ${options.seed}`));
    return { ok, checks, summary, out: options.out };
  } finally {
    for (const node of cluster.nodes) {
      const logFile = join(cluster.pg.spec(node).dir, "agent.log");
      if (existsSync(logFile)) copyFileSync(logFile, join(options.out, `${node}.agent.log`));
    }
    await cluster.destroy();
  }
}
