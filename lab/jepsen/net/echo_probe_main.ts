/**
 * The network layer's probe, run inside a host's namespace: a TCP and UDP echo server on --port,
 * and, on stdin (one JSON object a line, a channel no network fault cuts), requests to probe
 * other addresses from inside this namespace:
 *   {"id": 1, "op": "tcp", "host": "10.200.7.12", "port": 7000, "timeoutMs": 800}
 *     connects, sends a line and waits for its echo: {"ack": 1, "ok": true, "ms": 0.4}
 *   {"id": 2, "op": "udpSend", "host": "10.200.7.12", "port": 7000, "token": "t1"}
 *     sends one datagram: {"ack": 2, "ok": true}
 *   {"id": 3, "op": "udpSeen", "token": "t1"}
 *     whether a datagram with that token arrived here: {"ack": 3, "ok": false}
 * Its first stdout line is {"ready": true, "port": <port>}; it exits when stdin closes.
 */
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const SEEN_MAX = 10_000;

interface Request {
  readonly id: number;
  readonly op: "tcp" | "udpSend" | "udpSeen";
  readonly host?: string;
  readonly port?: number;
  readonly timeoutMs?: number;
  readonly token?: string;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = "";
    const finish = (answer: Record<string, unknown>): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `no echo within ${timeoutMs} ms` }), timeoutMs);
    socket.on("connect", () => socket.write("probe\n"));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      if (received === "probe\n") finish({ ok: true, ms: performance.now() - started });
    });
    socket.on("error", (error) => finish({ ok: false, reason: error.message }));
  });
}

function main(): void {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port)) throw new Error("--port is required");
  const seen = new Set<string>();
  const udp = createSocket("udp4");
  udp.on("message", (message, from) => {
    if (seen.size >= SEEN_MAX) seen.clear();
    seen.add(message.toString());
    udp.send(message, from.port, from.address);
  });
  const tcp = createServer((socket) => {
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  let listening = 0;
  const ready = (): void => {
    if (++listening === 2) process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  };
  tcp.listen(port, "0.0.0.0", ready);
  udp.bind(port, "0.0.0.0", ready);
  const sender = createSocket("udp4");
  const answer = (id: number, body: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify({ ack: id, ...body })}\n`);
  };
  const control = createInterface({ input: process.stdin });
  control.on("line", (line) => {
    const request = JSON.parse(line) as Request;
    switch (request.op) {
      case "tcp":
        void tcpProbe(request.host!, request.port!, request.timeoutMs ?? 1000).then((body) => answer(request.id, body));
        return;
      case "udpSend":
        sender.send(request.token!, request.port!, request.host!, (error) =>
          answer(request.id, error === null ? { ok: true } : { ok: false, reason: error.message }),
        );
        return;
      case "udpSeen":
        answer(request.id, { ok: seen.has(request.token!) });
        return;
      default:
        answer((request as Request).id, { error: `unknown op ${String((request as Request).op)}` });
    }
  });
  control.on("close", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}

main();
