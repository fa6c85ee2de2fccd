/**
 * Benchmark of the Raft transport: two transports in two processes on loopback.
 *
 *   node --import tsx scripts/bench/transport_bench.ts [--messages N] [--pings N]
 *
 * The parent (node "a") spawns a child process (node "b") and measures:
 * 1. one-way throughput of small append answers, sent in batches of 256 from the parent, at most
 *    4096 unacknowledged; the child acknowledges each frame it receives with its running count.
 *    Append answers are sent as they are: heartbeats, votes and snapshots are not, since only the
 *    newest queued one of those goes out (transport_freshness.ts), so a burst of them measures
 *    the merging, not the transport;
 * 2. one-way appends carrying one 128-byte entry (a Raft commit's worth of data), at most 64
 *    unacknowledged: the transport queues at most queueAppendsMax (64) appends per peer, and the
 *    runtime's in-flight window fits under it, so this is the most a Raft leader keeps queued;
 * 3. the same appends in batches of 256, at most 4096 unacknowledged, the parent's
 *    queueAppendsMax raised to 4096 for this benchmark (said in the output): raw throughput;
 * 4. round-trip latency: one heartbeat at a time (nothing to merge), echoed by the child;
 * 5. for reference, encodeFrame/decodeFrame alone in this process (the sender's main cost).
 * Every other limit is the transport's default, queueMessageAgeMaxMs (1000 ms) included. The
 * benchmark fails, rather than hangs or reports a rate, when the parent's link drops, expires or
 * supersedes a message, or when no acknowledgement arrives for STALL_MS_MAX.
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
import { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from "../../src/raft/runtime/transport_limits.js";
import { type Entry, type LogIndex, makeMessage, type Message, type NodeId, nodeId, type Term } from "../../src/raft/types.js";

const CLUSTER = "bench";
const SECRET = "bench-secret";
const PARENT = nodeId("a");
const CHILD = nodeId("b");
/** Heartbeats with this term are echoed (latency); other messages are counted (throughput). */
const PING_TERM = 1 as Term;
const BULK_TERM = 2 as Term;
const BATCH = 256;
const WINDOW = 4096;
/** With no acknowledgement for this long, the benchmark fails instead of waiting forever. */
const STALL_MS_MAX = 10_000;
/**
 * The parent's only departure from the default limits, for scenario 3: room for a window of
 * appends. Scenarios 1 and 2 never queue more than the defaults allow, so it does not touch them.
 */
const PARENT_LIMITS: Partial<TransportLimits> = { queueAppendsMax: WINDOW };

/** How a throughput scenario sends: messages per send() call, and at most how many unacknowledged. */
interface Pace {
  readonly batch: number;
  readonly window: number;
}
const WIDE: Pace = { batch: BATCH, window: WINDOW };
/** A leader's appends to one follower: never more than the transport queues by default. */
const RUNTIME_WINDOW: Pace = { batch: 16, window: DEFAULT_TRANSPORT_LIMITS.queueAppendsMax };

const stderrLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (fields, message) => process.stderr.write(`warn: ${message} ${JSON.stringify(fields)}\n`),
  error: (fields, message) => process.stderr.write(`error: ${message} ${JSON.stringify(fields)}\n`),
  child: () => stderrLogger,
};

async function startTransport(selfId: NodeId, handlers: TransportHandlers, limits: Partial<TransportLimits> = {}): Promise<Transport> {
  const started = await Transport.start(
    { selfId, clusterId: CLUSTER, secret: SECRET, listenHost: "127.0.0.1", listenPort: 0, logger: stderrLogger, limits },
    handlers,
  );
  if (E.isLeft(started)) throw new Error(started.left.message);
  return started.right;
}

/**
 * The child: echoes pings; acknowledges each bulk frame with an append answer carrying the
 * running count of bulk messages (append answers are neither merged nor bounded in the queue).
 */
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
      if (bulk) transport.send([makeMessage({ type: "appendResponse", from: CHILD, to: PARENT, term: BULK_TERM, context: received })]);
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

/** What the parent's link to the child has lost so far; a throughput figure needs all zero. */
function losses(parent: Parent): { dropped: number; expired: number; superseded: number; unreachable: number } {
  const status = parent.transport.peerStatus().get(CHILD);
  return {
    dropped: status?.droppedMessages ?? 0,
    expired: status?.expiredMessages ?? 0,
    superseded: status?.supersededMessages ?? 0,
    unreachable: parent.unreachable,
  };
}

function lossSummary(parent: Parent): string | null {
  const lost = losses(parent);
  if (lost.dropped + lost.expired + lost.superseded + lost.unreachable === 0) return null;
  return `dropped ${lost.dropped}, expired ${lost.expired}, superseded ${lost.superseded}, unreachable reports ${lost.unreachable}`;
}

/**
 * Resolves once the child acknowledged `count` messages. Rejects when the parent's link lost a
 * message (the figure would measure dropping, and the count may never be reached) or when no
 * acknowledgement came for STALL_MS_MAX (the child's answers may have been dropped: see its log).
 */
function waitFor(parent: Parent, count: number): Promise<void> {
  if (parent.acked >= count && lossSummary(parent) === null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let progressAt = Date.now();
    let ackedBefore = parent.acked;
    const finish = (error: Error | null): void => {
      clearInterval(guard);
      parent.onAck = null;
      if (error === null) resolve();
      else reject(error);
    };
    const check = (): void => {
      const lost = lossSummary(parent);
      if (lost !== null) finish(new Error(`the transport lost messages to the child (${lost}): no throughput to report`));
      else if (parent.acked >= count) finish(null);
      else if (parent.acked > ackedBefore) {
        ackedBefore = parent.acked;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS_MAX) {
        finish(new Error(`no acknowledgement for ${STALL_MS_MAX} ms: ${parent.acked} of ${count} messages acknowledged`));
      }
    };
    const guard = setInterval(check, 100);
    parent.onAck = check;
    check();
  });
}

