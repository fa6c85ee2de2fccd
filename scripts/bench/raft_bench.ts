/**
 * npm run bench:raft — the Raft benchmark of issue 2. Three node processes on 127.0.0.1 with
 * durable storage (fsync on), a separate load process proposing 256-byte entries to the leader
 * over the network with 1, 16 and 128 concurrent proposers for 10 s each; then the idle cost of
 * each process; then the time from SIGKILL of the leader to the first commit on a new leader
 * (10 rounds) and, for comparison, from SIGSTOP (a frozen leader whose connections stay open, so
 * only the election timeout reveals it). Prints what it measured; the last line is
 *   bench:raft commits_per_s_128=<n> p99_ms_128=<n> p50_ms_1=<n> election_ms_median=<n>
 * Options: --seconds S (per load level, default 10), --rounds N (kill rounds, default 10).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { processUsage } from "./proc_usage.js";
import { connect, EXT, findLeader, freePort, HERE, NODE_ARGS, type RunningNode, sleep, startNode } from "./raft_bench_cluster.js";
import { KIND_PROPOSE, type NodeSpec, percentile } from "./raft_bench_protocol.js";

const TOTAL_TIMEOUT_MS = 10 * 60_000;
const IDLE_SECONDS = 20;

function runLoad(port: number, concurrency: number, seconds: number): Promise<{ commits: number; errors: number; seconds: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const spec = { url: `ws://127.0.0.1:${port}`, concurrency, durationMs: seconds * 1000, payloadBytes: 256 };
  const child = spawn(process.execPath, [...NODE_ARGS, join(HERE, `raft_load${EXT}`), JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load process exited with ${code}`))));
  });
}


/**
 * Sends a proposal to every listed node every 5 ms (without waiting for earlier ones: a proposal
 * forwarded to the dead leader is lost and would only time out) until one commits; returns the
 * milliseconds from `sinceNs` to that first commit.
 */
async function firstCommit(nodes: readonly RunningNode[], sinceNs: bigint, timeoutMs: number): Promise<number> {
  const payload = new Uint8Array(256);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (result: number | Error): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const timer = setInterval(() => {
      for (const node of nodes) {
        void node.client!.request(KIND_PROPOSE, payload, timeoutMs).then((r) => {
          if (r.ok) finish(Number(process.hrtime.bigint() - sinceNs) / 1e6);
        });
      }
    }, 5);
    const deadline = setTimeout(() => finish(new Error("no commit after the leader was stopped")), timeoutMs);
  });
}

