/**
 * The group the Raft fuzzer attacks: three real RaftNodes in this process, each with its data
 * directory, its port on 127.0.0.1 and the real DCS as its state machine (wired as
 * src/agent/dcs_node.ts does), the production transport limits and timing. The log is bounded:
 * it counts lines and keeps the errors (a flood of refused connections must not grow it).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import type { Decision } from "../../src/dcs/decide.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import type { Logger } from "../../src/lib/logger.js";
import { RaftNode } from "../../src/raft/runtime/raft_node.js";
import { type ConfMember, type NodeId, nodeId } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";

export const FUZZ_CLUSTER_ID = "fuzz-cluster";
export const FUZZ_SECRET = "fuzz-secret-known-to-the-fuzzer";
const ERRORS_KEPT = 50;

/** Counts what the nodes log; keeps error lines (the first ERRORS_KEPT) for the report. */
export class BoundedLog implements Logger {
  readonly counts = { debug: 0, info: 0, warn: 0, error: 0 };
  readonly errors: string[] = [];
  constructor(private readonly fields: Record<string, unknown> = {}) {}
  debug(): void {
    this.counts.debug++;
  }
  info(): void {
    this.counts.info++;
  }
  warn(): void {
    this.counts.warn++;
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.counts.error++;
    if (this.errors.length < ERRORS_KEPT) this.errors.push(`${String(this.fields["node"] ?? "?")}: ${message} ${JSON.stringify(fields).slice(0, 600)}`);
  }
  child(): Logger {
    return this;
  }
}

export interface FuzzNode {
  readonly id: NodeId;
  readonly port: number;
  readonly raft: RaftNode<Decision>;
  readonly machine: DcsStateMachine;
  readonly log: BoundedLog;
  fatal: string | null;
}

export class DcsGroup {
  private constructor(
    readonly nodes: readonly FuzzNode[],
    private readonly root: string,
  ) {}

  static async start(): Promise<DcsGroup> {
    const root = mkdtempSync(join(tmpdir(), "raft-fuzz-"));
    const ids = ["n1", "n2", "n3"].map(nodeId);
    const ports = await Promise.all(ids.map(() => freePort()));
    const members: ConfMember[] = ids.map((id, i) => ({ id, role: "voter", address: `127.0.0.1:${ports[i]!}` }));
    const nodes: FuzzNode[] = [];
    for (const [i, id] of ids.entries()) {
      const machine = new DcsStateMachine();
      const log = new BoundedLog({ node: id });
      const holder: { node: FuzzNode | null; fatal: string | null } = { node: null, fatal: null };
      const started = await RaftNode.start<Decision>({
        nodeId: id,
        clusterId: FUZZ_CLUSTER_ID,
        secret: FUZZ_SECRET,
        dataDir: join(root, id),
        listenHost: "127.0.0.1",
        listenPort: ports[i]!,
        initialMembers: members,
        seedPeers: new Map(members.filter((m) => m.id !== id).map((m) => [m.id, m.address] as const)),
        heartbeatMs: 100,
        electionTimeoutMs: 1000,
        snapshotEveryEntries: 500,
        // The fuzzer and the members all connect from 127.0.0.1: per-address limits as high as
        // the totals, so that the fuzzer's connections leave the members room.
        transportLimits: { unauthenticatedConnectionsPerAddressMax: 64, unauthenticatedConnectionsPerAddressPerSecondMax: 32 },
        stateMachine: machine,
        logger: log,
        onFatal: (error) => {
          if (holder.node !== null) holder.node.fatal = error.message;
          else holder.fatal = error.message;
        },
      });
      if (E.isLeft(started)) throw new Error(`node ${id} did not start: ${started.left.message}`);
      holder.node = { id, port: ports[i]!, raft: started.right, machine, log, fatal: holder.fatal };
      nodes.push(holder.node);
    }
    return new DcsGroup(nodes, root);
  }

  /** The node every node agrees leads, or null. */
  leader(): FuzzNode | null {
    const statuses = this.nodes.map((n) => n.raft.status());
    const leaders = this.nodes.filter((_, i) => statuses[i]!.role === "leader");
    if (leaders.length !== 1) return null;
    return statuses.every((s) => s.leader === leaders[0]!.id) ? leaders[0]! : null;
  }

  async waitForLeader(timeoutMs: number): Promise<FuzzNode> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leader();
      if (leader !== null) return leader;
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.raft.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}
