/**
 * A TCP proxy that adds latency, for kernels without tc netem: it listens on --listen-port and
 * forwards every connection to --target-host:--target-port, holding each chunk of bytes, in each
 * direction, for delay + uniform(0, jitter) ms. A chunk is never released before the one ahead of
 * it, so the byte stream keeps its order (jitter stretches gaps, it never reorders).
 *
 * Control on stdin, one JSON object a line: {"id": 1, "delayMs": 200, "jitterMs": 50} changes the
 * latency of chunks that arrive from then on, answered on stdout by {"ack": 1, ...}. The proxy exits
 * when stdin closes (its parent is gone) or on SIGTERM. Its first stdout line is
 * {"ready": true, "port": <listen port>}.
 */
import { type Server, type Socket, connect, createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { createPrng } from "../../../src/lib/prng.js";

/** Bytes held per direction before the reading side is paused (backpressure through the delay). */
const QUEUED_BYTES_MAX = 1 << 20;
const DELAY_MS_MAX = 600_000;

interface Latency {
  delayMs: number;
  jitterMs: number;
}

interface Held {
  readonly at: number;
  /** null: the end of the stream (a half-close), forwarded in order after the bytes before it. */
  readonly chunk: Buffer | null;
}

/** One direction of one connection: bytes from `source` reach `target` after the latency. */
function delayedPipe(source: Socket, target: Socket, latencyNow: () => number): void {
  const queue: Held[] = [];
  let queuedBytes = 0;
  let lastAt = 0;
  let timer: NodeJS.Timeout | null = null;

  const hold = (chunk: Buffer | null): void => {
    lastAt = Math.max(performance.now() + latencyNow(), lastAt);
    queue.push({ at: lastAt, chunk });
    queuedBytes += chunk?.length ?? 0;
    if (queuedBytes + target.writableLength > QUEUED_BYTES_MAX) source.pause();
    release();
  };
  const release = (): void => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (target.destroyed) return;
      if (chunk === null) target.end();
      else {
        queuedBytes -= chunk.length;
        target.write(chunk);
      }
    }
    if (source.isPaused() && queuedBytes + target.writableLength <= QUEUED_BYTES_MAX / 2) source.resume();
    // Timers may fire a little early against performance.now(): the loop above re-checks.
    if (queue.length > 0 && timer === null) timer = setTimeout(release, Math.max(1, Math.ceil(queue[0]!.at - now)));
  };
  source.on("data", (chunk: Buffer) => hold(chunk));
  source.on("end", () => hold(null));
  target.on("drain", () => {
    if (source.isPaused() && queuedBytes + target.writableLength <= QUEUED_BYTES_MAX / 2) source.resume();
  });
  source.once("close", () => {
    if (timer !== null) clearTimeout(timer);
  });
}

interface Endpoints {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
}

function serve(endpoints: Endpoints, latencyNow: () => number): Server {
  const { listenHost, listenPort, targetHost, targetPort } = endpoints;
  return createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // A reset or an error on either side resets the other: the proxy hides no failure. Clean
    // half-closes travel in order through the delay, and each socket closes itself once both of
    // its directions have ended.
    const fail = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      let ended = false;
      socket.on("end", () => (ended = true));
      socket.on("error", fail);
      socket.on("close", () => {
        if (!ended) fail();
      });
    }
    delayedPipe(client, upstream, latencyNow);
    delayedPipe(upstream, client, latencyNow);
  }).listen(listenPort, listenHost);
}

function checkedLatency(delayMs: unknown, jitterMs: unknown): Latency {
  const valid = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= DELAY_MS_MAX;
  if (!valid(delayMs) || !valid(jitterMs)) {
    const got = `${String(delayMs)}, ${String(jitterMs)}`;
    throw new Error(`delayMs and jitterMs must be numbers in [0, ${DELAY_MS_MAX}], got ${got}`);
  }
  return { delayMs, jitterMs };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      "listen-host": { type: "string", default: "0.0.0.0" },
      "listen-port": { type: "string" },
      "target-host": { type: "string", default: "127.0.0.1" },
      "target-port": { type: "string" },
      "delay-ms": { type: "string", default: "0" },
      "jitter-ms": { type: "string", default: "0" },
      seed: { type: "string", default: "1" },
    },
  });
  const listenPort = Number(values["listen-port"]);
  const targetPort = Number(values["target-port"]);
  if (!Number.isInteger(listenPort) || !Number.isInteger(targetPort)) {
    throw new Error("--listen-port and --target-port are required");
  }
  const latency = checkedLatency(Number(values["delay-ms"]), Number(values["jitter-ms"]));
  const prng = createPrng(Number(values.seed));
  const latencyNow = (): number => latency.delayMs + (latency.jitterMs === 0 ? 0 : prng.next() * latency.jitterMs);
  const endpoints = { listenHost: values["listen-host"]!, listenPort, targetHost: values["target-host"]!, targetPort };
  const server = serve(endpoints, latencyNow);
  server.on("error", (error) => {
    process.stderr.write(`delay proxy: cannot listen on ${values["listen-host"]}:${listenPort}: ${error.message}\n`);
    process.exit(2);
  });
  server.on("listening", () => process.stdout.write(`${JSON.stringify({ ready: true, port: listenPort })}\n`));
  const control = createInterface({ input: process.stdin });
  control.on("line", (line) => {
    let id: unknown = null;
    try {
      const request = JSON.parse(line) as { id?: unknown; delayMs?: unknown; jitterMs?: unknown };
      id = request.id ?? null;
      Object.assign(latency, checkedLatency(request.delayMs, request.jitterMs ?? 0));
      process.stdout.write(`${JSON.stringify({ ack: id, ...latency })}\n`);
    } catch (error: unknown) {
      process.stdout.write(`${JSON.stringify({ ack: id, error: String(error) })}\n`);
    }
  });
  control.on("close", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}

main();
