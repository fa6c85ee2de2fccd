/**
 * npm run bench:failover — the failover benchmark of issue 7 item 6 and issue 16 item 3, on the
 * fault-injection harness's cluster (lab/jepsen/cluster.ts): three raftgres agents with real
 * PostgreSQL 15, each node in its own network namespace (so S5 partitions are real), HAProxy and
 * pgbouncer in the root namespace reaching the nodes over the bridge. Needs root (namespaces,
 * iptables), haproxy and pgbouncer; without them it says why and exits 2.
 *
 * Scenarios, each run N times (--runs, default 5) on whichever member is primary then:
 *   S1 node crash: the primary's agent and postmaster SIGKILLed; the agent is restarted once the
 *      clients write again, and the old primary rejoins (pg_rewind) before the next run;
 *   S2 planned switchover: POST /switchover to a caught-up replica, through the third member;
 *   S3 postmaster crash: the primary's postmaster alone SIGKILLed;
 *   S4 agent frozen: the primary's agent SIGSTOPped for 40 s, then SIGCONTed (--s4-runs,
 *      default N; each run takes about a minute);
 *   S5 partition: the primary cut from its peers for 20 s while clients still reach it.
 * Two phases, each on a cluster of its own:
 * 1. main: the scenarios chosen, with clients running for the whole phase and recording every
 *    attempt on one monotonic clock:
 *      dsn              a libpq multi-host DSN over the three nodes, target_session_attrs=
 *                       read-write, one psql per attempt (connect + insert);
 *      haproxy …        the same through the write pools of four HAProxy instances at once
 *                       (failover_haproxy.ts): packaging/haproxy.cfg's checks and the guides'
 *                       `inter 3s fall 3 rise 2`, each without and with the agents' push (their
 *                       node.yml haproxy section names the push instances' admin sockets);
 *      n1..n3           one connection straight to each node, so a node acknowledging writes
 *                       when it should not is seen (the old primary stays reachable in S4, S5).
 * 2. pgbouncer (when S2 is chosen; --pgbouncer-runs, default N): S2 again on a cluster whose
 *    agents pause pgbouncer through the switchover, with clients through pgbouncer and the DSN
 *    writer (failover_pgbouncer.ts): failed client transactions, the longest and median wait,
 *    and where the time went between PAUSE and RESUME.
 * Per run (the window: 1 s before the fault until the cluster is healthy again, every client
 * writing on the primary) — see failover_measure.ts for the exact definitions:
 *   write downtime of each client: the longest interval without an acknowledged write, counted
 *      from the fault;
 *   dual primary: summed overlap of per-node, per-timeline intervals of acknowledged writes;
 *   lost: writes acknowledged in the window missing on the primary at its end, split into those
 *      beyond the switch point of their timeline (the unreplicated tail asynchronous replication
 *      may lose) and those that should have survived.
 * At the end of the main phase every write acknowledged in it is looked up on the final primary
 * (lost_acked) and the dual-primary overlap is computed over its whole history (dual_primary_ms).
 * Printed: a line per run, a summary line per scenario, `table …` lines (one per scenario and
 * client: min / median / max over the runs, and against the DSN), `headline …` lines naming
 * their scenario, and last (extra pairs after the first five):
 *   bench:failover crash_rto_ms_median=<S1 dsn> switchover_ms_median=<S2 dsn> postmaster_rto_ms_median=<S3 dsn> dual_primary_ms=<n> lost_acked=<n> …
 *   … haproxy_push_s1_ms_median=<S1 through HAProxy, packaged checks, with the push>
 *   haproxy_push_s2_ms_median=<the same for S2> pgbouncer_s2_failed=<failed transactions through
 *   pgbouncer, all S2 runs> pgbouncer_s2_wait_ms_median=<the median over the runs of each run's
 *   longest wait through pgbouncer>
 * Options: --runs N, --s4-runs M, --pgbouncer-runs P (0: no pgbouncer phase), --phases
 * main,pgbouncer (default both; `--phases pgbouncer` runs S2 through pgbouncer alone), --scenarios
 * S1,S2,… (default all), --mode async|on|quorum (synchronous_mode set through PATCH /config
 * before the first run; default async, Patroni's default, which the issue's Patroni figures
 * were measured with). A short run: --runs 1 --scenarios S2.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { missingPrerequisite } from "../../lab/jepsen/net/command.js";
import { SUPERUSER } from "../../lab/pg_cluster.js";
import { agentHaproxyYaml, BenchHaproxies, HAPROXY_VARIANTS, haproxyMissing } from "./failover_haproxy.js";
import { type Downtime, downtime, dualPrimary, type Lost, lostWrites, type TimelineEnd, timelineEnds } from "./failover_measure.js";
import { PGBOUNCER_WRITERS, pgbouncerMissing, pgbouncerRun, PgbouncerWriter, startClusterPgbouncer, switchoverTimeline } from "./failover_pgbouncer.js";
import { headlineLines, lastLine, type MainOutcome, type PhaseOutcome, pgbouncerTableLine, type RunResult, summaryLines, tableLines } from "./failover_report.js";
import { type Bench, clientsWriting, INJECT, SCENARIOS, type ScenarioId } from "./failover_scenarios.js";
import { CREATE_TABLE, DirectWriter, livePsql, type Loop, PsqlWriter, TABLE, type WriteRecord, WriteLog } from "../../lab/jepsen/writers.js";

/** The whole bench stops (everything cleaned up, exit 2) after this long. */
const TOTAL_TIMEOUT_MS = 40 * 60_000;
const HEALTHY_TIMEOUT_MS = 120_000;
/** Writes recorded before the fault, so that the old primary's interval of writes is in the window. */
const BEFORE_FAULT_MS = 1000;
/** Each writer's ids start at a multiple of this: no two writers insert the same id. */
const IDS_PER_WRITER = 1_000_000_000;
const MODES: Readonly<Record<string, Record<string, unknown>>> = {
  async: { synchronous_mode: "off" },
  on: { synchronous_mode: "on" },
  quorum: { synchronous_mode: "quorum", synchronous_node_count: 1 },
};
const MAIN_WRITERS: readonly string[] = ["dsn", ...HAPROXY_VARIANTS.map((v) => v.writer)];
const PGBOUNCER_PHASE_WRITERS: readonly string[] = ["dsn", ...PGBOUNCER_WRITERS];

