/**
 * The main job: a local three-node raftgres cluster on 127.0.0.1 with real PostgreSQL 15,
 * narrated for a DBA who knows Patroni. Three agents start at once on empty data directories
 * (one initdb, two pg_basebackup clones); rows are written through libpq's multi-host connection
 * string; the primary's node crashes (agent and postmaster SIGKILL) and a replica takes over; the
 * old primary rejoins with pg_rewind; the primary's postmaster alone crashes and is restarted in
 * place (those three with --failover). `raftgres list` shows the cluster; then it stays up for
 * you to poke at until Ctrl-C, or stops at once with --exit.
 *   node dist/scripts/demo_cluster.js [--failover] [--exit]
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PgCluster, waitFor } from "../lab/pg_cluster.js";
import { caughtUp, healthy, logLines, membersTable } from "./demo/members.js";
import { reaped, teardown } from "./demo/processes.js";
import { hostErrors, psql, RETRY_EVERY_MS, writeUntilAccepted } from "./demo/psql.js";

/** Every wait of the demo is bounded; these are generous for a slow CI machine. */
const BOOTSTRAP_TIMEOUT_MS = 120_000;
const HEALTHY_TIMEOUT_MS = 90_000;
const WRITE_TIMEOUT_MS = 60_000;
const REPLAY_TIMEOUT_MS = 15_000;
const ROWS_FIRST = 1000;
/** The agent log lines that tell how the old primary rejoined. */
const REJOIN_LOG = ["not shut down cleanly", "rewinding against", "servers diverged",
  "need to copy", "rewound against", "no rewind required", "reinitializing"];

const say = (...lines: string[]): void => console.log(lines.join("\n"));

class Demo {
  /** The step under way, named when it fails. */
  step = "0 (creating the cluster)";
  /** Rows in table demo, as acknowledged to the client. */
  rows = 0;

  constructor(readonly cluster: PgCluster) {}

  get dsn(): string {
    return this.cluster.dsn("read-write");
  }

  private memberOfPort(port: number): string {
    return [...this.cluster.nodes.values()].find((n) => n.pgPort === port)?.name ?? `port ${port}`;
  }

  private heading(step: string, text: string, ...lines: string[]): void {
    this.step = step;
    say(`\n── ${step}. ${text}`, ...lines.map((line) => `   ${line}`));
  }

  private async table(): Promise<void> {
    say(await membersTable(this.cluster));
  }

  private async countRows(): Promise<number> {
    return Number((await psql(this.dsn, "SELECT count(*) FROM demo"))[0]);
  }

  private async timeline(name: string): Promise<number | null> {
    return (await this.cluster.status(name))?.timeline ?? null;
  }

  /** One INSERT retried through the DSN from the kill on; the time it took and what failed. */
  private async writeAfterKill(killedMs: number, note: string): Promise<string> {
    const recovered = await writeUntilAccepted(this.dsn, note, killedMs, WRITE_TIMEOUT_MS);
    this.rows += 1;
    const member = this.memberOfPort(recovered.port);
    say(`   A write succeeded again ${recovered.elapsedMs} ms after the kill, on ${member}` +
      ` (attempt ${recovered.attempts}).`);
    const [first, last] = recovered.errors.map((e) => hostErrors(e, (p) => this.memberOfPort(p)));
    if (first !== undefined) say(`   First failed attempt: ${first}`);
    if (last !== undefined) say(`   Last failed attempt:  ${last}`);
    return member;
  }

  async bootstrap(): Promise<void> {
    this.heading("1", "Three agents start at once on empty data directories",
      "Like Patroni's race for the /initialize key, the members race in the Raft log: one wins",
      "and runs initdb, the others wait for it and clone it with pg_basebackup.");
    const startedMs = Date.now();
    this.cluster.startAll();
    const primary = await healthy(this.cluster, BOOTSTRAP_TIMEOUT_MS);
    const elapsedMs = Date.now() - startedMs;
    const names = [...this.cluster.nodes.keys()];
    const sql = "SELECT system_identifier::text AS id FROM pg_control_system()";
    const ids = new Set<string>();
    for (const name of names) {
      ids.add((await this.cluster.query<{ id: string }>(name, sql))[0]?.id ?? "?");
    }
    if (ids.size !== 1) throw new Error(`the members run different clusters: ${[...ids].join()}`);
    const initdb = names.filter((n) => logLines(this.cluster, n, "initializing a new").length > 0);
    if (initdb.join() !== primary) {
      throw new Error(`expected only ${primary} to run initdb, the logs say: ${initdb.join()}`);
    }
    say(`   ${primary} ran initdb and became primary; one primary and two streaming replicas` +
      ` after ${elapsedMs} ms.`);
    for (const name of names.filter((n) => n !== primary)) {
      const clone = logLines(this.cluster, name, "pg_basebackup")[0];
      say(`   ${name}: ${clone ?? "(no pg_basebackup line in its log)"}`);
    }
    say(`   Every member has system identifier ${[...ids][0]}. The Raft leader (of the log) and`,
      "   the primary (the lease holder) are chosen separately: often they are different members.");
    await this.table();
  }

