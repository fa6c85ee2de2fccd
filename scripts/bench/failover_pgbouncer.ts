/**
 * S2 through pgbouncer (issue 16, item 3): a cluster of its own whose agents have the pgbouncer
 * section (they PAUSE it before the old primary stops, point its databases file at the new
 * primary and RESUME), a real pgbouncer configured from packaging/pgbouncer.ini by lab/pgbouncer.ts
 * in the root namespace, listening on 127.0.0.1 for the clients and on the topology's bridge for
 * the agents' admin commands. Its own cluster, because an agent with a pgbouncer section waits for
 * the PAUSE before every switchover stop: the main phase's S2 stays what users without it get.
 *
 * Clients through pgbouncer, each on one connection kept open (pool_mode transaction), as an
 * application's pool would: `pgbouncer_statement` single INSERTs, `pgbouncer_transaction`
 * transactions of two INSERTs around a 20 ms sleep (so that some are in flight when PAUSE
 * comes). Each transaction is one record: its wait is its time from the first statement sent to
 * the answer of the last; it failed if any statement did (the client then reconnects).
 * Per run: the transactions that ended between the request and the run's end, how many failed,
 * the longest and the median wait, and where the time went between PAUSE and RESUME, from the
 * agents' logs (their wall clocks, on the same machine as the bench's).
 */
import { appendFileSync } from "node:fs";
import pg from "pg";
import type { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { Loop, type NodeOf, type Outcome, TABLE, type WriteLog, type WriteRecord } from "../../lab/jepsen/writers.js";
import { type Pgbouncer, startPgbouncer } from "../../lab/pgbouncer.js";
import { SUPERUSER } from "../../lab/pg_cluster.js";
import { spread } from "./failover_measure.js";

export { pgbouncerMissing } from "../../lab/pgbouncer.js";

const ADMIN = { username: "raftgres_admin", password: "raftgres-bench-pgbouncer" };
/** The pgbouncer database the clients use; it is PostgreSQL's postgres on the primary. */
const DATABASE = "appdb";
/** Longer than any switchover here; pgbouncer's own query_wait_timeout (60 s) is longer still. */
const PAUSE_MAX_MS = 30_000;
const STATEMENT_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_PAUSE_MS = 50;
/** In a transaction, between its two INSERTs. */
const IN_TRANSACTION_SLEEP_S = 0.02;
export const PGBOUNCER_WRITERS = ["pgbouncer_statement", "pgbouncer_transaction"] as const;
const RETURNING = "RETURNING host(inet_server_addr()) AS host, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl";

/**
 * Starts pgbouncer for `cluster` and appends the pgbouncer section to every node.yml (the
 * agents are not started yet: the bridge's address is known only once the cluster exists).
 */
export async function startClusterPgbouncer(cluster: ClusterUnderTest): Promise<Pgbouncer> {
  const bridge = cluster.topology.bridgeIp;
  const pgbouncer = await startPgbouncer({ users: [SUPERUSER], admin: ADMIN, settings: { listen_addr: `127.0.0.1,${bridge}` } });
  const yaml = `pgbouncer:
  admin: { username: ${ADMIN.username}, password: ${ADMIN.password} }
  instances:
    - name: bench
      address: ${bridge}:${pgbouncer.port}
      databases_file: ${pgbouncer.databasesFile}
  databases:
    ${DATABASE}: dbname=postgres
  pause_max_ms: ${PAUSE_MAX_MS}
`;
  for (const node of cluster.nodes) appendFileSync(cluster.pg.configPath(node), `\n${yaml}`);
  return pgbouncer;
}

/** One client through pgbouncer on a connection of its own, reconnected after a failure. */
export class PgbouncerWriter extends Loop {
  private client: pg.Client | null = null;
  private nextId: number;

  constructor(private readonly log: WriteLog, readonly name: string, private readonly port: number, private readonly transactions: boolean, private readonly nodeOf: NodeOf, firstId: number) {
    super();
    this.nextId = firstId;
  }

  protected async step(): Promise<void> {
    const id = this.nextId;
    this.nextId += 2;
    const startMs = this.log.now();
    let committing = false;
    try {
      const client = this.client ?? (await this.connect());
      const insert = `INSERT INTO ${TABLE} (id, writer) VALUES ($1, $2) ${RETURNING}`;
      let row: { host: string; tl: string } | undefined;
      if (this.transactions) {
        await client.query("BEGIN");
        await client.query(`INSERT INTO ${TABLE} (id, writer) VALUES ($1, $2)`, [id + 1, this.name]);
        await client.query(`SELECT pg_sleep(${IN_TRANSACTION_SLEEP_S})`);
        row = (await client.query<{ host: string; tl: string }>(insert, [id, this.name])).rows[0];
        committing = true;
        await client.query("COMMIT");
      } else {
        committing = true;
        row = (await client.query<{ host: string; tl: string }>(insert, [id, this.name])).rows[0];
      }
      this.log.add({ writer: this.name, id, startMs, endMs: this.log.now(), outcome: "ok", node: row === undefined ? null : this.nodeOf(row.host), timeline: row === undefined ? null : Number.parseInt(row.tl, 16), lsn: null });
    } catch (error: unknown) {
      // A failure before the commit was sent applied nothing; one during it may have.
      const outcome: Outcome = committing ? "unknown" : "fail";
      this.log.add({ writer: this.name, id, startMs, endMs: this.log.now(), outcome, node: null, timeline: null, lsn: null, error: (error instanceof Error ? error.message : String(error)).slice(0, 200) });
      await this.client?.end().catch(() => {});
      this.client = null;
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
    }
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.client?.end().catch(() => {});
    this.client = null;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ host: "127.0.0.1", port: this.port, user: SUPERUSER.username, password: SUPERUSER.password, database: DATABASE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: STATEMENT_TIMEOUT_MS });
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    this.client = client;
    return client;
  }
}

