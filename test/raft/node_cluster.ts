/**
 * Real Raft nodes for runtime tests: each with its own data directory, its own port on
 * 127.0.0.1, durable storage and the WebSocket transport, in this process. A small list state
 * machine records what was applied.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import { RaftNode } from "../../src/raft/runtime/raft_node.js";
import type { ApplyContext, RaftNodeError, StateMachine } from "../../src/raft/runtime/raft_node_types.js";
import { type ConfMember, type NodeId, nodeId } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";

export class ListMachine implements StateMachine<number> {
  items: string[] = [];
  lastTimeMs = 0;
  apply(payload: Uint8Array, context: ApplyContext): number {
    this.lastTimeMs = context.timeMs;
    this.items.push(new TextDecoder().decode(payload));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(snapshot: Uint8Array): void {
    this.items = JSON.parse(new TextDecoder().decode(snapshot)) as string[];
  }
}

export interface TestNode {
  readonly id: NodeId;
  readonly port: number;
  readonly dir: string;
  machine: ListMachine;
  node: RaftNode<number> | null;
  fatal: RaftNodeError | null;
}

export class NodeCluster {
  readonly nodes = new Map<string, TestNode>();
  readonly lines: LoggedLine[] = [];
  readonly root = mkdtempSync(join(tmpdir(), "raft-node-"));
  members: ConfMember[] = [];

  static async create(ids: readonly string[], snapshotEveryEntries = 1000): Promise<NodeCluster> {
    const cluster = new NodeCluster(snapshotEveryEntries);
    for (const id of ids) {
      const port = await freePort();
      cluster.members.push({ id: nodeId(id), role: "voter", address: `127.0.0.1:${port}` });
      cluster.nodes.set(id, { id: nodeId(id), port, dir: join(cluster.root, id), machine: new ListMachine(), node: null, fatal: null });
    }
    for (const id of ids) {
      const started = await cluster.start(id);
      if (E.isLeft(started)) throw new Error(started.left.message);
    }
    return cluster;
  }

  private constructor(private readonly snapshotEveryEntries: number) {}

  get(id: string): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  async start(id: string, options: { join?: boolean } = {}): Promise<E.Either<RaftNodeError, RaftNode<number>>> {
    const t = this.get(id);
    t.machine = new ListMachine();
    const seeds = new Map(this.members.filter((m) => m.id !== id).map((m) => [m.id, m.address] as const));
    const started = await RaftNode.start<number>({
      nodeId: t.id,
      clusterId: "test-cluster",
      secret: "s3cret",
      dataDir: t.dir,
      listenHost: "127.0.0.1",
      listenPort: t.port,
      initialMembers: options.join === true ? null : this.members,
      seedPeers: seeds,
      heartbeatMs: 50,
      electionTimeoutMs: 500,
      snapshotEveryEntries: this.snapshotEveryEntries,
      stateMachine: t.machine,
      logger: createRecordingLogger(this.lines, { node: id }),
      onFatal: (error) => {
        t.fatal = error;
      },
    });
    if (E.isRight(started)) t.node = started.right;
    return started;
  }

  /** A node that is not an initial member: it joins through the seeds. */
  async addJoiner(id: string): Promise<TestNode> {
    const port = await freePort();
    const node: TestNode = { id: nodeId(id), port, dir: join(this.root, id), machine: new ListMachine(), node: null, fatal: null };
    this.nodes.set(id, node);
    const started = await this.start(id, { join: true });
    if (E.isLeft(started)) throw new Error(started.left.message);
    return node;
  }

  async stop(id: string): Promise<void> {
    const t = this.get(id);
    await t.node?.stop();
    t.node = null;
  }

  running(): TestNode[] {
    return [...this.nodes.values()].filter((t) => t.node !== null);
  }

  /** Waits until one running node leads and the others follow it. */
  async leader(timeoutMs = 10_000): Promise<TestNode> {
    return eventually(() => {
      const running = this.running();
      const leaders = running.filter((t) => t.node!.status().role === "leader");
      if (leaders.length !== 1) return undefined;
      const term = leaders[0]!.node!.status().term;
      return running.every((t) => t.node!.status().leader === leaders[0]!.id && t.node!.status().term === term) ? leaders[0] : undefined;
    }, timeoutMs, "a single leader");
  }

  async destroy(): Promise<void> {
    for (const t of this.nodes.values()) await t.node?.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
