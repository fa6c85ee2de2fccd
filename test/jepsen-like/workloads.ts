/**
 * The clients of a run, each recording into the History:
 * - MultiHostWriter: unique increasing ids through a libpq multi-host DSN with
 *   target_session_attrs=read-write (one psql per attempt: what a libpq application sees);
 * - DirectWriter: one per node, straight to that node, so a node that accepts writes when it
 *   should not shows up (dual primary);
 * - DcsWorkload: config compare-and-set (PATCH /config with If-Match) and consistent reads
 *   (GET /config?consistent=true) through the REST API of random nodes, for the linearizability
 *   checker. Every config version carries a unique token, so a version is a register value.
 * Every write returns the node's address, its timeline and the WAL position after it.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import type { Prng } from "../../src/lib/prng.js";
import type { History, Outcome } from "./history.js";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
const ATTEMPT_TIMEOUT_MS = 5000;
const PAUSE_MS = 20;
export const TABLE = "jepsen";

const RETURNING = "RETURNING host(inet_server_addr()) AS host, inet_server_port() AS port, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl, (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS lsn";

export const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (id bigint PRIMARY KEY, writer text NOT NULL, at timestamptz NOT NULL DEFAULT now())`;

/** Which node answered: by its address and port. */
export type NodeOf = (host: string, port: number) => string | null;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  readonly node: string | null;
  readonly timeline: number | null;
  readonly lsn: string | null;
}

function parseAnswer(host: string, port: number, tl: string, lsn: string, nodeOf: NodeOf): Answer {
  return { node: nodeOf(host, port), timeline: Number.parseInt(tl, 16), lsn };
}

abstract class Loop {
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

export class MultiHostWriter extends Loop {
  private nextId: number;

  constructor(private readonly history: History, private readonly dsn: string, private readonly nodeOf: NodeOf, firstId: number) {
    super();
    this.nextId = firstId;
  }

  protected async step(): Promise<void> {
    const id = this.nextId++;
    const startMs = this.history.now();
    const { outcome, out, error } = await psql(this.dsn, `INSERT INTO ${TABLE} (id, writer) VALUES (${id}, 'dsn') ${RETURNING}`);
    const endMs = this.history.now();
    let answer: Answer = { node: null, timeline: null, lsn: null };
    if (outcome === "ok") {
      const [host, port, tl, lsn] = out.trim().split("|");
      answer = parseAnswer(host ?? "", Number(port), tl ?? "0", lsn ?? "0", this.nodeOf);
    }
    this.history.add({ type: "write", writer: "dsn", id, startMs, endMs, outcome, ...answer, ...(error === undefined ? {} : { error }) });
    await sleep(PAUSE_MS);
  }
}

function psql(dsn: string, sql: string): Promise<{ outcome: Outcome; out: string; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(PSQL, [dsn, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PGCONNECT_TIMEOUT: "1" } });
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
      if (code === 0) return resolve({ outcome: "ok", out });
      // A connection that failed or a server that refused the write did not apply it; a timeout
      // or a connection lost during the statement may have.
      const unknown = timedOut || /terminat|server closed the connection|connection to server .* lost|could not receive data/i.test(err);
      resolve({ outcome: unknown ? "unknown" : "fail", out, error: (timedOut ? "timeout" : err.trim().split("\n")[0] ?? "").slice(0, 200) });
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ outcome: "fail", out, error: String(error) });
    });
  });
}

export class DirectWriter extends Loop {
  private client: pg.Client | null = null;
  private nextId: number;

  constructor(private readonly history: History, private readonly node: string, private readonly target: { host: string; port: number; user: string; password: string }, private readonly nodeOf: NodeOf, firstId: number) {
    super();
    this.nextId = firstId;
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
        await sleep(250);
        return;
      }
    }
    const id = this.nextId++;
    const startMs = this.history.now();
    try {
      const result = await this.client.query<{ host: string; port: number; tl: string; lsn: string }>(`INSERT INTO ${TABLE} (id, writer) VALUES ($1, $2) ${RETURNING}`, [id, this.node]);
      const row = result.rows[0]!;
      this.history.add({ type: "write", writer: this.node, id, startMs, endMs: this.history.now(), outcome: "ok", ...parseAnswer(row.host, Number(row.port), row.tl, row.lsn, this.nodeOf) });
      await sleep(PAUSE_MS);
    } catch (error) {
      const message = String((error as Error).message ?? error);
      // A replica refuses at once (read-only): definitely not applied. Anything else may have been.
      const outcome: Outcome = /read-only|cannot execute INSERT|recovery is in progress/i.test(message) ? "fail" : "unknown";
      this.history.add({ type: "write", writer: this.node, id, startMs, endMs: this.history.now(), outcome, node: null, timeline: null, lsn: null, error: message.slice(0, 200) });
      await this.client.end().catch(() => {});
      this.client = null;
      await sleep(outcome === "fail" ? 500 : 100);
    }
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}

/** The config token: `jepsen_token` in the dynamic config. */
export const TOKEN_KEY = "jepsen_token";

export class DcsWorkload extends Loop {
  private clientId: number;
  private counter = 0;

  constructor(private readonly history: History, private readonly apis: ReadonlyMap<string, string>, private readonly prng: Prng, firstClientId: number, private readonly stride: number) {
    super();
    this.clientId = firstClientId;
  }

  protected async step(): Promise<void> {
    const nodes = [...this.apis.keys()];
    const node = nodes[this.prng.int(0, nodes.length)]!;
    const base = this.apis.get(node)!;
    const startMs = this.history.now();
    const read = await this.read(base);
    if (read === null) {
      this.history.add({ type: "dcs", client: this.clientId, op: "read", startMs, endMs: Infinity, node, expected: null, value: null, ok: null });
      this.clientId += this.stride;
      await sleep(200);
      return;
    }
    this.history.add({ type: "dcs", client: this.clientId, op: "read", startMs, endMs: this.history.now(), node, expected: read.token, value: null, ok: true });
    if (this.prng.chance(0.5)) {
      await sleep(100);
      return;
    }
    const value = `c${this.clientId}-${this.counter++}`;
    const casStart = this.history.now();
    const outcome = await this.cas(base, read.version, value);
    const endMs = outcome === null ? Infinity : this.history.now();
    this.history.add({ type: "dcs", client: this.clientId, op: "cas", startMs: casStart, endMs, node, expected: read.token, value, ok: outcome });
    if (outcome === null) this.clientId += this.stride;
    await sleep(100);
  }

  private async read(base: string): Promise<{ version: string; token: string | null } | null> {
    try {
      const response = await fetch(`${base}/config?consistent=true`, { signal: AbortSignal.timeout(3000) });
      if (response.status !== 200) return null;
      const body = (await response.json()) as Record<string, unknown>;
      const token = body[TOKEN_KEY];
      return { version: (response.headers.get("etag") ?? "").replace(/"/g, ""), token: typeof token === "string" ? token : null };
    } catch {
      return null;
    }
  }

  /** true: applied; false: refused (another change came first); null: unknown. */
  private async cas(base: string, version: string, value: string): Promise<boolean | null> {
    try {
      const response = await fetch(`${base}/config`, { method: "PATCH", headers: { "content-type": "application/json", "if-match": `"${version}"` }, body: JSON.stringify({ [TOKEN_KEY]: value }), signal: AbortSignal.timeout(3000) });
      if (response.status === 200) return true;
      if (response.status === 409 || response.status === 412) return false;
      return null;
    } catch {
      return null;
    }
  }
}
