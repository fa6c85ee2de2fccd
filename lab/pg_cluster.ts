/**
 * A local raftgres cluster for acceptance tests, benchmarks and the demo: N agent processes on
 * 127.0.0.1, each with its own Raft port, HTTP port, PostgreSQL port and directories under one
 * temporary root. Everything it starts is tracked and removed by `destroy()`: agent processes by
 * PID, PostgreSQL process groups by the PID in postmaster.pid, the directories.
 */
import { type ChildProcess, spawn, type SpawnOptions, spawnSync } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg, { type Client, type QueryResultRow } from "pg";
import { AGENT_NODE_FLAGS } from "../src/agent/heap.js";
import { agentBundle } from "./agent_bundle.js";
import { freePort } from "./sockets.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Under tsx (tests) the agent runs from source; from dist (benchmarks, demo) it runs compiled. */
const FROM_SOURCE = import.meta.url.endsWith(".ts");
/** lab/ sits beside src/, in the checkout and in dist/ alike. */
const MAIN = join(HERE, "..", "src", "agent", FROM_SOURCE ? "main.ts" : "main.js");
/** The agent's V8 flags (src/agent/heap.ts), as its binary's shebang passes them. */
const NODE_ARGS = FROM_SOURCE ? [...AGENT_NODE_FLAGS, "--import", "tsx"] : [...AGENT_NODE_FLAGS];

export const SUPERUSER = { username: "postgres", password: "raftgres-test-su" };
export const REPLICATION = { username: "replicator", password: "raftgres-test-repl" };
const SECRET = "raftgres-test-secret";

export interface NodeSpec {
  readonly name: string;
  readonly raftPort: number;
  readonly apiPort: number;
  readonly pgPort: number;
  readonly dir: string;
}

export interface NodeStatus {
  readonly name: string;
  readonly role: "primary" | "replica" | null;
  readonly state: string;
  readonly timeline: number | null;
  readonly holdsLease: boolean;
  readonly busy: string | null;
  readonly reason: string | null;
  readonly raft: { readonly role: string; readonly term: number; readonly leader: string | null };
}

/** The parts of GET /patroni the harness reads (Patroni's fields and raftgres's extras). */
interface PatroniStatus {
  readonly state?: string;
  readonly role?: string;
  readonly timeline?: number;
  readonly patroni?: { readonly name?: string };
  readonly raftgres?: {
    readonly lease?: { readonly generation: number } | null;
    readonly busy?: string | null;
    readonly reason?: string | null;
    readonly raft?: { readonly role?: string; readonly term?: number; readonly leader?: string | null };
  };
}

export interface ClusterOptions {
  readonly names?: readonly string[];
  /** Extra YAML appended to every node's file (e.g. a bootstrap.dcs section). */
  readonly extraYaml?: string;
  /**
   * node.yml's postgresql.pg_hba (default: the lab's clients, below); an empty list leaves the
   * key out, so that the cluster's postgresql.pg_hba is in force (it does not win over node.yml's).
   */
  readonly pgHba?: readonly string[];
  /** Nodes configured to join the running group (raft.join) instead of founding it; not started by startAll. */
  readonly joining?: readonly string[];
  /** Where agent logs go: "inherit" to see them, "ignore", or a file per node (default). */
  readonly logs?: "inherit" | "files";
  /** Where the nodes run (default: every node on 127.0.0.1, started as a plain child process). */
  readonly placement?: Placement;
  /**
   * The agent's program, e.g. the packaged bundle. Default: under tsx (tests) the bundle of the
   * source tree (lab/agent_bundle.ts; RAFTGRES_AGENTS_FROM_SOURCE=1: src/agent/main.ts through
   * tsx); from dist (benchmarks, demo), dist's src/agent/main.js.
   */
  readonly agentMain?: string;
}

/**
 * Where each node runs and how it is reached: the fault-injection harness puts every node in its
 * own network namespace, with delay proxies in front of the ports its peers use.
 */
