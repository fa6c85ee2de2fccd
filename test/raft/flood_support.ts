/**
 * The flood of transport_flood.test.ts: Raft nodes in processes of their own (flood_node.ts),
 * driven over IPC, and attackers that connect, misbehave and reconnect, recording how the node
 * ended each of their connections.
 */
import { type ChildProcess, fork } from "node:child_process";
import { AGENT_NODE_FLAGS } from "../../src/agent/heap.js";
import { join } from "node:path";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";
import type { FloodNodeOptions, FloodNodeStatus } from "./flood_node.js";
import { clientFrame, OPCODE, RawPeer, upgradeRequest } from "./raw_websocket.js";

const ROOT = join(import.meta.dirname, "../..");
const FLOOD_NODE = join(import.meta.dirname, "flood_node.ts");
export const MB = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export class NodeProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  private constructor(
    readonly options: FloodNodeOptions,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (reply: { id?: number }) => {
      if (reply.id !== undefined) this.waiting.get(reply.id)?.(reply);
    });
  }

  static start(options: FloodNodeOptions): Promise<NodeProcess> {
    const child = fork(FLOOD_NODE, [JSON.stringify(options)], { cwd: ROOT, execArgv: [...AGENT_NODE_FLAGS, "--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new Promise((resolve, reject) => {
      child.once("message", (message: { op: string; message?: string }) => {
        if (message.op === "ready") resolve(new NodeProcess(options, child));
        else reject(new Error(`node ${options.id} did not start: ${message.message ?? message.op}`));
      });
      child.once("exit", (code) => reject(new Error(`node ${options.id} exited with ${code}`)));
    });
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${this.id}: no answer to ${String(message["op"])}`)), REQUEST_TIMEOUT_MS);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(reply);
      });
      this.child.send({ ...message, id });
    });
  }

  async status(): Promise<FloodNodeStatus> {
    return (await this.request({ op: "status" }))["status"] as FloodNodeStatus;
  }

  async propose(text: string): Promise<string | null> {
    const reply = await this.request({ op: "propose", text });
    return reply["ok"] === true ? null : String(reply["error"]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    await this.request({ op: "stop" }).catch(() => this.child.kill("SIGKILL"));
    await exited;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/**
 * The attackers of one kind: `count` loops that each connect, attack, and reconnect when
 * dropped. Each connection's end is recorded: how the node ended it and how long it lived.
 */
export class Attack {
  connections = 0;
  upgraded = 0;
  /** How connections ended: "dropped before any answer", "upgraded, close 4001" … */
  readonly endings = new Map<string, number>();
  readonly closeCodes = new Map<number, number>();
  longestLifeMs = 0;
  private readonly live = new Set<RawPeer>();
  private readonly loops: Promise<void>[] = [];
  private running = true;

  constructor(
    readonly name: string,
    private readonly port: number,
    count: number,
    private readonly pauseMs: number,
    private readonly attack: (peer: RawPeer, attack: Attack) => Promise<void>,
  ) {
    for (let i = 0; i < count; i++) this.loops.push(this.loop());
  }

  isRunning(): boolean {
    return this.running;
  }

  /**
   * Stops reconnecting and waits until the node has ended every open connection; returns how
   * many were still open after `graceMs` (destroyed then: the node failed to end them).
   */
  async stop(graceMs: number): Promise<number> {
    this.running = false;
    const deadline = Date.now() + graceMs;
    while (this.live.size > 0 && Date.now() < deadline) await sleep(50);
    const outlived = this.live.size;
    for (const peer of this.live) peer.destroy();
    await Promise.all(this.loops);
    return outlived;
  }

  summary(): string {
    const endings = [...this.endings].map(([how, n]) => `${how} ×${n}`).join(", ");
    return `${this.name}: ${this.connections} connections (${endings}); the longest lived ${this.longestLifeMs} ms`;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const peer = await RawPeer.connect(this.port).catch(() => null);
      if (peer !== null) {
        const connectedAt = Date.now();
        this.connections++;
        this.live.add(peer);
        await this.attack(peer, this).catch(() => {});
        await peer.closed;
        this.live.delete(peer);
        this.longestLifeMs = Math.max(this.longestLifeMs, Date.now() - connectedAt);
        this.record(peer);
      }
      await sleep(this.pauseMs);
    }
  }

  private record(peer: RawPeer): void {
    const upgraded = peer.statusLine?.startsWith("HTTP/1.1 101") === true;
    if (upgraded) this.upgraded++;
    const code = peer.closeCode;
    if (code !== null) this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
    const how = peer.statusLine === null
      ? "dropped before any answer"
      : !upgraded
      ? peer.statusLine.replace(/^HTTP\/1\.1 /, "HTTP ")
      : code === null
      ? "upgraded, dropped without a close frame"
      : `upgraded, close ${code}`;
    this.endings.set(how, (this.endings.get(how) ?? 0) + 1);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function memory(status: FloodNodeStatus): string {
  const mb = (bytes: number): string => (bytes / MB).toFixed(1);
  const spaces = Object.entries(status.heapSpaces).filter(([, bytes]) => bytes >= MB).map(([name, bytes]) => `${name} ${mb(bytes)}`);
  return `${mb(status.heapUsedBytes)}/${mb(status.heapTotalBytes)} (${spaces.join(", ")}), ${mb(status.externalBytes)} MB`;
}

export async function startGroup(root: string, ids: readonly string[] = ["a", "b", "c"]): Promise<NodeProcess[]> {
  const ports = await Promise.all(ids.map(() => freePort()));
  const members: ConfMember[] = ids.map((id, i) => ({ id: nodeId(id), role: "voter", address: `127.0.0.1:${ports[i]!}` }));
  // Per-address limits equal to the total ones: the flood, all from 127.0.0.1, then stands for
  // an attacker with many addresses, who can hold every unauthenticated slot and use the whole
  // admission rate (the worst case for memory).
  const transportLimits = { unauthenticatedConnectionsPerAddressMax: 64, unauthenticatedConnectionsPerAddressPerSecondMax: 32 };
  return Promise.all(ids.map((id, i) => NodeProcess.start({
    id,
    port: ports[i]!,
    dataDir: join(root, id),
    members,
    heartbeatMs: 100,
    electionTimeoutMs: 1000,
    transportLimits,
  })));
}

export async function stableLeader(nodes: readonly NodeProcess[], timeoutMs = 15_000): Promise<{ leader: NodeProcess; term: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(nodes.map((n) => n.status()));
    const leaders = statuses.filter((s) => s.role === "leader");
    const leader = nodes.find((_, i) => statuses[i]!.role === "leader");
    if (leaders.length === 1 && leader !== undefined && statuses.every((s) => s.leader === leader.id && s.term === leaders[0]!.term)) {
      return { leader, term: leaders[0]!.term };
    }
    if (Date.now() > deadline) throw new Error("no stable leader");
    await sleep(100);
  }
}

export function startFlood(port: number): Attack[] {
  const sixtyMegabytes = Buffer.alloc(60_000_000);
  const header = clientFrame(OPCODE.binary, new Uint8Array(0), { declaredLength: sixtyMegabytes.length, mask: new Uint8Array(4) });
  const request = "GET /raft HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  return [
    new Attack("60 MB frames without a hello", port, 40, 100, async (peer) => {
      peer.write(upgradeRequest());
      peer.write(header);
      peer.write(sixtyMegabytes);
    }),
    new Attack("idle TCP connections", port, 300, 500, async () => {}),
    new Attack("slowloris request lines", port, 50, 200, async (peer, attack) => {
      for (let i = 0; i < request.length && !peer.ended && attack.isRunning(); i++) {
        peer.write(request[i]!);
        await sleep(200);
      }
    }),
    new Attack("half frames after the upgrade", port, 50, 200, async (peer) => {
      await peer.upgrade();
      peer.write(clientFrame(OPCODE.binary, new Uint8Array(500), { declaredLength: 1000 }));
    }),
  ];
}