  async write(): Promise<void> {
    this.heading("2", "Writes through libpq's multi-host connection string", `psql "${this.dsn}"`,
      "libpq tries each host in turn and keeps the first that accepts writes",
      "(target_session_attrs=read-write).");
    await psql(this.dsn, "CREATE TABLE demo (id bigserial PRIMARY KEY, note text NOT NULL," +
      " at timestamptz NOT NULL DEFAULT now())");
    const startedMs = Date.now();
    const [port] = await psql(this.dsn, "INSERT INTO demo (note) SELECT 'row ' || i" +
      ` FROM generate_series(1, ${ROWS_FIRST}) AS i RETURNING inet_server_port()`);
    this.rows = ROWS_FIRST;
    const member = this.memberOfPort(Number(port));
    const ms = Date.now() - startedMs;
    say(`   Created table demo; inserted ${ROWS_FIRST} rows on ${member} in ${ms} ms.`);
    const primary = await healthy(this.cluster, HEALTHY_TIMEOUT_MS);
    await caughtUp(this.cluster, primary, REPLAY_TIMEOUT_MS);
    say("   Replication is asynchronous; the replicas have replayed everything (lag 0 B):");
    await this.table();
  }

  async crashPrimaryNode(): Promise<{ old: string; postmaster: number }> {
    const old = await healthy(this.cluster, HEALTHY_TIMEOUT_MS);
    this.heading("3", `Node crash: kill -9 of ${old}'s agent and postmaster`,
      "The lease (Patroni's leader key, ttl 5 s) lives in the Raft log. The agent's watchdog, a",
      "separate process, kills the PostgreSQL group and reports the fence to the other members,",
      "so they need not wait out the ttl (a whole-machine crash would: the watchdog dies too).",
      `A client retries one INSERT through the DSN every ${RETRY_EVERY_MS} ms.`);
    const postmaster = this.cluster.postmasterPid(old);
    if (postmaster === null) throw new Error(`${old} has no running postmaster`);
    const killedMs = Date.now();
    this.cluster.signalAgent(old, "SIGKILL");
    process.kill(postmaster, "SIGKILL");
    const next = await this.writeAfterKill(killedMs, "after the node crash");
    const rows = await this.countRows();
    if (rows !== this.rows) throw new Error(`${next} has ${rows} rows, expected ${this.rows}`);
    say(`   ${next} has all ${rows} rows: ${rows - 1} written before the crash and the new one.`);
    const other = [...this.cluster.nodes.keys()].find((n) => n !== old && n !== next)!;
    await waitFor(`${other} to stream from ${next}`, HEALTHY_TIMEOUT_MS, async () => {
      const s = await this.cluster.status(other);
      const streaming = s?.busy === null && s.reason === `streaming from ${next}`;
      if (s?.role !== "replica" || !streaming) return undefined;
      return s.timeline === (await this.timeline(next)) ? true : undefined;
    }, 200);
    await this.table();
    return { old, postmaster };
  }

  async rejoin({ old, postmaster }: { old: string; postmaster: number }): Promise<void> {
    this.heading("4", `${old}'s agent starts again`,
      "Its data directory may hold WAL the new primary never had: it is rewound with pg_rewind",
      "and follows the new primary on the new timeline (Patroni's use_pg_rewind).");
    if (!(await reaped(postmaster))) say(`   (its killed postmaster ${postmaster} is a zombie)`);
    const startedMs = Date.now();
    this.cluster.start(old);
    const primary = await healthy(this.cluster, HEALTHY_TIMEOUT_MS);
    if (primary === old) throw new Error(`${old} became primary again instead of rejoining`);
    await caughtUp(this.cluster, primary, REPLAY_TIMEOUT_MS);
    say(`   ${old} streams from ${primary} on timeline ${await this.timeline(old)}` +
      ` after ${Date.now() - startedMs} ms. From its log:`);
    const lines = REJOIN_LOG.flatMap((text) => logLines(this.cluster, old, text)).sort();
    for (const line of lines) say(`     ${line.split("\n")[0]}`);
    const logged = (text: string): boolean => lines.some((line) => line.includes(text));
    if (logged("reinitializing")) say("   pg_rewind failed, so it was cloned again instead.");
    else if (logged("no rewind required")) say("   pg_rewind found no divergent WAL to undo.");
    else if (!logged("rewound against")) say("   (no pg_rewind line in its log: see agent.log)");
    const rows = await this.cluster.query<{ n: string }>(old, "SELECT count(*) AS n FROM demo");
    say(`   It has ${rows[0]?.n} rows, like the primary.`);
    await this.table();
  }

