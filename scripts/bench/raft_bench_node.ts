/**
 * One Raft node process for the benchmark: durable storage, the real transport, a counter as the
 * state machine, and a WebSocket endpoint for the load process. Started by raft_bench.ts with a
 * JSON NodeSpec as its only argument; prints one JSON line when ready; stops on SIGTERM.
 */
import { either as E } from "fp-ts";
import { jsonLogger } from "../../src/lib/json_logger.js";
import { RaftNode } from "../../src/raft/runtime/raft_node.js";
import type { StateMachine } from "../../src/raft/runtime/raft_node_types.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { serveBenchProtocol } from "./bench_server.js";
import type { NodeSpec } from "./raft_bench_protocol.js";

class Counter implements StateMachine<number> {
  count = 0;
  apply(): number {
    return ++this.count;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.count));
  }
  restore(snapshot: Uint8Array): void {
    this.count = Number(new TextDecoder().decode(snapshot));
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as NodeSpec;
  const logger = jsonLogger({ write: (line) => void process.stderr.write(line), now: Date.now, level: "warn", base: { node: spec.id } });
  const members: ConfMember[] = spec.members.map((m) => ({ id: nodeId(m.id), role: "voter", address: m.address }));
  const started = await RaftNode.start<number>({
    nodeId: nodeId(spec.id),
    clusterId: "bench",
    secret: "bench-secret",
    dataDir: spec.dir,
    listenHost: "127.0.0.1",
    listenPort: spec.raftPort,
    initialMembers: members,
    heartbeatMs: spec.heartbeatMs,
    electionTimeoutMs: spec.electionTimeoutMs,
    snapshotEveryEntries: Number(process.env["RAFT_BENCH_SNAPSHOT_EVERY"] ?? 20_000),
    stateMachine: new Counter(),
    logger,
    onFatal: (error) => {
      process.stderr.write(`fatal: ${error.message}\n`);
      process.exit(1);
    },
  });
  if (E.isLeft(started)) {
    process.stderr.write(`${started.left.message}\n`);
    process.exit(1);
  }
  const node = started.right;
  await serveBenchProtocol(spec.id, spec.clientPort, {
    propose: (payload) => node.propose(payload).then(
      (proposed) => {
        const body = Buffer.allocUnsafe(8);
        body.writeDoubleLE(proposed.index, 0);
        return { ok: true, body };
      },
      (error: { code?: string }) => ({ ok: false, body: Buffer.from(error.code ?? "error") }),
    ),
    status: () => node.status(),
    stop: () => node.stop(),
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
