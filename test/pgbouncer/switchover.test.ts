/**
 * Acceptance with a real pgbouncer (Debian's package, configured from packaging/pgbouncer.ini)
 * in front of three real agents that keep its databases file pointed at the primary and pause it
 * through a planned switchover (src/agent/pgbouncer_switchover.ts):
 * - clients writing through pgbouncer during `raftgres switchover` see no failed transaction (the
 *   longest wait is reported), and their writes then land on the new primary;
 * - a refused switchover pauses nothing;
 * - a switchover whose promotions fail leaves pgbouncer paused no longer than pause_max_ms;
 * - a pause left by an agent killed mid-switchover ends with the next promotion.
 * The cluster and pgbouncer are killed by PID in the teardown, whatever the outcome.
 */
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import t from "tap";
import { AGENT_NODE_FLAGS } from "../../src/agent/heap.js";
import { type Pgbouncer, pgbouncerMissing, startPgbouncer } from "../../lab/pgbouncer.js";
import { PgCluster, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Constants only above run(): it runs at the top level, before the rest of the module is evaluated.
const ADMIN = { username: "raftgres_admin", password: "raftgres-test-pgbouncer" };
const DATABASE = "appdb";
/** Longer than a switchover on a loaded machine, short enough for the test to wait it out. */
const PAUSE_MAX_MS = 10_000;
t.setTimeout(300_000);

const missing = pgbouncerMissing();
if (missing !== null) t.plan(0, missing);
else await run().catch((error: unknown) => t.fail(error instanceof Error ? error.stack ?? error.message : String(error)));

async function run(): Promise<void> {
  const pgbouncer = await startPgbouncer({ users: [SUPERUSER], admin: ADMIN, settings: { query_wait_timeout: "60" } });
  t.teardown(() => pgbouncer.stop());
  const allowPromotion = join(pgbouncer.dir, "allow-promotion");
  writeFileSync(allowPromotion, "");
  const cluster = await PgCluster.create({
    extraYaml: `  pre_promote: "test -e ${allowPromotion}"
pgbouncer:
  admin: { username: ${ADMIN.username}, password: ${ADMIN.password} }
  instances:
    - name: pgb
      address: 127.0.0.1:${pgbouncer.port}
      databases_file: ${pgbouncer.databasesFile}
  databases:
    ${DATABASE}: dbname=postgres
  pause_wait_ms: 5000
  pause_max_ms: ${PAUSE_MAX_MS}
`,
  });
  t.teardown(() => cluster.destroy());
  cluster.startAll();
  const first = await cluster.waitHealthy(120_000);
  await routedTo(cluster, pgbouncer, first);
  await throughPgbouncer(pgbouncer, "CREATE TABLE pgb_writes (writer int, n int, port int)");

  const second = await switchoverUnderLoad(cluster, pgbouncer, first);
  await refusedSwitchover(cluster, pgbouncer, second);
  const third = await failedPromotions(cluster, pgbouncer, second, allowPromotion);
  await agentKilledMidSwitchover(cluster, pgbouncer, third);
}

// ---- the scenarios ------------------------------------------------------------------------

async function switchoverUnderLoad(cluster: PgCluster, pgbouncer: Pgbouncer, old: string): Promise<string> {
  let to = "";
  await t.test("clients writing through pgbouncer see a switchover as a wait, not an error", async (t) => {
    to = [...cluster.nodes.keys()].find((n) => n !== old)!;
    await caughtUp(cluster, old, to);
    let stop = false;
    const writers = [writer(pgbouncer, 1, "statement", () => stop), writer(pgbouncer, 2, "transaction", () => stop)];
    await sleep(1_000);
    const cli = await runCli(cluster, old, ["switchover", "--leader", old, "--candidate", to, "--force", "test"]);
    t.equal(cli.code, 0, `raftgres switchover succeeded: ${cli.stdout.split("\n").find((l) => /over to/.test(l)) ?? cli.stderr}`);
    await cluster.waitHealthy(60_000);
    await routedTo(cluster, pgbouncer, to);
    await sleep(1_000);
    stop = true;
    const stats = await Promise.all(writers);
    const failed = stats.reduce((sum, s) => sum + s.failed, 0);
    const waits = stats.flatMap((s) => s.waitsMs).sort((a, b) => a - b);
    const longest = waits[waits.length - 1] ?? 0;
    t.comment(`${waits.length} transactions through pgbouncer across the switchover ${old} → ${to}: ${failed} failed, longest wait ${longest.toFixed(0)} ms, median ${median(waits).toFixed(1)} ms`);
    t.equal(failed, 0, `no transaction failed${failed > 0 ? `: ${stats.flatMap((s) => s.errors).slice(0, 3).join("; ")}` : ""}`);
    for (const s of stats) t.equal(s.lastPort, cluster.spec(to).pgPort, `writer ${s.writer}'s last write landed on the new primary ${to}`);
    const acknowledged = stats.reduce((sum, s) => sum + s.rows, 0);
    const rows = await cluster.query<{ count: string }>(to, "SELECT count(*) FROM pgb_writes");
    t.equal(Number(rows[0]!.count), acknowledged, "the new primary holds every acknowledged write");
    t.same(await pgbouncer.paused([DATABASE]), [], "pgbouncer is resumed");
    const status = (await cluster.api(old, "GET", "/patroni")).json as { raftgres?: { pgbouncer?: { name: string; paused: boolean; points_at: string | null }[] } };
    t.match(status.raftgres?.pgbouncer, [{ name: "pgb", paused: false, points_at: to }], "GET /patroni shows the instance resumed and pointed at the new primary");
    const metrics = await (await fetch(`${cluster.apiUrl(old)}/metrics`)).text();
    t.match(metrics, /raftgres_pgbouncer_paused\{[^}]*pgbouncer="pgb"\} 0/, "/metrics shows it resumed");
    t.match(cluster.agentLog(old), /paused pgbouncer pgb \(appdb\) for the switchover/, "the old primary's agent paused it");
  });
  return to;
}