  async crashPostmaster(): Promise<void> {
    const primary = await healthy(this.cluster, HEALTHY_TIMEOUT_MS);
    const timeline = await this.timeline(primary);
    this.heading("5", `kill -9 of ${primary}'s postmaster only`,
      "The agent is alive and keeps renewing the lease, so there is no failover: it restarts",
      "PostgreSQL in place (crash recovery), within primary_start_timeout.");
    const pid = this.cluster.postmasterPid(primary);
    if (pid === null) throw new Error(`${primary} has no running postmaster`);
    const killedMs = Date.now();
    process.kill(pid, "SIGKILL");
    await this.writeAfterKill(killedMs, "after the postmaster crash");
    const after = await healthy(this.cluster, HEALTHY_TIMEOUT_MS);
    const timelineAfter = await this.timeline(after);
    if (after !== primary || timelineAfter !== timeline) {
      throw new Error(`expected ${primary} on timeline ${timeline}: ${after} on ${timelineAfter}`);
    }
    await caughtUp(this.cluster, after, REPLAY_TIMEOUT_MS);
    const rows = await this.countRows();
    if (rows !== this.rows) throw new Error(`the primary has ${rows} rows, expected ${this.rows}`);
    say(`   Same primary (${after}), same timeline (${timelineAfter}), all ${rows} rows.`);
    await this.table();
  }

  /** The `raftgres` command line for this cluster (the compiled binary, every member's API). */
  cliCommand(): string[] {
    const main = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "agent", "main.js");
    const urls = [...this.cluster.nodes.values()].map((n) => `http://127.0.0.1:${n.apiPort}`).join(",");
    return [process.execPath, main, "--url", urls];
  }

  /** Patroni users' first command, through the CLI (a client of the REST API). */
  list(step: string): void {
    const [node, ...args] = this.cliCommand();
    this.heading(step, "The operator's view: raftgres list", `${["raftgres", ...args.slice(1)].join(" ")} list`);
    say(execFileSync(node!, [...args, "list"], { encoding: "utf8", timeout: 20_000 }).trimEnd().split("\n").map((line) => `   ${line}`).join("\n"));
  }

  connectionInfo(step: string): void {
    const cli = this.cliCommand().join(" ");
    this.heading(step, "The cluster keeps running", `psql "${this.dsn}"`);
    say(`   The CLI: ${cli} list | switchover | history | edit-config … (--help for all)`,
      `   Watch a failover: ${cli} list --watch 1   (then kill -9 the primary's agent in another shell)`);
    for (const spec of this.cluster.nodes.values()) {
      say(`   ${spec.name}: curl -s http://127.0.0.1:${spec.apiPort}/patroni` +
        `   (PostgreSQL on 127.0.0.1:${spec.pgPort})`,
      `        agent log ${spec.dir}/agent.log   data ${spec.dir}/pgdata`,
      `        PostgreSQL log ${spec.dir}/pgdata.log.d/`);
    }
    say(`   Everything is under ${this.cluster.root}. Ctrl-C stops the cluster and removes it.`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { exit: { type: "boolean", default: false }, failover: { type: "boolean", default: false } } });
  const cluster = await PgCluster.create();
  const demo = new Demo(cluster);
  let serving = false;
  let stopping = false;
  const stop = (signal: string): void => {
    stopping = true;
    say(`\n${signal}: stopping every agent and PostgreSQL, removing ${cluster.root}`);
    void teardown(cluster).finally(() => process.exit(serving ? 0 : 1));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  say(`raftgres demo: members ${[...cluster.nodes.keys()].join(", ")} under ${cluster.root}`);
  try {
    await demo.bootstrap();
    await demo.write();
    if (values.failover) {
      await demo.rejoin(await demo.crashPrimaryNode());
      await demo.crashPostmaster();
    }
    demo.list(values.failover ? "6" : "3");
  } catch (error: unknown) {
    if (stopping) return;
    const message = error instanceof Error ? error.message : String(error);
    say(`\nThe demo failed at step ${demo.step}: ${message}`);
    for (const name of cluster.nodes.keys()) {
      say(`-- the last lines of ${name}'s agent log:`);
      say(...logLines(cluster, name).slice(-8).map((line) => `   ${line.slice(0, 200)}`));
    }
    await teardown(cluster);
    process.exit(1);
  }
  if (stopping) return;
  if (values.exit) {
    await teardown(cluster);
    say("\nStopped every agent and PostgreSQL and removed the data (--exit).");
    process.exit(0);
  }
  demo.connectionInfo(values.failover ? "7" : "4");
  serving = true;
  // The agents' pipes keep the process alive too; this says so. A signal ends it (stop above).
  setInterval(() => {}, 60_000);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
