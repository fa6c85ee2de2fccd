/**
 * npm run bench:failover — three raftgres agents with real PostgreSQL 15 on 127.0.0.1, and:
 * 1. node crash (the primary's agent and postmaster SIGKILLed), N times: the time from the kill
 *    until a write through a libpq multi-host DSN (target_session_attrs=read-write, psql) is
 *    acknowledged again; the old primary rejoins between runs;
 * 2. postmaster crash (the primary's postmaster SIGKILLed), N times: the same measure;
 * 3. agent freeze (the primary's agent SIGSTOPped), M times: a writer connected directly to the
 *    old primary and probes on the other members; the time both acknowledged writes
 *    (dual_primary_ms = last acknowledgement of the old primary after the first of the new, if
 *    any) and the acknowledged writes lost beyond the unreplicated tail: writes whose WAL flush
 *    position at acknowledgement was at or before the new timeline's switch point, yet are
 *    missing on the new primary.
 * 4. switchover (POST /switchover to the most caught-up replica, through another member's API),
 *    N times while the libpq writer runs: the longest gap between two acknowledged writes around
 *    it (the write downtime), and every write acknowledged meanwhile must be on the new primary.
 * The last line: bench:failover crash_rto_ms_median=<n> postmaster_rto_ms_median=<n> dual_primary_ms=<n> lost_acked=<n> switchover_ms_median=<n>
 * Options: --runs N (default 5), --freeze-runs M (default 3).
 */
import { parseArgs } from "node:util";
import { PgCluster, waitFor } from "../../test/support/pg_cluster.js";
import { DirectWriter, LibpqWriter, parseLsn } from "./failover_writer.js";

const TOTAL_TIMEOUT_MS = 15 * 60_000;
const RTO_TIMEOUT_MS = 60_000;
const TABLE = "bench";

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function crashRuns(cluster: PgCluster, writer: LibpqWriter, runs: number, what: "node" | "postmaster"): Promise<number[]> {
  const rtos: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const primary = await cluster.waitHealthy(120_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const postmaster = cluster.postmasterPid(primary);
    if (postmaster === null) throw new Error(`${primary} has no postmaster`);
    const killedAt = Date.now();
    if (what === "node") cluster.signalAgent(primary, "SIGKILL");
    process.kill(postmaster, "SIGKILL");
    const ack = await writer.firstAckAfter(killedAt, RTO_TIMEOUT_MS);
    if (ack === null) throw new Error(`no write was acknowledged within ${RTO_TIMEOUT_MS} ms of the ${what} crash`);
    const next = await waitFor("the primary", 30_000, () => cluster.primary().then((p) => p ?? undefined));
    rtos.push(ack - killedAt);
    console.log(`${what} crash ${run}/${runs}: killed ${what === "node" ? "agent and postmaster" : "postmaster"} of ${primary}; writes acknowledged again after ${ack - killedAt} ms; primary now ${next}`);
    if (what === "node") {
      await cluster.agentExited(primary);
      cluster.start(primary);
    }
  }
  return rtos;
}

interface SwitchoverResult {
  readonly downtimeMs: number;
  readonly lost: number;
}