/** What the last line reports when --phases leaves the main phase out: nothing measured. */
const NO_MAIN_PHASE = { results: [], failedRuns: 0, dualMs: NaN, lost: { total: NaN, tail: NaN, durable: NaN, unplaced: NaN, examples: [] } } as const satisfies MainOutcome;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: text };
  }
}

/**
 * The switch points of the primary's timeline and its ancestors, from its history file (GET
 * /history is not used: its lsn is the new primary's WAL position when it recorded the change,
 * after the switch point).
 */
async function switchPoints(cluster: ClusterUnderTest, primary: string): Promise<TimelineEnd[]> {
  const sql = "SELECT pg_read_file('pg_wal/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history') AS file";
  const rows = await cluster.pg.query<{ file: string }>(primary, sql).catch(() => []);
  return timelineEnds(rows[0]?.file ?? "");
}

async function lostOnPrimary(cluster: ClusterUnderTest, primary: string, acked: readonly WriteRecord[]): Promise<Lost> {
  const ids = acked.map((w) => w.id);
  const rows = await cluster.pg.query<{ id: string }>(primary, `SELECT id::text FROM ${TABLE} WHERE id = ANY($1::bigint[])`, [ids]);
  const present = new Set(rows.map((r) => Number(r.id)));
  return lostWrites(acked, present, await switchPoints(cluster, primary));
}

/** After the fault: when a node other than `old` first acknowledged a write, and when `old` last did (ms from the fault). */
function handover(window: readonly WriteRecord[], old: string, faultMs: number): string {
  const after = window.filter((w) => w.outcome === "ok" && w.endMs > faultMs);
  const firstNew = after.find((w) => w.node !== old);
  const lastOld = after.filter((w) => w.node === old).pop();
  const first = firstNew === undefined ? "no other node acknowledged a write" : `${firstNew.node} first acknowledged a write after ${Math.round(firstNew.endMs - faultMs)} ms`;
  const last = lastOld === undefined ? `${old} acknowledged none after the fault` : `${old} last acknowledged one ${Math.round(lastOld.endMs - faultMs)} ms after the fault`;
  return `${first}; ${last}`;
}

