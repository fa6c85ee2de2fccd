/**
 * Starting, reaching and watching the node processes of the Raft benchmark and the demo.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { freePort, whenReady } from "../../lab/sockets.js";
import { type BenchNodeStatus, decodeResponse, encodeRequest, KIND_STATUS, type NodeSpec } from "./raft_bench_protocol.js";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
export const NODE_ARGS = EXT === ".ts" ? ["--import", "tsx"] : [];

export interface RunningNode {
  readonly spec: NodeSpec;
  process: ChildProcess;
  client: BenchClient | null;
}

export class BenchClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: { ok: boolean; body: Buffer }) => void>();
  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      const response = decodeResponse(data);
      this.waiting.get(response.id)?.(response);
      this.waiting.delete(response.id);
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      for (const resolve of this.waiting.values()) resolve({ ok: false, body: Buffer.from("closed") });
      this.waiting.clear();
    });
  }

  static async connect(port: number): Promise<BenchClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new BenchClient(socket);
  }

  request(kind: number, payload: Uint8Array, timeoutMs: number): Promise<{ ok: boolean; body: Buffer }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ ok: false, body: Buffer.from("timeout") });
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encodeRequest(kind, id, payload));
    });
  }

  async status(): Promise<BenchNodeStatus | null> {
    const r = await this.request(KIND_STATUS, new Uint8Array(0), 1000);
    return r.ok ? (JSON.parse(r.body.toString()) as BenchNodeStatus) : null;
  }

  close(): void {
    this.socket.terminate();
  }
}

export { freePort };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function startNode(spec: NodeSpec): Promise<ChildProcess> {
  // RAFT_BENCH_NODE_ARGS passes extra node options to the node processes (e.g. --cpu-prof).
  const extra = (process.env["RAFT_BENCH_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
  const child = spawn(process.execPath, [...NODE_ARGS, ...extra, join(HERE, `raft_bench_node${EXT}`), JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
  return whenReady(child, `node ${spec.id}`);
}

export async function connect(node: RunningNode): Promise<BenchClient> {
  node.client?.close();
  node.client = await BenchClient.connect(node.spec.clientPort);
  return node.client;
}

export async function findLeader(nodes: readonly RunningNode[], timeoutMs = 15_000): Promise<RunningNode> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(nodes.map((n) => n.client?.status() ?? Promise.resolve(null)));
    const leaders = statuses.filter((s) => s?.role === "leader");
    if (leaders.length === 1 && statuses.every((s) => s !== null && s.leader === leaders[0]!.id && s.applied === leaders[0]!.applied)) {
      return nodes.find((n) => n.spec.id === leaders[0]!.id)!;
    }
    await sleep(50);
  }
  throw new Error("no stable leader");
}