async function electionRound(nodes: RunningNode[], signal: "SIGKILL" | "SIGSTOP"): Promise<number> {
  const leader = await findLeader(nodes);
  const survivors = nodes.filter((n) => n !== leader);
  await sleep(300);
  const killedAt = process.hrtime.bigint();
  leader.process.kill(signal);
  const ms = await firstCommit(survivors, killedAt, 15_000);
  if (signal === "SIGKILL") {
    await new Promise((resolve) => (leader.process.exitCode !== null || leader.process.signalCode !== null ? resolve(null) : leader.process.once("exit", resolve)));
    leader.process = await startNode(leader.spec);
    await connect(leader);
  } else {
    leader.process.kill("SIGCONT");
  }
  await findLeader(nodes);
  await sleep(1500);
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, rounds: { type: "string", default: "10" } } });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const root = mkdtempSync(join(tmpdir(), "raft-bench-"));
  const nodes: RunningNode[] = [];
  const guard = setTimeout(() => {
    process.stderr.write("bench:raft took too long; stopping\n");
    for (const n of nodes) n.process.kill("SIGKILL");
    process.exit(2);
  }, TOTAL_TIMEOUT_MS);
  try {
    const ids = ["n1", "n2", "n3"];
    const ports = await Promise.all(ids.map(async () => ({ raft: await freePort(), client: await freePort() })));
    const members = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]!.raft}` }));
    for (const [i, id] of ids.entries()) {
      const spec: NodeSpec = { id, dir: join(root, id), raftPort: ports[i]!.raft, clientPort: ports[i]!.client, members, heartbeatMs: 100, electionTimeoutMs: 1000 };
      nodes.push({ spec, process: await startNode(spec), client: null });
    }
    for (const n of nodes) await connect(n);
    let leader = await findLeader(nodes);
    console.log(`bench:raft 3 nodes on 127.0.0.1, fsync on, heartbeat 100 ms, election timeout 1000 ms; leader ${leader.spec.id}`);

    await sleep(3000);
    const before = nodes.map((n) => processUsage(n.process.pid!));
    await sleep(IDLE_SECONDS * 1000);
    const idle = nodes.map((n, i) => {
      const after = processUsage(n.process.pid!);
      return `${n.spec.id} cpu=${(((after.cpuSeconds - before[i]!.cpuSeconds) / IDLE_SECONDS) * 100).toFixed(2)}% rss=${after.rssMb.toFixed(1)}MB`;
    });
    console.log(`idle ${IDLE_SECONDS} s (cpu of all threads, from schedstat): ${idle.join(", ")}`);

    const results = new Map<number, { commitsPerS: number; p50Ms: number; p99Ms: number }>();
    for (const concurrency of [1, 16, 128]) {
      leader = await findLeader(nodes);
      const s0 = (await leader.client!.status())!;
      const load = await runLoad(leader.spec.clientPort, concurrency, seconds);
      const s1 = (await leader.client!.status())!;
      const commitsPerS = load.commits / load.seconds;
      const perFsync = (s1.entriesWritten - s0.entriesWritten) / Math.max(1, s1.writes - s0.writes);
      results.set(concurrency, { commitsPerS, p50Ms: load.p50Ms, p99Ms: load.p99Ms });
      console.log(`proposers=${concurrency} commits/s=${commitsPerS.toFixed(0)} p50_ms=${load.p50Ms.toFixed(2)} p99_ms=${load.p99Ms.toFixed(2)} max_ms=${load.maxMs.toFixed(1)} errors=${load.errors} entries_per_fsync_leader=${perFsync.toFixed(1)}`);
      await sleep(1000);
    }
    const usage = nodes.map((n) => `${n.spec.id} rss=${processUsage(n.process.pid!).rssMb.toFixed(1)}MB`);
    console.log(`after load: ${usage.join(", ")}`);

    const kills: number[] = [];
    for (let round = 0; round < rounds; round++) kills.push(await electionRound(nodes, "SIGKILL"));
    kills.sort((a, b) => a - b);
    console.log(`leader SIGKILL -> first commit on a new leader (ms): ${kills.map((ms) => ms.toFixed(0)).join(" ")}; median ${percentile(kills, 50).toFixed(0)}`);
    const stops: number[] = [];
    for (let round = 0; round < Math.min(5, rounds); round++) stops.push(await electionRound(nodes, "SIGSTOP"));
    stops.sort((a, b) => a - b);
    console.log(`leader SIGSTOP (frozen, connections open) -> first commit on a new leader (ms): ${stops.map((ms) => ms.toFixed(0)).join(" ")}; median ${percentile(stops, 50).toFixed(0)}`);

    const r128 = results.get(128)!;
    const r1 = results.get(1)!;
    console.log(`bench:raft commits_per_s_128=${r128.commitsPerS.toFixed(0)} p99_ms_128=${r128.p99Ms.toFixed(2)} p50_ms_1=${r1.p50Ms.toFixed(2)} election_ms_median=${percentile(kills, 50).toFixed(0)}`);
  } finally {
    clearTimeout(guard);
    for (const n of nodes) {
      n.client?.close();
      if (n.process.exitCode === null && n.process.signalCode === null) {
        n.process.kill("SIGCONT");
        n.process.kill("SIGKILL");
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:raft failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
