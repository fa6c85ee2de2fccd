/**
 * npm run bench:failover — the failover benchmark of issue 7 item 6, on the fault-injection
 * harness's cluster (lab/jepsen/cluster.ts): three raftgres agents with real PostgreSQL 15,
 * each node in its own network namespace (so S5 partitions are real), HAProxy configured from
 * packaging/haproxy.cfg in the root namespace reaching the nodes over the bridge. Needs root
 * (namespaces, iptables) and haproxy; without them it says why and exits 2.
 *
 * Scenarios, each run N times (--runs, default 5) on whichever member is primary then:
 *   S1 node crash: the primary's agent and postmaster SIGKILLed; the agent is restarted once the
 *      clients write again, and the old primary rejoins (pg_rewind) before the next run;
 *   S2 planned switchover: POST /switchover to a caught-up replica, through the third member;
 *   S3 postmaster crash: the primary's postmaster alone SIGKILLed;
 *   S4 agent frozen: the primary's agent SIGSTOPped for 40 s, then SIGCONTed (--s4-runs,
 *      default N; each run takes about a minute);
 *   S5 partition: the primary cut from its peers for 20 s while clients still reach it.
 * Clients, running for the whole bench and recording every attempt on one monotonic clock:
 *   dsn      a libpq multi-host DSN over the three nodes, target_session_attrs=read-write, one
 *            psql per attempt (connect + insert);
 *   haproxy  the same through HAProxy's write pool (health checks on each agent's /primary);
 *   n1..n3   one connection straight to each node, so a node acknowledging writes when it
 *            should not is seen (the old primary stays reachable in S4 and S5).
 * Per run (the window: 1 s before the fault until the cluster is healthy again, every client
 * writing on the primary) — see failover_measure.ts for the exact definitions:
 *   write downtime of dsn and haproxy: the longest interval without an acknowledged write,
 *      counted from the fault;
 *   dual primary: summed overlap of per-node, per-timeline intervals of acknowledged writes;
 *   lost: writes acknowledged in the window missing on the primary at its end, split into those
 *      beyond the switch point of their timeline (the unreplicated tail asynchronous replication
 *      may lose) and those that should have survived.
 * At the end every write acknowledged during the whole bench is looked up on the final primary
 * (lost_acked) and the dual-primary overlap is computed over the whole history (dual_primary_ms).
 * The last line (extra pairs after the first five):
 *   bench:failover crash_rto_ms_median=<S1 dsn> switchover_ms_median=<S2 dsn> postmaster_rto_ms_median=<S3 dsn> dual_primary_ms=<n> lost_acked=<n> …
 * Options: --runs N, --s4-runs M, --scenarios S1,S2,… (default all), --mode async|on|quorum
 * (synchronous_mode set through PATCH /config before the first run; default async, Patroni's
 * default, which the issue's Patroni figures were measured with).
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { missingPrerequisite } from "../../lab/jepsen/net/command.js";
import { SUPERUSER } from "../../lab/pg_cluster.js";
import { Haproxy, haproxyMissing } from "./failover_haproxy.js";
import { type Downtime, downtime, dualPrimary, formatSpread, type Lost, lostWrites, spread, type TimelineEnd, timelineEnds } from "./failover_measure.js";
import { type Bench, clientsWriting, INJECT, MEASURED_WRITERS, SCENARIOS, type ScenarioId, TITLES } from "./failover_scenarios.js";
import { CREATE_TABLE, DirectWriter, livePsql, PsqlWriter, TABLE, type WriteRecord, WriteLog } from "../../lab/jepsen/writers.js";

/** The whole bench stops (everything cleaned up, exit 2) after this long. */
const TOTAL_TIMEOUT_MS = 40 * 60_000;
const HEALTHY_TIMEOUT_MS = 120_000;
/** Writes recorded before the fault, so that the old primary's interval of writes is in the window. */
const BEFORE_FAULT_MS = 1000;
const MODES: Readonly<Record<string, Record<string, unknown>>> = {
  async: { synchronous_mode: "off" },
  on: { synchronous_mode: "on" },
  quorum: { synchronous_mode: "quorum", synchronous_node_count: 1 },
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface RunResult {
  readonly scenario: ScenarioId;
  readonly downtimes: Readonly<Record<string, Downtime>>;
  readonly dualMs: number;
  readonly lost: Lost;
}

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

async function runOnce(bench: Bench, scenario: ScenarioId, label: string): Promise<RunResult> {
  const { cluster, log } = bench;
  const primary = await cluster.pg.waitHealthy(HEALTHY_TIMEOUT_MS);
  // Both measured clients must be writing on the primary before the fault (HAProxy needs its
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
  for (const writer of MEASURED_WRITERS) downtimes[writer] = downtime(window, writer, injected.faultMs, endMs);
  const dual = dualPrimary(window);
  const acked = window.filter((w) => w.outcome === "ok");
  const lost = await lostOnPrimary(cluster, next, acked);
  const down = MEASURED_WRITERS.map((w) => `${w} ${downtimes[w]!.recovered ? "" : "≥ "}${downtimes[w]!.ms} ms (${downtimes[w]!.failedAttempts} failed attempts)`).join(", ");
  console.log(`${label}: ${primary} → ${next}; write downtime ${down}; ${handover(window, primary, injected.faultMs)}; dual primary ${dual.ms} ms; ${acked.length} acknowledged, ${lost.total} missing on ${next} (${lost.tail} in the unreplicated tail, ${lost.durable} that should have survived, ${lost.unplaced} unplaced); ${injected.note}; took ${Math.round((endMs - injected.faultMs) / 1000)} s`);
  for (const overlap of dual.overlaps) console.log(`  DUAL PRIMARY: ${overlap}`);
  for (const example of lost.examples) console.log(`  LOST: ${example}`);
  return { scenario, downtimes, dualMs: dual.ms, lost };
}

interface Options {
  readonly runs: number;
  readonly s4Runs: number;
  readonly scenarios: readonly ScenarioId[];
  readonly mode: string;
}

function options(): Options {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, "s4-runs": { type: "string" }, scenarios: { type: "string", default: SCENARIOS.join(",") }, mode: { type: "string", default: "async" } } });
  const runs = Number(values.runs);
  const s4Runs = values["s4-runs"] === undefined ? runs : Number(values["s4-runs"]);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(s4Runs) || s4Runs < 1) throw new Error(`--runs and --s4-runs take a positive integer (got ${values.runs}, ${values["s4-runs"]})`);
  const scenarios = values.scenarios.split(",").map((s) => s.trim().toUpperCase());
  for (const s of scenarios) if (!SCENARIOS.includes(s as ScenarioId)) throw new Error(`--scenarios: unknown ${s} (expected some of ${SCENARIOS.join(",")})`);
  if (MODES[values.mode] === undefined) throw new Error(`--mode ${values.mode}: expected one of ${Object.keys(MODES).join(", ")}`);
  return { runs, s4Runs, scenarios: scenarios as ScenarioId[], mode: values.mode };
}

