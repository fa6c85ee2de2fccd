/**
 * The writers of the fault-injection harness and the failover benchmark, each recording into a
 * WriteSink (one monotonic clock per run):
 * - PsqlWriter: one `psql` process per attempt (connect, insert, disconnect), either through the
 *   libpq multi-host DSN with target_session_attrs=read-write or through HAProxy's write port —
 *   what an application that reconnects after an error experiences during a failover;
 * - DirectWriter: one per node, a connection straight to that node (reconnected after an error),
 *   so a node that acknowledges writes when it should not shows up (dual primary).
 * Every acknowledged write records the node that committed it (its address), the timeline and
 * pg_current_wal_flush_lsn() asked right after the acknowledgement: at or past its commit record.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { RunClock } from "./history.js";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
/** Pause between two attempts of one writer. */
const ATTEMPT_PAUSE_MS = 20;
/** One attempt (connect over every host + insert) may take at most this long. */
const ATTEMPT_TIMEOUT_MS = 5000;
/** How long a direct writer waits before reconnecting to a node that refused or failed. */
const RECONNECT_PAUSE_MS = 100;
export const TABLE = "writes";
export const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (id bigint PRIMARY KEY, writer text NOT NULL, at timestamptz NOT NULL DEFAULT now())`;
const RETURNING = "RETURNING host(inet_server_addr()) AS host, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl";
/**
 * Asked after the commit was acknowledged, in its own statement (RETURNING runs before the commit
 * record is written): the local flush position then is at or past the commit record's end.
 */
const FLUSH_LSN = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::text AS lsn";

/** ok: acknowledged; fail: definitely not applied; unknown: may or may not have been applied. */
export type Outcome = "ok" | "fail" | "unknown";

export interface WriteRecord {
  /** "dsn", "haproxy", or the node written to directly. */
  readonly writer: string;
  readonly id: number;
  /** Milliseconds on the log's clock: when the attempt started and when its answer came. */
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: Outcome;
  /** The node that acknowledged it, its timeline and its WAL flush position right after (ok only; lsn null if that query failed). */
  readonly node: string | null;
  readonly timeline: number | null;
  readonly lsn: bigint | null;
  readonly error?: string;
}

/** Which node has this address (the clients see the nodes' own addresses, HAProxy's too). */
export type NodeOf = (host: string) => string | null;

/** Where writers record: a clock and a list (the benchmark's WriteLog, the harness's History). */
export interface WriteSink {
  now(): number;
  add(write: WriteRecord): void;
}

export class WriteLog extends RunClock implements WriteSink {
  readonly writes: WriteRecord[] = [];

  add(write: WriteRecord): void {
    this.writes.push(write);
  }

  /**
   * The first write of `writer` started at or after `sinceMs` and acknowledged by a node that
   * `accept` takes, waiting up to `timeoutMs`; null if none came.
   */
  async firstAck(writer: string, sinceMs: number, accept: (node: string) => boolean, timeoutMs: number): Promise<WriteRecord | null> {
    const deadline = performance.now() + timeoutMs;
    let from = 0;
    for (;;) {
      for (; from < this.writes.length; from++) {
        const w = this.writes[from]!;
        if (w.writer === writer && w.outcome === "ok" && w.startMs >= sinceMs && w.node !== null && accept(w.node)) return w;
      }
      if (performance.now() > deadline) return null;
      await sleep(10);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  readonly node: string | null;
  readonly timeline: number | null;
  readonly lsn: bigint | null;
}

function answer(host: string, tl: string, lsn: string | undefined, nodeOf: NodeOf): Answer {
  return { node: nodeOf(host), timeline: Number.parseInt(tl, 16), lsn: lsn === undefined || !/^\d+$/.test(lsn) ? null : BigInt(lsn) };
}

/** A client that repeats one step until stopped. */
export abstract class Loop {
  private running = false;
  private done: Promise<void> = Promise.resolve();

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) await this.step();
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  protected abstract step(): Promise<void>;
}

abstract class WriterLoop extends Loop {
  protected nextId: number;

  constructor(protected readonly log: WriteSink, readonly name: string, firstId: number) {
    super();
    this.nextId = firstId;
  }
}

/** psql processes alive now, so that an exit hook can kill them. */
export const livePsql = new Set<ChildProcess>();

export class PsqlWriter extends WriterLoop {
  constructor(log: WriteSink, name: string, private readonly dsn: string, private readonly nodeOf: NodeOf, firstId: number) {
    super(log, name, firstId);
  }

  protected async step(): Promise<void> {
    const id = this.nextId++;
    const startMs = this.log.now();
    const run = await psql(this.dsn, [`INSERT INTO ${TABLE} (id, writer) VALUES (${id}, '${this.name}') ${RETURNING}`, FLUSH_LSN]);
    const endMs = this.log.now();
    // The INSERT's row printed means it was acknowledged, even if the second statement failed.
    const [row, lsn] = run.out.trim().split("\n");
    const [host, tl] = (row ?? "").split("|");
    const acknowledged = host !== undefined && tl !== undefined && /^[0-9A-F]{8}$/.test(tl);
    const outcome: Outcome = acknowledged ? "ok" : run.outcome === "ok" ? "unknown" : run.outcome;
    const result: Answer = acknowledged ? answer(host, tl, lsn, this.nodeOf) : { node: null, timeline: null, lsn: null };
    this.log.add({ writer: this.name, id, startMs, endMs, outcome, ...result, ...(run.error === undefined || acknowledged ? {} : { error: run.error }) });
    await sleep(ATTEMPT_PAUSE_MS);
  }
}

/** Each statement its own -c: its own transaction, the second one sent after the first committed. */
function psql(dsn: string, statements: readonly string[]): Promise<{ outcome: Outcome; out: string; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(PSQL, [dsn, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", ...statements.flatMap((sql) => ["-c", sql])], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PGCONNECT_TIMEOUT: "1" } });
    livePsql.add(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, ATTEMPT_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      livePsql.delete(child);
      if (code === 0) return resolve({ outcome: "ok", out });
      // A connection that failed or a server that refused the write did not apply it; a timeout
      // or a connection lost during the statement may have.
      const unknown = timedOut || /terminat|server closed the connection|connection to server .* lost|could not receive data/i.test(err);
      resolve({ outcome: unknown ? "unknown" : "fail", out, error: (timedOut ? "timeout" : err.trim().split("\n")[0] ?? "").slice(0, 200) });
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      livePsql.delete(child);
      resolve({ outcome: "fail", out, error: String(error) });
    });
  });
}

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export class DirectWriter extends WriterLoop {
  private client: pg.Client | null = null;

  constructor(log: WriteSink, node: string, private readonly target: Target, private readonly nodeOf: NodeOf, firstId: number) {
    super(log, node, firstId);
  }

  protected async step(): Promise<void> {
    if (this.client === null) {
      const client = new pg.Client({ ...this.target, database: "postgres", connectionTimeoutMillis: 1000, query_timeout: ATTEMPT_TIMEOUT_MS });
      client.on("error", () => {});
      try {
        await client.connect();
        this.client = client;
      } catch {
        await client.end().catch(() => {});
        await sleep(RECONNECT_PAUSE_MS);
        return;
      }
    }
    const id = this.nextId++;
    const startMs = this.log.now();
    try {
      const result = await this.client.query<{ host: string; tl: string }>(`INSERT INTO ${TABLE} (id, writer) VALUES ($1, $2) ${RETURNING}`, [id, this.name]);
      const endMs = this.log.now();
      const row = result.rows[0]!;
      const flushed = await this.client.query<{ lsn: string }>(FLUSH_LSN).then((r) => r.rows[0]?.lsn, () => undefined);
      this.log.add({ writer: this.name, id, startMs, endMs, outcome: "ok", ...answer(row.host, row.tl, flushed, this.nodeOf) });
      await sleep(ATTEMPT_PAUSE_MS);
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      // A replica refuses at once (read-only): definitely not applied. Anything else may have been.
      const outcome: Outcome = /read-only|cannot execute INSERT|recovery is in progress/i.test(message) ? "fail" : "unknown";
      this.log.add({ writer: this.name, id, startMs, endMs: this.log.now(), outcome, node: null, timeline: null, lsn: null, error: message.slice(0, 200) });
      // A replica's refusal leaves the session usable, and a session opened during recovery may
      // write once the node is promoted: no reconnect, so a promotion shows within a pause.
      if (outcome === "fail") return sleep(ATTEMPT_PAUSE_MS);
      await this.client.end().catch(() => {});
      this.client = null;
      await sleep(RECONNECT_PAUSE_MS);
    }
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}