/** The bench's log clock and the wall clock the agents stamp their log lines with. */
interface Clocks {
  readonly log: WriteLog;
  readonly epochMsAtZero: number;
}

async function runOnce(bench: Bench, clocks: Clocks, scenario: ScenarioId, label: string, withPgbouncer: boolean): Promise<RunResult> {
  const { cluster, log } = bench;
  const primary = await cluster.pg.waitHealthy(HEALTHY_TIMEOUT_MS);
  // Every measured client must be writing on the primary before the fault (HAProxy needs its
  // `rise 2` checks after a change), or the previous run's outage would count in this one.
  await clientsWriting(bench, log.now(), (node) => node === primary);
  const windowStartMs = log.now();
  await sleep(BEFORE_FAULT_MS);
  const injected = await INJECT[scenario](bench, primary);
  const next = await cluster.pg.waitHealthy(HEALTHY_TIMEOUT_MS);
  await clientsWriting(bench, Math.max(injected.healedMs, log.now() - 1), (node) => node === next);
  const endMs = log.now();
  const window = log.writes.filter((w) => w.endMs >= windowStartMs && w.endMs <= endMs);
  const downtimes: Record<string, Downtime> = {};
  for (const writer of bench.writers) downtimes[writer] = downtime(window, writer, injected.faultMs, endMs);
  const dual = dualPrimary(window);
  const acked = window.filter((w) => w.outcome === "ok");
  const lost = await lostOnPrimary(cluster, next, acked);
  const down = bench.writers.map((w) => `${w} ${downtimes[w]!.recovered ? "" : "≥ "}${downtimes[w]!.ms} ms (${downtimes[w]!.failedAttempts} failed attempts)`).join(", ");
  console.log(`${label}: ${primary} → ${next}; write downtime ${down}; ${handover(window, primary, injected.faultMs)}; dual primary ${dual.ms} ms; ${acked.length} acknowledged, ${lost.total} missing on ${next} (${lost.tail} in the unreplicated tail, ${lost.durable} that should have survived, ${lost.unplaced} unplaced); ${injected.note}; took ${Math.round((endMs - injected.faultMs) / 1000)} s`);
  for (const overlap of dual.overlaps) console.log(`  DUAL PRIMARY: ${overlap}`);
  for (const example of lost.examples) console.log(`  LOST: ${example}`);
  const pgbouncer = withPgbouncer ? pgbouncerRun(window, injected.faultMs, endMs) : null;
  if (pgbouncer !== null) {
    console.log(`  through pgbouncer: ${pgbouncer.transactions} transactions, ${pgbouncer.failed} failed${pgbouncer.errors.length === 0 ? "" : ` (${pgbouncer.errors.join("; ")})`}, longest wait ${pgbouncer.longestWaitMs} ms, median wait ${pgbouncer.medianWaitMs} ms`);
  }
  if (scenario === "S2") console.log(`  agents' timeline (ms after the request): ${switchoverTimeline(cluster, clocks.epochMsAtZero + injected.faultMs, primary, next, withPgbouncer)}`);
  return { scenario, downtimes, dualMs: dual.ms, lost, pgbouncer };
}

interface Options {
  readonly runs: number;
  readonly s4Runs: number;
  readonly pgbouncerRuns: number;
  /** The main phase runs unless --phases leaves it out (a pgbouncer-only run). */
  readonly main: boolean;
  readonly scenarios: readonly ScenarioId[];
  readonly mode: string;
}