export interface Placement {
  /** The address the node's services listen on, reachable from this process. */
  host(name: string): string;
  /** The host:port peers use for a node's Raft or PostgreSQL port (default: host and the port itself). */
  advertise?(name: string, service: "raft" | "pg", port: number): string;
  /** Starts a process on the node (default: a child process of this one). */
  spawn?(name: string, command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
  /** Extra environment of the node's agent. */
  env?(name: string): Record<string, string>;
}

export class PgCluster {
  readonly nodes = new Map<string, NodeSpec>();
  private readonly agents = new Map<string, ChildProcess>();
  private destroyed = false;

  private constructor(readonly root: string, private readonly options: ClusterOptions) {}

  static async create(given: ClusterOptions = {}): Promise<PgCluster> {
    // Tests start their agents from the bundle of the source tree as it is (lab/agent_bundle.ts):
    // a third of tsx's CPU per start. RAFTGRES_AGENTS_FROM_SOURCE=1 runs them through tsx.
    const bundled = given.agentMain === undefined && FROM_SOURCE && process.env["RAFTGRES_AGENTS_FROM_SOURCE"] !== "1";
    const options: ClusterOptions = bundled ? { ...given, agentMain: await agentBundle() } : given;
    const root = mkdtempSync(join(tmpdir(), "raftgres-cluster-"));
    // PostgreSQL runs as the postgres user: it must traverse the root to reach its data directory.
    chmodSync(root, 0o711);
    const cluster = new PgCluster(root, options);
    // If the test process dies without its teardown (a bail-out, an uncaught error), take the
    // agents and PostgreSQL down with it; the directories are then left for inspection.
    process.once("exit", () => cluster.killAllNow());
    for (const name of options.names ?? ["pg1", "pg2", "pg3"]) {
      const dir = join(root, name);
      mkdirSync(dir, { mode: 0o711 });
      cluster.nodes.set(name, { name, raftPort: await freePort(), apiPort: await freePort(), pgPort: await freePort(), dir });
    }
    for (const spec of cluster.nodes.values()) writeFileSync(cluster.configPath(spec.name), cluster.yaml(spec));
    return cluster;
  }

  /** The address of the node's services. */
  host(name: string): string {
    return this.options.placement?.host(name) ?? "127.0.0.1";
  }

  /** The REST API of the node. */
  apiUrl(name: string): string {
    return `http://${this.host(name)}:${this.spec(name).apiPort}`;
  }