export interface PgbouncerRun {
  readonly transactions: number;
  readonly failed: number;
  readonly longestWaitMs: number;
  readonly medianWaitMs: number;
  readonly errors: readonly string[];
}

/** The pgbouncer clients' transactions that ended in [faultMs, endMs]. */
export function pgbouncerRun(window: readonly WriteRecord[], faultMs: number, endMs: number): PgbouncerRun {
  const names: readonly string[] = PGBOUNCER_WRITERS;
  const records = window.filter((w) => names.includes(w.writer) && w.endMs >= faultMs && w.endMs <= endMs);
  const waits = spread(records.map((w) => w.endMs - w.startMs));
  const failed = records.filter((w) => w.outcome !== "ok");
  const errors = [...new Set(failed.map((w) => w.error ?? "no error text"))].slice(0, 3);
  return { transactions: records.length, failed: failed.length, longestWaitMs: Math.round(waits.max), medianWaitMs: waits.median, errors };
}

interface LogLine {
  readonly time: number;
  readonly msg: string;
  readonly ms?: number;
  readonly pausedMs?: number;
}

/** The agent's JSON log lines from `sinceEpochMs` on. */
function logLines(cluster: ClusterUnderTest, node: string, sinceEpochMs: number): LogLine[] {
  return cluster.pg.agentLog(node).split("\n").flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      const parsed = JSON.parse(line) as Partial<LogLine>;
      return typeof parsed.time === "number" && typeof parsed.msg === "string" && parsed.time >= sinceEpochMs ? [parsed as LogLine] : [];
    } catch {
      return [];
    }
  });
}

/** What the old primary's and the candidate's agents log through a switchover, in order. */
const MILESTONES: readonly { readonly who: "old" | "new" | "any"; readonly pattern: RegExp; readonly label: string; readonly pgbouncer?: true }[] = [
  { who: "old", pattern: /^paused pgbouncer/, label: "PAUSE done", pgbouncer: true },
  { who: "old", pattern: /^stopping PostgreSQL$/, label: "stop begun" },
  { who: "old", pattern: /^stop done$/, label: "stopped" },
  { who: "old", pattern: /^this member no longer holds the lease$/, label: "lease released" },
  { who: "new", pattern: /^this member holds the lease$/, label: "lease taken" },
  { who: "new", pattern: /^promoting PostgreSQL/, label: "promotion decided" },
  { who: "new", pattern: /^promoted to primary$/, label: "promoted" },
  { who: "new", pattern: /^promote done$/, label: "promote done" },
  { who: "any", pattern: /^pgbouncer \S+ points at the primary/, label: "RELOADed for the new primary", pgbouncer: true },
  { who: "any", pattern: /^resumed pgbouncer/, label: "RESUME done", pgbouncer: true },
];

/** When each milestone was logged, ms after the request (the agents' wall clocks, this machine's). */
export function switchoverTimeline(cluster: ClusterUnderTest, faultEpochMs: number, old: string, next: string, withPgbouncer: boolean): string {
  const lines = new Map(cluster.nodes.map((node) => [node, logLines(cluster, node, faultEpochMs)]));
  const parts = MILESTONES.filter((m) => withPgbouncer || m.pgbouncer !== true).flatMap((m) => {
    const nodes = m.who === "old" ? [old] : m.who === "new" ? [next] : cluster.nodes;
    const found = nodes.flatMap((node) => {
      const line = lines.get(node)!.find((l) => m.pattern.test(l.msg));
      return line === undefined ? [] : [{ node, line }];
    }).sort((a, b) => a.line.time - b.line.time)[0];
    if (found === undefined) return [`${m.label} not logged`];
    const extra = found.line.ms !== undefined ? ` (PAUSE took ${found.line.ms} ms)` : found.line.pausedMs !== undefined ? ` (paused ${found.line.pausedMs} ms)` : "";
    return [`${found.node} ${m.label} +${Math.round(found.line.time - faultEpochMs)} ms${extra}`];
  });
  return parts.join(", ");
}