function options(): Options {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, "s4-runs": { type: "string" }, "pgbouncer-runs": { type: "string" }, phases: { type: "string", default: "main,pgbouncer" }, scenarios: { type: "string", default: SCENARIOS.join(",") }, mode: { type: "string", default: "async" } } });
  const runs = Number(values.runs);
  const s4Runs = values["s4-runs"] === undefined ? runs : Number(values["s4-runs"]);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(s4Runs) || s4Runs < 1) throw new Error(`--runs and --s4-runs take a positive integer (got ${values.runs}, ${values["s4-runs"]})`);
  const scenarios = values.scenarios.split(",").map((s) => s.trim().toUpperCase());
  for (const s of scenarios) if (!SCENARIOS.includes(s as ScenarioId)) throw new Error(`--scenarios: unknown ${s} (expected some of ${SCENARIOS.join(",")})`);
  const phases = values.phases.split(",").map((p) => p.trim());
  for (const p of phases) if (p !== "main" && p !== "pgbouncer") throw new Error(`--phases: unknown ${p} (expected main, pgbouncer or both)`);
  const wanted = values["pgbouncer-runs"] === undefined ? (scenarios.includes("S2") ? runs : 0) : Number(values["pgbouncer-runs"]);
  const pgbouncerRuns = phases.includes("pgbouncer") ? wanted : 0;
  if (!Number.isInteger(pgbouncerRuns) || pgbouncerRuns < 0) throw new Error(`--pgbouncer-runs takes an integer ≥ 0 (got ${values["pgbouncer-runs"]})`);
  if (MODES[values.mode] === undefined) throw new Error(`--mode ${values.mode}: expected one of ${Object.keys(MODES).join(", ")}`);
  return { runs, s4Runs, pgbouncerRuns, main: phases.includes("main"), scenarios: scenarios as ScenarioId[], mode: values.mode };
}

async function setMode(cluster: ClusterUnderTest, primary: string, mode: string): Promise<void> {
  const patched = await getJson(`${cluster.apiUrl(primary)}/config`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(MODES[mode]) });
  if (patched.status !== 200) throw new Error(`PATCH /config answered ${patched.status}: ${JSON.stringify(patched.body)}`);
}

/** Synchronous kills of whatever runs now, for the signal handlers and the time guard. */
type Killers = Set<() => void>;

async function runScenarios(scenarios: readonly ScenarioId[], runsOf: (s: ScenarioId) => number, phase: string, run: (s: ScenarioId, label: string) => Promise<RunResult>, heal: () => Promise<void>): Promise<{ results: RunResult[]; failed: Map<ScenarioId, number> }> {
  const results: RunResult[] = [];
  const failed = new Map<ScenarioId, number>();
  for (const scenario of scenarios) {
    const runs = runsOf(scenario);
    for (let i = 1; i <= runs; i++) {
      const label = `${phase}${scenario} run ${i}/${runs}`;
      try {
        results.push(await run(scenario, label));
      } catch (error: unknown) {
        failed.set(scenario, (failed.get(scenario) ?? 0) + 1);
        console.log(`${label} FAILED: ${error instanceof Error ? error.message : String(error)}; healing everything and going on`);
        await heal();
      }
    }
  }
  return { results, failed };
}

function clusterKiller(cluster: () => ClusterUnderTest | null): () => void {
  return () => {
    const c = cluster();
    if (c === null) return;
    c.pg.killAllNow();
    c.topology.destroySync();
    rmSync(c.pg.root, { recursive: true, force: true });
  };
}

async function stopWriters(writers: readonly Loop[]): Promise<void> {
  for (const w of writers) await w.stop();
}

function clientsLine(log: WriteLog, writers: readonly string[]): string {
  return `clients: ${writers.map((w) => `${w} ${log.writes.filter((x) => x.writer === w && x.outcome === "ok").length}/${log.writes.filter((x) => x.writer === w).length}`).join(", ")} attempts acknowledged`;
}