async function switchoverRun(cluster: PgCluster, writer: LibpqWriter, run: number, runs: number): Promise<SwitchoverResult> {
  const old = await cluster.waitHealthy(120_000);
  const others = [...cluster.nodes.keys()].filter((n) => n !== old);
  const api = (name: string, path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${cluster.spec(name).apiPort}${path}`, { ...init, signal: AbortSignal.timeout(60_000) });
  // Members report their WAL positions every loop_wait: wait until a candidate's report caught up.
  const candidate = await waitFor("a caught-up candidate", 30_000, async () => {
    const members = ((await (await api(old, "/cluster")).json()) as { members: { name: string; lag?: unknown }[] }).members;
    return members.find((m) => m.name !== old && m.lag === 0)?.name;
  });
  const via = others.find((n) => n !== candidate) ?? candidate;
  const requestedAt = Date.now();
  const answer = await api(via, "/switchover", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ leader: old, candidate }) });
  const text = await answer.text();
  if (answer.status !== 200) throw new Error(`switchover ${run}: ${answer.status} ${text}`);
  await writer.firstAckAfter(Date.now(), RTO_TIMEOUT_MS);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const window = writer.acks.filter((a) => a.ackMs >= requestedAt - 2000);
  let downtimeMs = 0;
  for (let i = 1; i < window.length; i++) downtimeMs = Math.max(downtimeMs, window[i]!.ackMs - window[i - 1]!.ackMs);
  const ids = window.map((a) => a.id);
  const present = await cluster.query<{ n: string }>(candidate, `SELECT count(*) AS n FROM ${TABLE} WHERE id = ANY($1::bigint[])`, [ids]);
  const lost = ids.length - Number(present[0]?.n ?? 0);
  console.log(`switchover ${run}/${runs}: ${old} → ${candidate} (requested through ${via}): longest gap between acknowledged writes ${downtimeMs} ms; ${ids.length} writes acknowledged around it, ${lost} missing on ${candidate}`);
  return { downtimeMs, lost };
}

/** The LSN where the new primary's timeline forked from the previous one (its history file). */
async function switchPoint(cluster: PgCluster, primary: string): Promise<bigint> {
  const [row] = await cluster.query<{ file: string }>(primary, "SELECT pg_read_file('pg_wal/' || upper(lpad(to_hex(timeline_id), 8, '0')) || '.history') AS file FROM pg_control_checkpoint()");
  const lines = (row?.file ?? "").trim().split("\n").filter((l) => /^\d+\t/.test(l));
  const last = lines[lines.length - 1];
  if (last === undefined) throw new Error(`${primary} has no timeline history yet`);
  return parseLsn(last.split("\t")[1]!);
}

interface FreezeResult {
  readonly dualMs: number;
  readonly lost: number;
  readonly tail: number;
  readonly failoverMs: number;
}

async function freezeRun(cluster: PgCluster, nextId: () => number): Promise<FreezeResult> {
  const old = await cluster.waitHealthy(120_000);
  const others = [...cluster.nodes.keys()].filter((n) => n !== old);
  const client = await cluster.connect(old);
  const direct = new DirectWriter(client, TABLE, nextId() * 1000);
  direct.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const frozenAt = Date.now();
  cluster.signalAgent(old, "SIGSTOP");
  let firstNewAck: { name: string; atMs: number } | null = null;
  const deadline = Date.now() + RTO_TIMEOUT_MS;
  while (firstNewAck === null && Date.now() < deadline) {
    for (const name of others) {
      const ok = await cluster.query(name, `INSERT INTO ${TABLE} (id) VALUES ($1)`, [nextId()]).then(() => true, () => false);
      if (ok) firstNewAck = { name, atMs: Date.now() };
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await direct.stop();
  await client.end().catch(() => {});
  cluster.signalAgent(old, "SIGCONT");
  if (firstNewAck === null) throw new Error(`no other member accepted a write within ${RTO_TIMEOUT_MS} ms of the freeze`);
  const lastOld = direct.acks[direct.acks.length - 1];
  const dualMs = lastOld === undefined ? 0 : Math.max(0, lastOld.atMs - firstNewAck.atMs);
  const fork = await switchPoint(cluster, firstNewAck.name);
  const mustSurvive = direct.acks.filter((a) => a.flushLsn <= fork);
  const present = new Set((await cluster.query<{ id: string }>(firstNewAck.name, `SELECT id::text FROM ${TABLE} WHERE id = ANY($1::bigint[])`, [mustSurvive.map((a) => a.id)])).map((r) => Number(r.id)));
  const lost = mustSurvive.filter((a) => !present.has(a.id)).length;
  const tail = direct.acks.length - mustSurvive.length;
  console.log(`agent freeze: froze ${old}'s agent; ${firstNewAck.name} accepted a write after ${firstNewAck.atMs - frozenAt} ms; ${old} acknowledged ${direct.acks.length} writes, its last ${lastOld === undefined ? "never" : `${lastOld.atMs - frozenAt} ms after the freeze`} (${direct.error ?? "no error"}); both writable for ${dualMs} ms; ${mustSurvive.length} acknowledged writes at or before the switch point, ${lost} of them missing; ${tail} in the unreplicated tail`);
  await cluster.waitHealthy(120_000);
  return { dualMs, lost, tail, failoverMs: firstNewAck.atMs - frozenAt };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, "freeze-runs": { type: "string", default: "3" } } });
  const runs = Number(values.runs);
  const freezeRuns = Number(values["freeze-runs"]);
  const cluster = await PgCluster.create();
  const guard = setTimeout(() => {
    process.stderr.write(`bench:failover took longer than ${TOTAL_TIMEOUT_MS / 60_000} min; stopping\n`);
    cluster.killAllNow();
    process.exit(2);
  }, TOTAL_TIMEOUT_MS);
  try {
    const startedAt = Date.now();
    cluster.startAll();
    const primary = await cluster.waitHealthy(120_000);
    console.log(`3 agents with PostgreSQL 15 on 127.0.0.1 (ttl 5 s, loop_wait 1 s, retry_timeout 2 s, Raft heartbeat 100 ms, election 1000 ms): bootstrapped with ${primary} as primary in ${Date.now() - startedAt} ms`);
    await cluster.query(primary, `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);
    const writer = new LibpqWriter(cluster.dsn("read-write"), TABLE, 1);
    writer.start();
    const crash = await crashRuns(cluster, writer, runs, "node");
    const postmaster = await crashRuns(cluster, writer, runs, "postmaster");
    const switchovers: SwitchoverResult[] = [];
    for (let run = 1; run <= runs; run++) switchovers.push(await switchoverRun(cluster, writer, run, runs));
    await writer.stop();
    console.log(`libpq writer: ${writer.attempts} attempts, ${writer.acks.length} acknowledged`);
    let id = 10_000_000;
    const freezes: FreezeResult[] = [];
    for (let run = 0; run < freezeRuns; run++) freezes.push(await freezeRun(cluster, () => id++));
    const crashMedian = median(crash);
    const postmasterMedian = median(postmaster);
    console.log(`node crash rto ms: ${crash.join(", ")} (median ${crashMedian})`);
    console.log(`postmaster crash rto ms: ${postmaster.join(", ")} (median ${postmasterMedian})`);
    console.log(`agent freeze: new primary writable after ${freezes.map((f) => f.failoverMs).join(", ")} ms; dual primary ms ${freezes.map((f) => f.dualMs).join(", ")}; lost ${freezes.map((f) => f.lost).join(", ")}; unreplicated tail ${freezes.map((f) => f.tail).join(", ")}`);
    const dual = Math.max(0, ...freezes.map((f) => f.dualMs));
    const lost = freezes.reduce((sum, f) => sum + f.lost, 0) + switchovers.reduce((sum, s) => sum + s.lost, 0);
    const switchoverMedian = median(switchovers.map((s) => s.downtimeMs));
    console.log(`switchover write downtime ms: ${switchovers.map((s) => s.downtimeMs).join(", ")} (median ${switchoverMedian}); lost ${switchovers.map((s) => s.lost).join(", ")}`);
    console.log(`bench:failover crash_rto_ms_median=${crashMedian} postmaster_rto_ms_median=${postmasterMedian} dual_primary_ms=${dual} lost_acked=${lost} switchover_ms_median=${switchoverMedian}`);
  } finally {
    clearTimeout(guard);
    await cluster.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
