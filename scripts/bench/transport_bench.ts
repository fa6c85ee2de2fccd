/**
 * Benchmark of the Raft transport: two transports in two processes on loopback.
 *
 *   node --import tsx scripts/bench/transport_bench.ts [--messages N] [--pings N]
 *
 * The parent (node "a") spawns a child process (node "b") and measures:
 * 1. one-way throughput of small heartbeat messages, sent in batches from the parent; the child
 *    acknowledges each frame it receives with its running count, and the parent keeps at most a
 *    window of unacknowledged messages in flight (below the queue bound, so nothing is dropped);
 * 2. the same for append messages carrying one 128-byte entry (a Raft commit's worth of data);
 * 3. round-trip latency: one heartbeat at a time, echoed back by the child; p50 and p99;
 * 4. for reference, encodeFrame/decodeFrame alone in this process (the sender's main cost).
 * The child is killed by its PID when the parent finishes or fails, and exits by itself when its
 * stdin (a pipe from the parent) closes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { either as E } from "fp-ts";
import type { Logger } from "../../src/lib/logger.js";
import { decodeFrame, encodeFrame } from "../../src/raft/codec.js";
import { Transport, type TransportHandlers } from "../../src/raft/runtime/transport.js";
import { type Entry, type LogIndex, makeMessage, type Message, type NodeId, nodeId, type Term } from "../../src/raft/types.js";

const CLUSTER = "bench";
const SECRET = "bench-secret";
const PARENT = nodeId("a");
const CHILD = nodeId("b");
/** Heartbeats with this term are echoed (latency); others are counted (throughput). */
const PING_TERM = 1 as Term;
const BULK_TERM = 2 as Term;
const BATCH = 256;
const WINDOW = 4096;

const stderrLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (fields, message) => process.stderr.write(`warn: ${message} ${JSON.stringify(fields)}\n`),
  error: (fields, message) => process.stderr.write(`error: ${message} ${JSON.stringify(fields)}\n`),
  child: () => stderrLogger,
};

async function startTransport(selfId: NodeId, handlers: TransportHandlers): Promise<Transport> {
  const started = await Transport.start(
    { selfId, clusterId: CLUSTER, secret: SECRET, listenHost: "127.0.0.1", listenPort: 0, logger: stderrLogger },
    handlers,
  );
  if (E.isLeft(started)) throw new Error(started.left.message);
  return started.right;
}