async function mainPhase(opts: Options, killers: Killers): Promise<MainOutcome> {
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "raftgres-bench-haproxy-"));
  const names = ["n1", "n2", "n3"];
  let cluster: ClusterUnderTest | null = null;
  let haproxies: BenchHaproxies | null = null;
  const killCluster = clusterKiller(() => cluster);
  const killNow = (): void => {
    void haproxies?.kill();
    killCluster();
    rmSync(dir, { recursive: true, force: true });
  };
  killers.add(killNow);
  const writers: Loop[] = [];
  try {
    cluster = await ClusterUnderTest.create({ id: `fb${process.pid.toString(36)}`.slice(0, 6), nodes: names.length, extraYaml: agentHaproxyYaml(dir, names) });
    if (cluster.nodes.join() !== names.join()) throw new Error(`the cluster's nodes are ${cluster.nodes.join(", ")}, not ${names.join(", ")} as its haproxy section says`);
    cluster.pg.startAll();
    const first = await cluster.pg.waitHealthy(180_000);
    await setMode(cluster, first, opts.mode);
    await cluster.pg.query(first, CREATE_TABLE);
    const c = cluster;
    const nodes = c.nodes.map((name) => ({ name, pgHost: c.target(name).host, pgPort: c.pg.spec(name).pgPort, apiPort: c.pg.spec(name).apiPort }));
    haproxies = await BenchHaproxies.start(dir, nodes);
    console.log(`main phase: 3 nodes in network namespaces (${nodes.map((n) => `${n.name} ${n.pgHost}`).join(", ")}), PostgreSQL 15, synchronous_mode ${opts.mode}, ttl 5 s, loop_wait 1 s; HAProxy 2.6 from packaging/haproxy.cfg: ${haproxies.describe()}; ${first} primary after ${Date.now() - startedAt} ms`);
    const log = new WriteLog();
    const clocks: Clocks = { log, epochMsAtZero: Date.now() - log.now() };
    const h = haproxies;
    writers.push(
      new PsqlWriter(log, "dsn", c.dsn(), c.nodeOf, 1),
      ...HAPROXY_VARIANTS.map((v, i) => new PsqlWriter(log, v.writer, h.dsn(v, SUPERUSER.username, SUPERUSER.password), c.nodeOf, (i + 1) * IDS_PER_WRITER)),
      ...c.nodes.map((node, i) => new DirectWriter(log, node, c.target(node), c.nodeOf, (HAPROXY_VARIANTS.length + 1 + i) * IDS_PER_WRITER)),
    );
    for (const w of writers) w.start();
    const bench: Bench = { cluster: c, log, writers: MAIN_WRITERS };
    const { results, failed } = await runScenarios(opts.scenarios, (s) => (s === "S4" ? opts.s4Runs : opts.runs), "", (s, label) => runOnce(bench, clocks, s, label, false), () => c.healAll());
    await stopWriters(writers);
    const final = await c.pg.waitHealthy(HEALTHY_TIMEOUT_MS);
    const acked = log.writes.filter((w) => w.outcome === "ok");
    const lost = await lostOnPrimary(c, final, acked);
    const dual = dualPrimary(log.writes);
    console.log(clientsLine(log, [...MAIN_WRITERS, ...c.nodes]));
    for (const line of summaryLines(results, opts.scenarios, MAIN_WRITERS, failed)) console.log(line);
    if (opts.s4Runs < opts.runs && opts.scenarios.includes("S4")) console.log(`S4 ran ${opts.s4Runs} times, not ${opts.runs} (--s4-runs): each run holds the freeze 40 s`);
    console.log(`main phase: ${acked.length} acknowledged writes, ${lost.total} missing on the final primary ${final} (${lost.tail} in the unreplicated tail, ${lost.durable} that should have survived, ${lost.unplaced} unplaced); dual primary ${dual.ms} ms over the whole history; ${Math.round((Date.now() - startedAt) / 1000)} s`);
    for (const overlap of dual.overlaps) console.log(`  DUAL PRIMARY: ${overlap}`);
    for (const example of lost.examples) console.log(`  LOST: ${example}`);
    await printSwitchPoints(c, final);
    for (const line of tableLines(results, opts.scenarios, MAIN_WRITERS, "main")) console.log(line);
    return { results, failedRuns: [...failed.values()].reduce((a, b) => a + b, 0), lost, dualMs: dual.ms };
  } finally {
    await stopWriters(writers);
    for (const child of livePsql) child.kill("SIGKILL");
    await haproxies?.kill();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
    killers.delete(killNow);
  }
}

async function printSwitchPoints(cluster: ClusterUnderTest, final: string): Promise<void> {
  const api = timelineEnds(""); // Filled below from GET /history, for comparison only.
  const history = (await getJson(`${cluster.apiUrl(final)}/history`)).body;
  if (Array.isArray(history)) for (const e of history) if (Array.isArray(e)) api.push({ timeline: Number(e[0]), switchLsn: BigInt(Math.trunc(Number(e[1]))) });
  const file = await switchPoints(cluster, final);
  console.log(`timeline switch points (timeline: history file / GET /history): ${file.map((e) => `${e.timeline}: ${e.switchLsn} / ${api.find((a) => a.timeline === e.timeline)?.switchLsn ?? "-"}`).join(", ") || "none"}`);
}