/** Sends `total` messages made by `make`, `pace.batch` per send(), at most `pace.window` unacknowledged. */
async function throughput(parent: Parent, total: number, pace: Pace, make: (i: number) => Message): Promise<number> {
  const base = parent.acked;
  const started = process.hrtime.bigint();
  let sent = 0;
  while (sent < total) {
    await waitFor(parent, base + sent + pace.batch - pace.window);
    const batch: Message[] = [];
    for (let i = 0; i < pace.batch && sent < total; i++, sent++) batch.push(make(sent));
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
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ping ${i} got no answer in ${STALL_MS_MAX} ms`)), STALL_MS_MAX);
      parent.onPong = (context) => {
        if (context !== i) return;
        clearTimeout(timer);
        resolve();
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

const rate = (perSecond: number): string => `${Math.round(perSecond).toLocaleString("en")} msg/s`;
const count = (n: number): string => n.toLocaleString("en");

// An append's answer: the transport sends every one of them, in order (transport_freshness.ts).
const answer = (i: number): Message =>
  makeMessage({ type: "appendResponse", from: PARENT, to: CHILD, term: BULK_TERM, index: i as LogIndex, context: i });
const ENTRY_DATA = new Uint8Array(128).fill(1);
const append = (i: number): Message => {
  const entry: Entry = { term: BULK_TERM, index: (i + 1) as LogIndex, type: "normal", timeMs: 0, data: ENTRY_DATA };
  return makeMessage({ type: "append", from: PARENT, to: CHILD, term: BULK_TERM, index: i as LogIndex, entries: [entry] });
};

/** Runs every scenario against the connected child and prints one line for each. */
async function measure(p: Parent, messages: number, pings: number): Promise<void> {
  const appends = Math.floor(messages / 2);
  await throughput(p, 20_000, WIDE, answer); // warm-up: connection, JIT
  const answersPerSecond = await throughput(p, messages, WIDE, answer);
  const runtimeAppendsPerSecond = await throughput(p, appends, RUNTIME_WINDOW, append);
  const wideAppendsPerSecond = await throughput(p, appends, WIDE, append);
  await latency(p, 500); // warm-up
  const rtt = await latency(p, pings);
  const codec = codecRates(answer);
  const status = p.transport.peerStatus().get(CHILD)!;
  const { queueMessageAgeMaxMs, queueAppendsMax } = DEFAULT_TRANSPORT_LIMITS;
  const paced = (pace: Pace): string => `batches of ${pace.batch}, ≤ ${pace.window} unacked`;
  const entry = "1 entry of 128 B";
  const lines = [
    `transport benchmark: two processes on loopback (Node ${process.version}), messages the transport neither merges nor drops`,
    `  limits: transport defaults (queueMessageAgeMaxMs ${queueMessageAgeMaxMs}, queueAppendsMax ${queueAppendsMax}); ` +
      `the sender's queueAppendsMax raised to ${PARENT_LIMITS.queueAppendsMax} for the last appends line only`,
    `  one-way append answers (${paced(WIDE)}): ${rate(answersPerSecond)} (${count(messages)} messages)`,
    `  one-way appends, ${entry} (${paced(RUNTIME_WINDOW)}, a leader's window per follower): ` +
      `${rate(runtimeAppendsPerSecond)} (${count(appends)} messages)`,
    `  one-way appends, ${entry} (${paced(WIDE)}, queueAppendsMax ${PARENT_LIMITS.queueAppendsMax}): ` +
      `${rate(wideAppendsPerSecond)} (${count(appends)} messages)`,
    `  round trip, one heartbeat at a time:  p50 ${rtt.p50.toFixed(0)} µs, p99 ${rtt.p99.toFixed(0)} µs, ` +
      `max ${rtt.max.toFixed(0)} µs (${pings} pings)`,
    `  codec alone, append answers: encodeFrame ${rate(codec.encode)}, decodeFrame ${rate(codec.decode)}`,
    `  expired messages: ${status.expiredMessages}, superseded messages: ${status.supersededMessages}`,
    `  dropped messages: ${status.droppedMessages}, unreachable reports: ${p.unreachable}`,
  ];
  for (const line of lines) console.log(line);
}

async function parent(): Promise<void> {
  const messages = argument("--messages", 500_000);
  const pings = argument("--pings", 5000);
  const state: { parent: Parent | null } = { parent: null };
  const transport = await startTransport(PARENT, {
    onMessages: (received) => {
      const p = state.parent!;
      for (const message of received) {
        if (message.type === "heartbeatResponse" && message.term === PING_TERM) p.onPong?.(message.context);
        else if (message.type === "appendResponse") p.acked = Math.max(p.acked, message.context);
      }
      p.onAck?.();
    },
    onPeerUnreachable: () => state.parent!.unreachable++,
    onSnapshotFailed: () => {},
  }, PARENT_LIMITS);
  state.parent = { transport, acked: 0, onAck: null, onPong: null, unreachable: 0 };
  let childProcess: ChildProcess | null = null;
  try {
    const spawned = await spawnChild(transport.port);
    childProcess = spawned.process;
    transport.setPeers(new Map([[CHILD, `127.0.0.1:${spawned.port}`]]));
    await measure(state.parent, messages, pings);
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
