/**
 * Test support for the CLI: a tiny HTTP peer that answers with canned Patroni-shaped JSON (and
 * records what it was sent), and an in-process runner of `raftgres …` that captures the output.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { PassThrough, Writable } from "node:stream";
import { runCli } from "../../src/api/cli/main.js";
import type { CliIo, QueryPort } from "../../src/api/cli/context.js";

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly authorization: string | undefined;
}

export type Route = (request: Received) => { status: number; body?: unknown; headers?: Record<string, string> };

export class FakeNode {
  readonly received: Received[] = [];
  private constructor(private readonly server: Server, readonly url: string, readonly routes: Map<string, Route>) {}

  static async start(routes: Record<string, Route> = {}): Promise<FakeNode> {
    const table = new Map(Object.entries(routes));
    let node: FakeNode | null = null;
    const server = createServer((req, res) => {
      void readBody(req).then((text) => {
        const received: Received = { method: req.method ?? "GET", path: req.url ?? "/", body: text === "" ? undefined : JSON.parse(text), authorization: req.headers.authorization };
        node!.received.push(received);
        const route = table.get(`${received.method} ${received.path}`);
        const answer = route === undefined ? { status: 404, body: { error: "notFound", message: `no route ${received.method} ${received.path}` } } : route(received);
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    node = new FakeNode(server, `http://127.0.0.1:${address.port}`, table);
    return node;
  }

  on(method: string, path: string, route: Route): void {
    this.routes.set(`${method} ${path}`, route);
  }

  sent(method: string, path: string): Received[] {
    return this.received.filter((r) => r.method === method && r.path === path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Lines typed at the prompts. */
  readonly input?: readonly string[];
  readonly env?: Record<string, string>;
  readonly files?: Record<string, string>;
  /** What the "editor" writes into the file it is given. */
  readonly editorWrites?: string;
  /** Sleep for real (against real agents), instead of returning at once. */
  readonly realSleep?: boolean;
  /** The PostgreSQL client the query command uses (the binary passes src/pg/adhoc_query.ts). */
  readonly query?: QueryPort;
}

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
}

/** Runs `raftgres ...args` in-process. */
export async function cli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = new PassThrough();
  stdin.end(options.input === undefined ? "" : options.input.map((l) => `${l}\n`).join(""));
  const edited = new Map<string, string>();
  const io: CliIo = {
    stdout,
    stderr,
    stdin,
    env: options.env ?? {},
    readFile: (path) => {
      const text = edited.get(path) ?? options.files?.[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    sleep: options.realSleep === true ? (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) : async () => {},
    edit: (_editor, path) => {
      if (options.editorWrites === undefined) return 1;
      edited.set(path, options.editorWrites);
      return 0;
    },
    ...(options.query === undefined ? {} : { query: options.query }),
  };
  const code = await runCli(args, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A three-member cluster as GET /cluster shows it; api_url of every member is `apiUrl`. */
export function clusterBody(apiUrl: string, overrides: { pause?: boolean; tags?: Record<string, unknown> } = {}): unknown {
  return {
    scope: "demo",
    ...(overrides.pause === true ? { pause: true } : {}),
    members: [
      { name: "pg1", role: "leader", state: "running", api_url: apiUrl, host: "10.0.0.1", port: 5432, timeline: 3, tags: { nofailover: false, failover_priority: 1 } },
      { name: "pg2", role: "sync_standby", state: "streaming", api_url: apiUrl, host: "10.0.0.2", port: 5432, timeline: 3, receive_lsn: 50331744, receive_lag: 0, replay_lsn: 50331744, replay_lag: 0, lag: 0, tags: {} },
      { name: "pg3", role: "replica", state: "streaming", api_url: apiUrl, host: "10.0.0.3", port: 5432, timeline: 3, receive_lsn: 50331744, receive_lag: 3 * 1024 * 1024, replay_lsn: 48234592, replay_lag: 5 * 1024 * 1024 + 1, lag: 0, pending_restart: true, tags: { replicatefrom: "pg2", ...overrides.tags } },
    ],
  };
}

export function patroniBody(): unknown {
  return {
    state: "running", role: "primary", server_version: 150004, timeline: 3,
    database_system_identifier: "7421345098239852567",
    patroni: { version: "0.1.0", scope: "demo", name: "pg1" },
    raftgres: { raft: { role: "leader", term: 4, leader: "pg1", commit_index: 120, applied_index: 120, peers: [{ id: "pg2", match_index: 120, last_contact_ms: 12 }, { id: "pg3", match_index: 118, last_contact_ms: 40 }] } },
  };
}

/** A fake node that serves a healthy three-member cluster. */
export async function fakeCluster(overrides: { pause?: boolean } = {}): Promise<FakeNode> {
  const node = await FakeNode.start();
  node.on("GET", "/cluster", () => ({ status: 200, body: clusterBody(node.url, overrides) }));
  node.on("GET", "/patroni", () => ({ status: 200, body: patroniBody() }));
  node.on("GET", "/config", () => ({ status: 200, body: { loop_wait: 10, ttl: 30, postgresql: { parameters: { max_connections: 100 } } } }));
  return node;
}