async function refusedSwitchover(cluster: PgCluster, pgbouncer: Pgbouncer, primary: string): Promise<void> {
  await t.test("a refused switchover pauses nothing", async (t) => {
    const answer = await cluster.api(primary, "POST", "/switchover", { leader: primary, candidate: "pg9" });
    t.equal(answer.status, 412, `refused: ${answer.text}`);
    t.same(await pgbouncer.paused([DATABASE]), [], "pgbouncer is not paused");
    const port = await throughPgbouncer(pgbouncer, "SELECT inet_server_port() AS port");
    t.equal(Number(port[0]!["port"]), cluster.spec(primary).pgPort, "a query through pgbouncer still reaches the primary");
  });
}

async function failedPromotions(cluster: PgCluster, pgbouncer: Pgbouncer, old: string, allowPromotion: string): Promise<string> {
  let primary = "";
  await t.test("a switchover whose promotions fail leaves pgbouncer paused at most pause_max_ms", async (t) => {
    const to = [...cluster.nodes.keys()].find((n) => n !== old)!;
    await caughtUp(cluster, old, to);
    rmSync(allowPromotion);
    void cluster.api(old, "POST", "/switchover", { leader: old, candidate: to }).catch(() => undefined);
    const pausedAt = await waitFor("pgbouncer paused for the switchover", 30_000, async () => ((await pgbouncer.paused([DATABASE])).length > 0 ? Date.now() : undefined), 20);
    const resumedAt = await waitFor("pgbouncer resumed", PAUSE_MAX_MS + 20_000, async () => ((await pgbouncer.paused([DATABASE])).length === 0 ? Date.now() : undefined), 50);
    const pausedMs = resumedAt - pausedAt;
    const path = /pause reached pgbouncer\.pause_max_ms/.test(cluster.agentLog(old)) ? "the hard bound" : "the end of the switchover";
    t.comment(`pgbouncer stayed paused ${pausedMs} ms with every promotion refused by pre_promote; it was resumed by ${path}`);
    t.ok(pausedMs <= PAUSE_MAX_MS + 2_000, `resumed within pause_max_ms (${PAUSE_MAX_MS} ms) and a little slack: ${pausedMs} ms`);
    writeFileSync(allowPromotion, "");
    primary = await cluster.waitHealthy(120_000);
    await routedTo(cluster, pgbouncer, primary);
    t.pass(`${primary} is the primary again and pgbouncer reaches it`);
  });
  return primary;
}

async function agentKilledMidSwitchover(cluster: PgCluster, pgbouncer: Pgbouncer, old: string): Promise<void> {
  await t.test("a pause left by an agent killed mid-switchover ends with the next promotion", async (t) => {
    const to = [...cluster.nodes.keys()].find((n) => n !== old)!;
    await caughtUp(cluster, old, to);
    // A transaction held open keeps the PAUSE waiting: the agent dies while it pauses.
    const open = await pgbouncerClient(pgbouncer);
    await open.query("BEGIN");
    await open.query("INSERT INTO pgb_writes VALUES (9, 0, inet_server_port())");
    void cluster.api(old, "POST", "/switchover", { leader: old, candidate: to }).catch(() => undefined);
    await waitFor("pgbouncer pausing for the switchover", 30_000, async () => ((await pgbouncer.paused([DATABASE])).length > 0 ? true : undefined), 20);
    cluster.signalAgent(old, "SIGKILL");
    const killedAt = Date.now();
    await open.query("COMMIT").catch(() => undefined);
    await open.end().catch(() => undefined);
    await waitFor("pgbouncer resumed by the next promotion", 60_000, async () => ((await pgbouncer.paused([DATABASE])).length === 0 ? true : undefined), 50);
    t.comment(`pgbouncer resumed ${Date.now() - killedAt} ms after the pausing agent was killed`);
    const promoted = await waitFor("a new primary", 60_000, () => cluster.primary().then((p) => p ?? undefined));
    t.not(promoted, old, `${promoted} was promoted`);
    t.match(cluster.agentLog(promoted), /resumed pgbouncer pgb \(appdb\), paused by another agent or by hand: this member was promoted/, "the promoted member resumed it");
    await routedTo(cluster, pgbouncer, promoted);
    t.pass("a write through pgbouncer lands on the new primary");
    cluster.start(old);
    await cluster.waitHealthy(120_000);
  });
}