async function pgbouncerPhase(opts: Options, killers: Killers): Promise<PhaseOutcome> {
  const startedAt = Date.now();
  let cluster: ClusterUnderTest | null = null;
  let pgbouncer: Awaited<ReturnType<typeof startClusterPgbouncer>> | null = null;
  const killCluster = clusterKiller(() => cluster);
  const killNow = (): void => {
    if (pgbouncer !== null) {
      try {
        process.kill(pgbouncer.pid, "SIGKILL");
      } catch {
        // Gone already.
      }
      rmSync(pgbouncer.dir, { recursive: true, force: true });
    }
    killCluster();
  };
  killers.add(killNow);
  const writers: Loop[] = [];
  try {
    cluster = await ClusterUnderTest.create({ id: `fp${process.pid.toString(36)}`.slice(0, 6), nodes: 3 });
    pgbouncer = await startClusterPgbouncer(cluster);
    cluster.pg.startAll();
    const first = await cluster.pg.waitHealthy(180_000);
    await setMode(cluster, first, opts.mode);
    await cluster.pg.query(first, CREATE_TABLE);
    console.log(`pgbouncer phase: 3 nodes in network namespaces, synchronous_mode ${opts.mode}; pgbouncer ${pgbouncer.port} (pid ${pgbouncer.pid}) from packaging/pgbouncer.ini, paused by the agents through each switchover; ${first} primary after ${Date.now() - startedAt} ms`);
    const c = cluster;
    const log = new WriteLog();
    const clocks: Clocks = { log, epochMsAtZero: Date.now() - log.now() };
    writers.push(
      new PsqlWriter(log, "dsn", c.dsn(), c.nodeOf, 1),
      ...PGBOUNCER_WRITERS.map((name, i) => new PgbouncerWriter(log, name, pgbouncer!.port, name === "pgbouncer_transaction", c.nodeOf, (i + 1) * IDS_PER_WRITER)),
    );
    for (const w of writers) w.start();
    const bench: Bench = { cluster: c, log, writers: PGBOUNCER_PHASE_WRITERS };
    const { results, failed } = await runScenarios(["S2"], () => opts.pgbouncerRuns, "pgbouncer ", (s, label) => runOnce(bench, clocks, s, label, true), () => c.healAll());
    await stopWriters(writers);
    console.log(clientsLine(log, PGBOUNCER_PHASE_WRITERS));
    for (const line of tableLines(results, ["S2"], PGBOUNCER_PHASE_WRITERS, "pgbouncer")) console.log(line);
    console.log(pgbouncerTableLine(results));
    console.log(`pgbouncer phase: ${Math.round((Date.now() - startedAt) / 1000)} s`);
    return { results, failedRuns: [...failed.values()].reduce((a, b) => a + b, 0) };
  } finally {
    await stopWriters(writers);
    for (const child of livePsql) child.kill("SIGKILL");
    await pgbouncer?.stop();
    await cluster?.destroy();
    killers.delete(killNow);
  }
}

async function main(): Promise<void> {
  const opts = options();
  const missing = missingPrerequisite() ?? haproxyMissing() ?? (opts.pgbouncerRuns > 0 ? pgbouncerMissing() : null);
  if (missing !== null) {
    process.stderr.write(`bench:failover needs network namespaces, HAProxy and pgbouncer: ${missing}\n`);
    process.exit(2);
  }
  const killers: Killers = new Set();
  const killNow = (): void => {
    for (const child of livePsql) child.kill("SIGKILL");
    for (const kill of killers) kill();
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench:failover: ${signal}; cleaning up\n`);
      killNow();
      process.exit(130);
    });
  }
  const guard = setTimeout(() => {
    process.stderr.write(`bench:failover took longer than ${TOTAL_TIMEOUT_MS / 60_000} min; stopping\n`);
    killNow();
    process.exit(2);
  }, TOTAL_TIMEOUT_MS);
  try {
    const mainOutcome = opts.main ? await mainPhase(opts, killers) : NO_MAIN_PHASE;
    const pgb = opts.pgbouncerRuns > 0 ? await pgbouncerPhase(opts, killers) : null;
    for (const line of headlineLines(mainOutcome.results, pgb?.results ?? [])) console.log(line);
    console.log(lastLine(opts, mainOutcome, pgb));
  } finally {
    clearTimeout(guard);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
