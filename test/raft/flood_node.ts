/**
 * One Raft node in a process of its own, for tests that measure what happens to the process
 * hosting it (RSS, event-loop delay) while others attack it. Started by fork() with
 * `--import tsx`; its options come as JSON in argv[2]; it answers requests over IPC:
 *   { id, op: "status" }          → { id, status: FloodNodeStatus }
 *   { id, op: "propose", text }   → { id, ok, error? }
 *   { id, op: "stop" }            → { id, ok } and the process exits
 * Before anything else it sends { op: "ready" }, or { op: "failed", message } and exits 1.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { either as E } from "fp-ts";
import type { Logger } from "../../src/lib/logger.js";
import { RaftNode } from "../../src/raft/runtime/raft_node.js";
import type { TransportLimits } from "../../src/raft/runtime/transport_limits.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { ListMachine } from "./node_cluster.js";

export interface FloodNodeOptions {
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  readonly members: readonly ConfMember[];
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly transportLimits?: Partial<TransportLimits>;
}

export interface FloodNodeStatus {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Memory outside the V8 heap held by JS objects (Buffers among them). */
  readonly externalBytes: number;
  /** The committed size of each V8 heap space ("new_space", "old_space" …). */
  readonly heapSpaces: Readonly<Record<string, number>>;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly applied: number;
  /** The longest event-loop delay since the last status request (perf_hooks histogram). */
  readonly loopDelayMaxMs: number;
  readonly fatal: string | null;
  /** Warnings logged since start, and the last few of them (the log is bounded: see below). */
  readonly warnings: number;
  readonly lastWarnings: readonly string[];
}

const WARNINGS_KEPT = 20;

/**
 * A logger that counts and keeps the last few warnings only: a recording logger would keep a
 * debug line per refused connection, and its growth would show in the RSS this process measures.
 */
class CountingLogger implements Logger {
  warnings = 0;
  readonly lastWarnings: string[] = [];
  debug(): void {}
  info(): void {}
  warn(_fields: unknown, message: string): void {
    this.warnings++;
    this.lastWarnings.push(message);
    if (this.lastWarnings.length > WARNINGS_KEPT) this.lastWarnings.shift();
  }
  error(fields: unknown, message: string): void {
    this.warn(fields, `error: ${message}`);
  }
  child(): Logger {
    return this;
  }
}

type Request = { id: number; op: "status" } | { id: number; op: "propose"; text: string } | { id: number; op: "stop" };

const send = (message: object): void => {
  process.send?.(message);
};

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "{}") as FloodNodeOptions;
  const machine = new ListMachine();
  const logger = new CountingLogger();
  let fatal: string | null = null;
  const started = await RaftNode.start<number>({
    nodeId: nodeId(options.id),
    clusterId: "flood-cluster",
    secret: "flood-secret",
    dataDir: options.dataDir,
    listenHost: "127.0.0.1",
    listenPort: options.port,
    initialMembers: options.members,
    seedPeers: new Map(options.members.filter((m) => m.id !== options.id).map((m) => [m.id, m.address] as const)),
    heartbeatMs: options.heartbeatMs,
    electionTimeoutMs: options.electionTimeoutMs,
    snapshotEveryEntries: 1000,
    stateMachine: machine,
    logger,
    onFatal: (error) => {
      fatal = error.message;
    },
    ...(options.transportLimits === undefined ? {} : { transportLimits: options.transportLimits }),
  });
  if (E.isLeft(started)) {
    send({ op: "failed", message: started.left.message });
    process.exit(1);
  }
  const node = started.right;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on("message", (request: Request) => {
    void handle(request);
  });
  async function handle(request: Request): Promise<void> {
    switch (request.op) {
      case "status": {
        const status = node.status();
        const memory = process.memoryUsage();
        const reply: FloodNodeStatus = {
          rssBytes: memory.rss,
          heapUsedBytes: memory.heapUsed,
          heapTotalBytes: memory.heapTotal,
          externalBytes: memory.external,
          heapSpaces: Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size])),
          role: status.role,
          term: status.term,
          leader: status.leader,
          applied: machine.items.length,
          loopDelayMaxMs: delay.max / 1e6,
          fatal,
          warnings: logger.warnings,
          lastWarnings: [...logger.lastWarnings],
        };
        delay.reset();
        send({ id: request.id, status: reply });
        return;
      }
      case "propose": {
        const result = await node.propose(new TextEncoder().encode(request.text), 2000).then(() => null, (e: unknown) => String(e));
        send({ id: request.id, ok: result === null, error: result });
        return;
      }
      case "stop":
        delay.disable();
        await node.stop();
        send({ id: request.id, ok: true });
        process.disconnect();
        return;
    }
  }
  send({ op: "ready" });
}

void main();
