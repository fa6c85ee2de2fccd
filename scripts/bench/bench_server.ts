/**
 * The node side of the benchmarks' client protocol (raft_bench_protocol.ts), shared by the Raft
 * and DCS bench nodes: a WebSocket server answering proposals and status requests, stopping the
 * node on SIGTERM, and a "ready" line on stdout once it listens.
 */
import type { RaftNodeStatus } from "../../src/raft/runtime/raft_node_types.js";
import { corkedSender, listenWebSocket } from "../../lab/sockets.js";
import { type BenchNodeStatus, encodeResponse, KIND_PROPOSE, KIND_STATUS } from "./raft_bench_protocol.js";

export interface BenchServed {
  /** Proposes the payload; the answer's ok flag and body (an error's body says why). */
  propose(payload: Buffer): Promise<{ readonly ok: boolean; readonly body: Buffer }>;
  status(): RaftNodeStatus;
  stop(): Promise<void>;
}

export async function serveBenchProtocol(id: string, port: number, node: BenchServed): Promise<void> {
  const server = await listenWebSocket(port);
  server.on("connection", (socket) => {
    // Answers produced in one turn of the event loop leave in one write.
    const reply = corkedSender(socket);
    socket.on("message", (data: Buffer) => {
      const kind = data.readUInt8(0);
      const requestId = data.readUInt32LE(1);
      if (kind === KIND_PROPOSE) {
        void node.propose(data.subarray(5)).then((a) => reply(encodeResponse(kind, requestId, a.ok, a.body)));
      } else if (kind === KIND_STATUS) {
        const s = node.status();
        const status: BenchNodeStatus = { id: s.id, role: s.role, leader: s.leader, term: s.term, commit: s.commit, applied: s.applied, writes: s.writes, entriesWritten: s.entriesWritten };
        reply(encodeResponse(kind, requestId, true, Buffer.from(JSON.stringify(status))));
      }
    });
  });
  process.on("SIGTERM", () => {
    server.close();
    void node.stop().then(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ ready: true, id, pid: process.pid })}\n`);
}