/** The child: echoes pings, acknowledges bulk frames with the running count of bulk messages. */
async function child(parentPort: number): Promise<void> {
  let received = 0;
  const transport: Transport = await startTransport(CHILD, {
    onMessages: (messages) => {
      let bulk = false;
      for (const message of messages) {
        if (message.type === "heartbeat" && message.term === PING_TERM) {
          transport.send([makeMessage({ type: "heartbeatResponse", from: CHILD, to: PARENT, term: PING_TERM, context: message.context })]);
        } else {
          received++;
          bulk = true;
        }
      }
      if (bulk) transport.send([makeMessage({ type: "heartbeatResponse", from: CHILD, to: PARENT, term: BULK_TERM, context: received })]);
    },
    onPeerUnreachable: () => {},
    onSnapshotFailed: () => {},
  });
  transport.setPeers(new Map([[PARENT, `127.0.0.1:${parentPort}`]]));
  process.stdout.write(`${JSON.stringify({ port: transport.port })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    void transport.stop().then(() => process.exit(0));
  });
}

interface Parent {
  readonly transport: Transport;
  /** Resolved by the child's acknowledgements and echoes. */
  acked: number;
  onAck: (() => void) | null;
  onPong: ((context: number) => void) | null;
  unreachable: number;
}

function spawnChild(parentPort: number): Promise<{ process: ChildProcess; port: number }> {
  const script = fileURLToPath(import.meta.url);
  const childProcess = spawn(process.execPath, ["--import", "tsx", script, "--child", String(parentPort)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    childProcess.once("exit", (code) => reject(new Error(`the child exited early with code ${code}`)));
    createInterface({ input: childProcess.stdout! }).once("line", (line) => {
      resolve({ process: childProcess, port: (JSON.parse(line) as { port: number }).port });
    });
  });
}

function waitFor(parent: Parent, count: number): Promise<void> {
  if (parent.acked >= count) return Promise.resolve();
  return new Promise((resolve) => {
    parent.onAck = () => {
      if (parent.acked < count) return;
      parent.onAck = null;
      resolve();
    };
  });
}

/** Sends `total` messages made by `make`, in batches, keeping at most WINDOW unacknowledged. */
async function throughput(parent: Parent, total: number, make: (i: number) => Message): Promise<number> {
  const base = parent.acked;
  const started = process.hrtime.bigint();
  let sent = 0;
  while (sent < total) {
    await waitFor(parent, base + sent + BATCH - WINDOW);
    const batch: Message[] = [];
    for (let i = 0; i < BATCH && sent < total; i++, sent++) batch.push(make(sent));
    parent.transport.send(batch);
    // Yield so the transport's setImmediate flush runs between batches, as in the runtime.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(parent, base + total);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

async function latency(parent: Parent, pings: number): Promise<{ p50: number; p99: number; max: number }> {
  const samples: number[] = [];
  for (let i = 0; i < pings; i++) {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      parent.onPong = (context) => {
        if (context === i) resolve();
      };
      parent.transport.send([makeMessage({ type: "heartbeat", from: PARENT, to: CHILD, term: PING_TERM, context: i })]);
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  samples.sort((x, y) => x - y);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1]! };
}

/** Messages per second through encodeFrame and decodeFrame alone, frames of BATCH messages. */
function codecRates(make: (i: number) => Message): { encode: number; decode: number } {
  const batch = Array.from({ length: BATCH }, (_, i) => make(i));
  const rounds = 400;
  let frame = encodeFrame(batch);
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) frame = encodeFrame(batch);
  const encoded = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) decodeFrame(frame);
  const decoded = process.hrtime.bigint();
  const rate = (from: bigint, to: bigint): number => (rounds * BATCH) / (Number(to - from) / 1e9);
  return { encode: rate(started, encoded), decode: rate(encoded, decoded) };
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

async function parent(): Promise<void> {
  const messages = argument("--messages", 500_000);
  const pings = argument("--pings", 5000);
  const state: { parent: Parent | null } = { parent: null };
  const transport = await startTransport(PARENT, {
    onMessages: (received) => {
      const p = state.parent!;
      for (const message of received) {
        if (message.term === PING_TERM) p.onPong?.(message.context);
        else p.acked = Math.max(p.acked, message.context);
      }
      p.onAck?.();
    },
    onPeerUnreachable: () => state.parent!.unreachable++,
    onSnapshotFailed: () => {},
  });
  state.parent = { transport, acked: 0, onAck: null, onPong: null, unreachable: 0 };
  const p = state.parent;
  let childProcess: ChildProcess | null = null;
  try {
    const spawned = await spawnChild(transport.port);
    childProcess = spawned.process;
    transport.setPeers(new Map([[CHILD, `127.0.0.1:${spawned.port}`]]));
    const heartbeat = (i: number): Message =>
      makeMessage({ type: "heartbeat", from: PARENT, to: CHILD, term: BULK_TERM, commit: i as LogIndex, context: i });
    const data = new Uint8Array(128).fill(1);
    const append = (i: number): Message => {
      const entry: Entry = { term: BULK_TERM, index: (i + 1) as LogIndex, type: "normal", timeMs: 0, data };
      return makeMessage({ type: "append", from: PARENT, to: CHILD, term: BULK_TERM, index: i as LogIndex, entries: [entry] });
    };
    await throughput(p, 20_000, heartbeat); // warm-up: connection, JIT
    const heartbeatsPerSecond = await throughput(p, messages, heartbeat);
    const appendsPerSecond = await throughput(p, messages / 2, append);
    await latency(p, 500); // warm-up
    const rtt = await latency(p, pings);
    const codec = codecRates(heartbeat);
    const status = transport.peerStatus().get(CHILD)!;
    console.log(`transport benchmark: two processes on loopback (Node ${process.version})`);
    console.log(`  one-way heartbeats (batches of ${BATCH}):          ${Math.round(heartbeatsPerSecond).toLocaleString("en")} msg/s (${messages.toLocaleString("en")} messages)`);
    console.log(`  one-way appends, 1 entry of 128 B (batches of ${BATCH}): ${Math.round(appendsPerSecond).toLocaleString("en")} msg/s (${(messages / 2).toLocaleString("en")} messages)`);
    console.log(`  round trip, one heartbeat at a time:  p50 ${rtt.p50.toFixed(0)} µs, p99 ${rtt.p99.toFixed(0)} µs, max ${rtt.max.toFixed(0)} µs (${pings} pings)`);
    console.log(`  codec alone, heartbeats: encodeFrame ${Math.round(codec.encode).toLocaleString("en")} msg/s, decodeFrame ${Math.round(codec.decode).toLocaleString("en")} msg/s`);
    console.log(`  dropped messages: ${status.droppedMessages}, unreachable reports: ${p.unreachable}`);
  } finally {
    await transport.stop();
    if (childProcess?.pid !== undefined && childProcess.exitCode === null) {
      childProcess.removeAllListeners("exit");
      process.kill(childProcess.pid, "SIGTERM");
    }
  }
}

const childIndex = process.argv.indexOf("--child");
const run = childIndex === -1 ? parent() : child(Number(process.argv[childIndex + 1]));
run.catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
