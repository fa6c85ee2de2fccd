/**
 * The load process of the Raft benchmark: `concurrency` proposers, each sending one proposal of
 * `payloadBytes` to the node and the next as soon as the answer arrives, for `durationMs`.
 * Prints one JSON line: commits, errors, seconds and latency percentiles in ms.
 */
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { corkedSender } from "../../lab/sockets.js";
import { decodeResponse, encodeRequest, KIND_PROPOSE, percentile } from "./raft_bench_protocol.js";

interface LoadSpec {
  readonly url: string;
  readonly concurrency: number;
  readonly durationMs: number;
  readonly payloadBytes: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as LoadSpec;
  const socket = new WebSocket(spec.url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const payload = randomBytes(spec.payloadBytes);
  const sentAt = new Map<number, bigint>();
  const latencies: number[] = [];
  let errors = 0;
  let nextId = 1;
  let deadline = 0n;
  let active = spec.concurrency;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  // Requests produced in one turn of the event loop leave in one write.
  const write = corkedSender(socket);
  const send = (): void => {
    if (process.hrtime.bigint() >= deadline) {
      if (--active === 0) finish();
      return;
    }
    const id = nextId++;
    sentAt.set(id, process.hrtime.bigint());
    write(encodeRequest(KIND_PROPOSE, id, payload));
  };
  socket.on("message", (data: Buffer) => {
    const response = decodeResponse(data);
    const started = sentAt.get(response.id);
    if (started === undefined) return;
    sentAt.delete(response.id);
    if (response.ok) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    else errors++;
    send();
  });
  const begin = process.hrtime.bigint();
  deadline = begin + BigInt(spec.durationMs) * 1_000_000n;
  for (let i = 0; i < spec.concurrency; i++) send();
  await done;
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
  socket.close();
  latencies.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({
    commits: latencies.length,
    errors,
    seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