  /** A request to the node's REST API; the body as text and parsed as JSON (or {text} when it is not). */
  async api(name: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
    const response = await fetch(`${this.apiUrl(name)}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    try {
      return { status: response.status, text, json: JSON.parse(text) as Record<string, unknown> };
    } catch {
      return { status: response.status, text, json: { text } };
    }
  }

  private advertised(name: string, service: "raft" | "pg", port: number): string {
    return this.options.placement?.advertise?.(name, service, port) ?? `${this.host(name)}:${port}`;
  }

  configPath(name: string): string {
    return join(this.spec(name).dir, "node.yml");
  }

  spec(name: string): NodeSpec {
    const spec = this.nodes.get(name);
    if (spec === undefined) throw new Error(`no node ${name}`);
    return spec;
  }

  private joining(name: string): boolean {
    return this.options.joining?.includes(name) ?? false;
  }

  private yaml(spec: NodeSpec): string {
    const founders = [...this.nodes.values()].filter((n) => !this.joining(n.name));
    const list = founders.map((n) => `    ${n.name}: "${this.advertised(n.name, "raft", n.raftPort)}"`).join("\n");
    const members = `  ${this.joining(spec.name) ? "join" : "members"}:\n${list}`;
    return `scope: test
name: ${spec.name}
restapi:
  listen: ${this.host(spec.name)}:${spec.apiPort}
raft:
  listen: ${this.host(spec.name)}:${spec.raftPort}
  data_dir: ${join(spec.dir, "raft")}
  cluster_id: test-cluster
  secret: ${SECRET}
${members}
postgresql:
  listen: ${this.host(spec.name)}:${spec.pgPort}
  connect_address: ${this.advertised(spec.name, "pg", spec.pgPort)}
  data_dir: ${join(spec.dir, "pgdata")}
  authentication:
    superuser: { username: ${SUPERUSER.username}, password: ${SUPERUSER.password} }
    replication: { username: ${REPLICATION.username}, password: ${REPLICATION.password} }
${this.pgHbaYaml()}
  parameters:
    shared_buffers: 16MB
    max_connections: 30
    fsync: "on"
${this.options.extraYaml ?? ""}`;
  }

  private pgHbaYaml(): string {
    // The lab's clients: any role from this host and from the test network (raftgres itself adds
    // only its superuser and replication role from the members' addresses).
    const lines = this.options.pgHba ?? ["host all all 127.0.0.1/32 scram-sha-256", "host all all 10.200.0.0/16 scram-sha-256", `host replication ${REPLICATION.username} 10.200.0.0/16 scram-sha-256`];
    return lines.length === 0 ? "" : `  pg_hba:\n${lines.map((line) => `    - ${line}`).join("\n")}`;
  }

  /** Starts the agent of `name` (again, after a kill); `extraArgs` follow `agent -c node.yml` (e.g. --rejoin). */
  start(name: string, extraArgs: readonly string[] = []): ChildProcess {
    const spec = this.spec(name);
    const logPath = join(spec.dir, "agent.log");
    const out = this.options.logs === "inherit" ? "inherit" : "pipe";
    const main = this.options.agentMain;
    const args = main === undefined ? [...NODE_ARGS, MAIN, "agent", "-c", this.configPath(name), ...extraArgs] : [...AGENT_NODE_FLAGS, main, "agent", "-c", this.configPath(name), ...extraArgs];
    const options: SpawnOptions = { stdio: ["ignore", out, out], env: { ...process.env, ...this.options.placement?.env?.(name) } };
    const placed = this.options.placement?.spawn;
    const child = placed === undefined ? spawn(process.execPath, args, options) : placed(name, process.execPath, args, options);
    if (out === "pipe") {
      // One open file: output arriving after destroy() removed the directory is still harmless.
      const log = createWriteStream(logPath, { flags: "a" });
      log.on("error", () => {});
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      child.once("exit", () => setTimeout(() => log.end(), 100));
    }
    this.agents.set(name, child);
    return child;
  }

  /** Runs the `raftgres` CLI (the binary the agents run) with `args`, bounded in time. */
  cli(args: readonly string[], timeoutMs = 60_000): { code: number | null; stdout: string; stderr: string } {
    const main = this.options.agentMain;
    const command = main === undefined ? [...NODE_ARGS, MAIN, ...args] : [main, ...args];
    const run = spawnSync(process.execPath, command, { encoding: "utf8", timeout: timeoutMs });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  /** Starts every node but those that join later (ClusterOptions.joining). */
  startAll(): void {
    for (const name of this.nodes.keys()) if (!this.joining(name)) this.start(name);
  }

  agentPid(name: string): number | null {
    const child = this.agents.get(name);
    return child?.pid !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : null;
  }

  /** The PID of the node's postmaster (from postmaster.pid), if one is alive. */
  postmasterPid(name: string): number | null {
    const file = join(this.spec(name).dir, "pgdata", "postmaster.pid");
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return isAlive(pid) ? pid : null;
  }

  signalAgent(name: string, signal: NodeJS.Signals): void {
    const pid = this.agentPid(name);
    if (pid === null) throw new Error(`the agent of ${name} is not running`);
    process.kill(pid, signal);
  }

  /** Waits for the agent process to exit (after a signal). */
  async agentExited(name: string, timeoutMs = 30_000): Promise<void> {
    const child = this.agents.get(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent of ${name} did not exit within ${timeoutMs} ms`)), timeoutMs);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The member's GET /patroni, reduced to what tests look at. */
  async status(name: string): Promise<NodeStatus | null> {
    try {
      const response = await fetch(`http://${this.host(name)}:${this.spec(name).apiPort}/patroni`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as PatroniStatus;
      const extras = body.raftgres;
      const role = body.role === "primary" || body.role === "replica" ? body.role : null;
      return {
        name: body.patroni?.name ?? name,
        role,
        state: body.state ?? "unknown",
        timeline: body.timeline ?? null,
        holdsLease: extras?.lease !== null && extras?.lease !== undefined,
        busy: extras?.busy ?? null,
        reason: extras?.reason ?? null,
        raft: { role: extras?.raft?.role ?? "unknown", term: extras?.raft?.term ?? 0, leader: extras?.raft?.leader ?? null },
      };
    } catch {
      return null;
    }
  }

  async statuses(): Promise<Map<string, NodeStatus | null>> {
    const out = new Map<string, NodeStatus | null>();
    await Promise.all([...this.nodes.keys()].map(async (name) => out.set(name, await this.status(name))));
    return out;
  }

  /** The member answering 200 on GET /primary, if exactly one does. */
  async primary(): Promise<string | null> {
    const answers = await Promise.all([...this.nodes.keys()].map(async (name) => {
      try {
        const response = await fetch(`http://${this.host(name)}:${this.spec(name).apiPort}/primary`, { signal: AbortSignal.timeout(1000) });
        return response.status === 200 ? name : null;
      } catch {
        return null;
      }
    }));
    const primaries = answers.filter((a): a is string => a !== null);
    return primaries.length === 1 ? primaries[0]! : null;
  }

  /** Waits until one member is primary and every other one streams from it; returns the primary. */
  async waitHealthy(timeoutMs = 60_000): Promise<string> {
    return waitFor("one primary and streaming replicas", timeoutMs, async () => {
      const primary = await this.primary();
      if (primary === null) return undefined;
      for (const name of this.nodes.keys()) {
        if (name === primary || !this.agents.has(name)) continue;
        const s = await this.status(name);
        if (s?.role !== "replica" || s.busy !== null) return undefined;
        const receiver = await this.query<{ status: string }>(name, "SELECT status FROM pg_stat_wal_receiver").catch(() => []);
        if (receiver[0]?.status !== "streaming") return undefined;
      }
      return primary;
    }, 250);
  }

  /** A libpq multi-host connection string over every node (target_session_attrs as given). */
  dsn(target: "read-write" | "any" = "read-write"): string {
    const hosts = [...this.nodes.values()].map((n) => `${this.host(n.name)}:${n.pgPort}`).join(",");
    return `postgresql://${SUPERUSER.username}:${SUPERUSER.password}@${hosts}/postgres?target_session_attrs=${target}&connect_timeout=2`;
  }

  /** A client of one node's PostgreSQL. */
  async connect(name: string, timeoutMs = 2000): Promise<Client> {
    const client = new pg.Client({ host: this.host(name), port: this.spec(name).pgPort, user: SUPERUSER.username, password: SUPERUSER.password, database: "postgres", connectionTimeoutMillis: timeoutMs });
    client.on("error", () => {});
    await client.connect();
    return client;
  }

  async query<T extends QueryResultRow = Record<string, unknown>>(name: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = await this.connect(name);
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  agentLog(name: string): string {
    const file = join(this.spec(name).dir, "agent.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  /** Synchronously SIGKILLs every agent and PostgreSQL process group (for process exit). */
  killAllNow(): void {
    if (this.destroyed) return;
    const pids = [...this.agents.values()].map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
    for (const pid of pids) this.kill(pid);
    for (const name of this.nodes.keys()) {
      const pid = this.postmasterPid(name);
      if (pid !== null) this.kill(-pid);
    }
  }

  private kill(pid: number): void {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }

  /** Kills every agent and PostgreSQL process group it started, and removes the directories. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const [name, child] of this.agents) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await this.agentExited(name, 5000).catch(() => {});
    }
    // The watchdogs of killed agents kill armed PostgreSQL groups themselves; the others remain.
    for (const name of this.nodes.keys()) {
      const pid = this.postmasterPid(name);
      if (pid === null) continue;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Gone.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (process.env["RAFTGRES_TEST_KEEP"] === "1") process.stderr.write(`kept ${this.root} (RAFTGRES_TEST_KEEP=1)\n`);
    else rmSync(this.root, { recursive: true, force: true });
  }
}

/** A process that exists and is not a zombie (a killed child its frozen parent did not reap). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? "" : ` (last error: ${String(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