async function setMode(cluster: ClusterUnderTest, primary: string, mode: string): Promise<void> {
  const patched = await getJson(`${cluster.apiUrl(primary)}/config`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(MODES[mode]) });
  if (patched.status !== 200) throw new Error(`PATCH /config answered ${patched.status}: ${JSON.stringify(patched.body)}`);
}

function summaryLines(results: readonly RunResult[], scenarios: readonly ScenarioId[], failed: ReadonlyMap<ScenarioId, number>): string[] {
  return scenarios.map((s) => {
    const runs = results.filter((r) => r.scenario === s);
    const down = MEASURED_WRITERS.map((w) => {
      const values = runs.map((r) => r.downtimes[w]!);
      const unrecovered = values.filter((d) => !d.recovered).length;
      return `${w} ${formatSpread(spread(values.map((d) => d.ms)))}${unrecovered === 0 ? "" : ` (${unrecovered} runs without recovery: lower bounds)`}`;
    }).join("; ");
    const lost = runs.reduce((n, r) => n + r.lost.total, 0);
    const tail = runs.reduce((n, r) => n + r.lost.tail, 0);
    const durable = runs.reduce((n, r) => n + r.lost.durable, 0);
    const unplaced = runs.reduce((n, r) => n + r.lost.unplaced, 0);
    const failures = failed.get(s) ?? 0;
    return `${s} ${TITLES[s]}: ${runs.length} runs${failures === 0 ? "" : `, ${failures} FAILED`}; write downtime ${down}; dual primary ${runs.reduce((n, r) => n + r.dualMs, 0)} ms; lost ${lost} acknowledged writes (${tail} in the unreplicated tail, ${durable} that should have survived, ${unplaced} unplaced)`;
  });
}