// ---- helpers ------------------------------------------------------------------------------

interface WriterStats {
  readonly writer: number;
  failed: number;
  rows: number;
  readonly errors: string[];
  readonly waitsMs: number[];
  lastPort: number | null;
}

/**
 * Writes through pgbouncer until `stopped()`: single INSERTs, or transactions of two INSERTs
 * around a 20 ms sleep (so that some are in flight when PAUSE comes). Each transaction's time is
 * one wait; a failure reconnects and goes on.
 */
async function writer(pgbouncer: Pgbouncer, id: number, mode: "statement" | "transaction", stopped: () => boolean): Promise<WriterStats> {
  const stats: WriterStats = { writer: id, failed: 0, rows: 0, errors: [], waitsMs: [], lastPort: null };
  let client = await pgbouncerClient(pgbouncer);
  let n = 0;
  while (!stopped()) {
    const started = performance.now();
    try {
      if (mode === "statement") {
        const result = await client.query<{ port: number }>("INSERT INTO pgb_writes VALUES ($1, $2, inet_server_port()) RETURNING port", [id, ++n]);
        stats.lastPort = result.rows[0]!.port;
        stats.rows += 1;
      } else {
        await client.query("BEGIN");
        await client.query("INSERT INTO pgb_writes VALUES ($1, $2, inet_server_port())", [id, ++n]);
        await client.query("SELECT pg_sleep(0.02)");
        const result = await client.query<{ port: number }>("INSERT INTO pgb_writes VALUES ($1, $2, inet_server_port()) RETURNING port", [id, ++n]);
        await client.query("COMMIT");
        stats.lastPort = result.rows[0]!.port;
        stats.rows += 2;
      }
      stats.waitsMs.push(performance.now() - started);
    } catch (error: unknown) {
      stats.failed++;
      stats.errors.push(error instanceof Error ? error.message : String(error));
      await client.end().catch(() => undefined);
      client = await pgbouncerClient(pgbouncer).catch(() => client);
      await sleep(50);
    }
  }
  await client.end().catch(() => undefined);
  return stats;
}

async function pgbouncerClient(pgbouncer: Pgbouncer): Promise<pg.Client> {
  const client = new pg.Client({ host: "127.0.0.1", port: pgbouncer.port, user: SUPERUSER.username, password: SUPERUSER.password, database: DATABASE, connectionTimeoutMillis: 5_000, query_timeout: 60_000 });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function throughPgbouncer(pgbouncer: Pgbouncer, sql: string): Promise<Record<string, unknown>[]> {
  const client = await pgbouncerClient(pgbouncer);
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Waits until a write through pgbouncer lands on `primary`. */
async function routedTo(cluster: PgCluster, pgbouncer: Pgbouncer, primary: string): Promise<void> {
  const port = cluster.spec(primary).pgPort;
  await waitFor(`pgbouncer routing writes to ${primary}`, 30_000, async () => {
    const rows = await throughPgbouncer(pgbouncer, "SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby");
    return Number(rows[0]!["port"]) === port && rows[0]!["standby"] === false ? true : undefined;
  }, 100);
}

/** The candidate's reported lag reaches 0: a switchover to it is allowed. */
async function caughtUp(cluster: PgCluster, primary: string, candidate: string): Promise<void> {
  await waitFor(`${candidate}'s reported lag to reach 0`, 30_000, async () => {
    const body = (await cluster.api(primary, "GET", "/cluster")).json as { members?: { name: string; lag?: unknown }[] };
    return body.members?.find((m) => m.name === candidate)?.lag === 0 ? true : undefined;
  });
}

/** The raftgres CLI, run asynchronously (the writers go on meanwhile), bounded at 60 s. */
function runCli(cluster: PgCluster, node: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const main = join(ROOT, "src", "agent", "main.ts");
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, "--import", "tsx", main, "-c", cluster.configPath(node), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.once("exit", (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