function medianOf(results: readonly RunResult[], scenario: ScenarioId, writer: string): string {
  const values = results.filter((r) => r.scenario === scenario).map((r) => r.downtimes[writer]!.ms);
  return values.length === 0 ? "NaN" : String(spread(values).median);
}

async function bench(opts: Options, cluster: ClusterUnderTest, onHaproxy: (h: Haproxy) => void): Promise<void> {
  const startedAt = Date.now();
  cluster.pg.startAll();
  const first = await cluster.pg.waitHealthy(180_000);
  await setMode(cluster, first, opts.mode);
  await cluster.pg.query(first, CREATE_TABLE);
  const nodes = cluster.nodes.map((name) => ({ name, pgHost: cluster.target(name).host, pgPort: cluster.pg.spec(name).pgPort, apiPort: cluster.pg.spec(name).apiPort }));
  const haproxy = await Haproxy.start(cluster.pg.root, nodes);
  onHaproxy(haproxy);
  console.log(`3 nodes in network namespaces (${nodes.map((n) => `${n.name} ${n.pgHost}`).join(", ")}), PostgreSQL 15, synchronous_mode ${opts.mode}, ttl 5 s, loop_wait 1 s; HAProxy 2.6 from packaging/haproxy.cfg on 127.0.0.1:${haproxy.writePort}; ${first} primary after ${Date.now() - startedAt} ms`);
  const log = new WriteLog();
  const nodeOf = (host: string): string | null => cluster.nodes.find((n) => cluster.target(n).host === host) ?? null;
  const writers = [
    new PsqlWriter(log, "dsn", cluster.dsn(), nodeOf, 1),
    new PsqlWriter(log, "haproxy", haproxy.dsn(SUPERUSER.username, SUPERUSER.password), nodeOf, 1_000_000_000),
    ...cluster.nodes.map((node, i) => new DirectWriter(log, node, cluster.target(node), nodeOf, (i + 2) * 1_000_000_000)),
  ];
  for (const w of writers) w.start();
  const b: Bench = { cluster, log };
  const results: RunResult[] = [];
  const failed = new Map<ScenarioId, number>();
  for (const scenario of opts.scenarios) {
    const runs = scenario === "S4" ? opts.s4Runs : opts.runs;
    for (let run = 1; run <= runs; run++) {
      const label = `${scenario} run ${run}/${runs}`;
      try {
        results.push(await runOnce(b, scenario, label));
      } catch (error: unknown) {
        failed.set(scenario, (failed.get(scenario) ?? 0) + 1);
        console.log(`${label} FAILED: ${error instanceof Error ? error.message : String(error)}; healing everything and going on`);
        await cluster.healAll();
      }
    }
  }
  for (const w of writers) await w.stop();
  const final = await cluster.pg.waitHealthy(HEALTHY_TIMEOUT_MS);
  const acked = log.writes.filter((w) => w.outcome === "ok");
  const lost = await lostOnPrimary(cluster, final, acked);
  const dual = dualPrimary(log.writes);
  console.log(`clients: ${[...MEASURED_WRITERS, ...cluster.nodes].map((w) => `${w} ${log.writes.filter((x) => x.writer === w && x.outcome === "ok").length}/${log.writes.filter((x) => x.writer === w).length}`).join(", ")} attempts acknowledged`);
  for (const line of summaryLines(results, opts.scenarios, failed)) console.log(line);
  if (opts.s4Runs < opts.runs && opts.scenarios.includes("S4")) console.log(`S4 ran ${opts.s4Runs} times, not ${opts.runs} (--s4-runs): each run holds the freeze 40 s`);
  console.log(`whole bench: ${acked.length} acknowledged writes, ${lost.total} missing on the final primary ${final} (${lost.tail} in the unreplicated tail, ${lost.durable} that should have survived, ${lost.unplaced} unplaced); dual primary ${dual.ms} ms over the whole history; ${Math.round((Date.now() - startedAt) / 1000)} s`);
  for (const overlap of dual.overlaps) console.log(`  DUAL PRIMARY: ${overlap}`);
  for (const example of lost.examples) console.log(`  LOST: ${example}`);
  const api = timelineEnds(""); // Filled below from GET /history, for comparison only.
  const history = (await getJson(`${cluster.apiUrl(final)}/history`)).body;
  if (Array.isArray(history)) for (const e of history) if (Array.isArray(e)) api.push({ timeline: Number(e[0]), switchLsn: BigInt(Math.trunc(Number(e[1]))) });
  const file = await switchPoints(cluster, final);
  console.log(`timeline switch points (timeline: history file / GET /history): ${file.map((e) => `${e.timeline}: ${e.switchLsn} / ${api.find((a) => a.timeline === e.timeline)?.switchLsn ?? "-"}`).join(", ") || "none"}`);
  const s = (id: ScenarioId, w: string): string => medianOf(results, id, w);
  const extras = [
    `s4_rto_ms_median=${s("S4", "dsn")}`,
    `s5_rto_ms_median=${s("S5", "dsn")}`,
    ...SCENARIOS.map((id) => `haproxy_${id.toLowerCase()}_ms_median=${s(id, "haproxy")}`),
    `s4_dual_primary_ms=${results.filter((r) => r.scenario === "S4").reduce((n, r) => n + r.dualMs, 0)}`,
    `s5_dual_primary_ms=${results.filter((r) => r.scenario === "S5").reduce((n, r) => n + r.dualMs, 0)}`,
    `lost_acked_tail=${lost.tail}`,
    `lost_acked_durable=${lost.durable}`,
    `lost_acked_unplaced=${lost.unplaced}`,
    `failed_runs=${[...failed.values()].reduce((a, b) => a + b, 0)}`,
    `runs=${opts.runs}`,
    `s4_runs=${opts.s4Runs}`,
    `mode=${opts.mode}`,
  ];
  console.log(`bench:failover crash_rto_ms_median=${s("S1", "dsn")} switchover_ms_median=${s("S2", "dsn")} postmaster_rto_ms_median=${s("S3", "dsn")} dual_primary_ms=${dual.ms} lost_acked=${lost.total} ${extras.join(" ")}`);
}

async function main(): Promise<void> {
  const missing = missingPrerequisite() ?? haproxyMissing();
  if (missing !== null) {
    process.stderr.write(`bench:failover needs network namespaces and HAProxy: ${missing}\n`);
    process.exit(2);
  }
  const opts = options();
  const cluster = await ClusterUnderTest.create({ id: `fb${process.pid.toString(36)}`.slice(0, 6), nodes: 3 });
  let haproxy: Haproxy | null = null;
  const killNow = (): void => {
    for (const child of livePsql) child.kill("SIGKILL");
    haproxy?.killNow();
    cluster.pg.killAllNow();
    cluster.topology.destroySync();
    rmSync(cluster.pg.root, { recursive: true, force: true });
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
    await bench(opts, cluster, (h) => (haproxy = h));
  } finally {
    clearTimeout(guard);
    for (const child of livePsql) child.kill("SIGKILL");
    (haproxy as Haproxy | null)?.killNow();
    await cluster.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
