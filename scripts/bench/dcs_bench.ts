/**
 * npm run bench:dcs — the DCS benchmark, in three parts:
 * 1. replay: 1,000,000 pre-encoded commands of a realistic stream (300 scopes × 3 members; every
 *    second of entry time each member reports its status and each primary renews its lease)
 *    applied from empty to a fresh DcsStateMachine in this process; only the apply loop is timed;
 * 2. restart: a single-node DCS (fsync on) filled with config versions until its state holds
 *    ≥ 10 MB of history, with a Raft snapshot taken; then, three times, a child process times
 *    startDcsNode on that directory until the whole stored state is applied again;
 * 3. heartbeat load: 3 DCS node processes on 127.0.0.1 and a load process sending the steady
 *    pattern of 300 scopes × 3 members (≈ 1,200 commands/s, spread evenly) to each member's node
 *    for 20 s after a warm-up; per command the time from send to the answer (applied there).
 * 4. capacity (dcs_capacity.ts): the largest number of PostgreSQL clusters of 3 members one Raft
 *    group serves with what real agents at rest send, through a failover storm of 10 % of them
 *    within a second, with p99 apply ≤ 50 ms and no lease lost — at loop_wait 10 and 1.
 * The last line printed is
 *   bench:dcs replay_events_per_s=<n> restart_ms=<n> heartbeat_p99_ms=<n> clusters_max=<n> clusters_max_loop1=<n>
 * Options: --seconds S (heartbeat measurement, default 20), --replay-commands N (default 10^6),
 * --only replay|restart|heartbeat|capacity. DCS_BENCH_NODE_ARGS passes node options (e.g. --cpu-prof) to
 * the node processes, the restart probes included.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { processUsage } from "./proc_usage.js";
import { either as E } from "fp-ts";
import { jsonLogger } from "../../src/lib/json_logger.js";
import { type DcsNode, startDcsNode } from "../../src/agent/dcs_node.js";
import { encodeCommand } from "../../src/dcs/commands.js";
import { canonicalJson } from "../../src/dcs/json.js";
import type { MemberName, Scope } from "../../src/dcs/model.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import type { Logger } from "../../src/lib/logger.js";
import type { DcsNodeSpec, RestartResult } from "./dcs_bench_node.js";
import { nodeOptions } from "./dcs_bench_node.js";
import type { DcsLoadResult, DcsLoadSpec } from "./dcs_load.js";
import { commandsPerSecond, configPatch, memberStatus, type Planned, setupCommands, steadySecond, type Topology } from "./dcs_bench_workload.js";
import { connect, findLeader, freePort, type RunningNode, sleep } from "./raft_bench_cluster.js";
import { percentile } from "./raft_bench_protocol.js";
import { capacity } from "./dcs_capacity.js";
import { abort, bounded, killChildren, nodeArgs, readLines, removeTempDir, removeTempDirs, spawnScript, startNode, tempDir } from "./dcs_bench_processes.js";

const TOTAL_TIMEOUT_MS = 50 * 60_000;
const CAPACITY_TIMEOUT_MS = 20 * 60_000;
const REPLAY_TIMEOUT_MS = 5 * 60_000;
const RESTART_TIMEOUT_MS = 5 * 60_000;
const HEARTBEAT_TIMEOUT_MS = 4 * 60_000;
const TOPOLOGY: Topology = { scopes: 300, membersPerScope: 3, nodes: 3 };
const HISTORY_BYTES_MIN = 10 * 1024 * 1024;
const RESTARTS = 3;
const FILL_CONCURRENCY = 32;
const CONFIG_KEYS = 16;
const CONFIG_VALUE_BYTES = 8192;
const WARMUP_SECONDS = 5;
const START_MS = 1_700_000_000_000;

/** Busy and total CPU time of the whole machine (jiffies of all CPUs, from /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((sum, f) => sum + f, 0);
  return { busy: total - idle, total };
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

// ---- 1. replay ------------------------------------------------------------------------------

/**
 * The encoded commands packed end to end in one buffer (as a storage engine hands them out), so
 * a million payloads are not a million long-lived objects for the garbage collector to trace.
 */
interface ReplayStream {
  readonly bytes: Buffer;
  /** Command i is bytes[offsets[i], offsets[i + 1]). */
  readonly offsets: Uint32Array;
  readonly timesMs: Float64Array;
  /** 1 where the command is a lease renewal. */
  readonly renewals: Uint8Array;
}

/** The bootstrap of every scope, then steady seconds, until `total` commands; all encoded. */
function replayStream(total: number): ReplayStream {
  // A Buffer, as the Raft node hands payloads to apply() (borsh decodes strings faster from one).
  let bytes = Buffer.allocUnsafe(64 * 1024 * 1024);
  const offsets = new Uint32Array(total + 1);
  const timesMs = new Float64Array(total);
  const renewals = new Uint8Array(total);
  let count = 0;
  const push = (planned: Planned, timeMs: number): void => {
    const payload = encodeCommand(planned);
    const at = offsets[count]!;
    if (at + payload.length > bytes.length) {
      const grown = Buffer.allocUnsafe(bytes.length * 2);
      bytes.copy(grown);
      bytes = grown;
    }
    bytes.set(payload, at);
    timesMs[count] = timeMs;
    if (planned.command.kind === "renewLease") renewals[count] = 1;
    offsets[++count] = at + payload.length;
  };
  for (const planned of setupCommands(TOPOLOGY)) if (count < total) push(planned, START_MS);
  // A fresh machine grants every scope's first lease with generation 1.
  const generations = Array.from({ length: TOPOLOGY.scopes }, () => 1);
  const perSecond = commandsPerSecond(TOPOLOGY);
  for (let second = 1; count < total; second++) {
    const planned = steadySecond(TOPOLOGY, second, generations);
    for (let k = 0; k < perSecond && count < total; k++) push(planned[k]!, START_MS + second * 1000 + Math.floor((k * 1000) / perSecond));
  }
  return { bytes, offsets, timesMs, renewals };
}

function replay(total: number): { eventsPerS: number } {
  const encodeStart = performance.now();
  const stream = replayStream(total);
  const encodeMs = performance.now() - encodeStart;
  const bytes = stream.offsets[total]!;
  const machine = new DcsStateMachine();
  const deadline = performance.now() + REPLAY_TIMEOUT_MS;
  let events = 0;
  let rejected = 0;
  let firstRejection = "";
  let renewalsAccepted = 0;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const payload = stream.bytes.subarray(stream.offsets[i]!, stream.offsets[i + 1]!);
    const decision = machine.apply(payload, { index: i + 1, term: 1, timeMs: stream.timesMs[i]! });
    if (E.isRight(decision)) {
      events += decision.right.length;
      renewalsAccepted += stream.renewals[i]!;
    } else if (rejected++ === 0) {
      firstRejection = `${decision.left.code}: ${decision.left.message}`;
    }
    if ((i & 0xffff) === 0 && performance.now() > deadline) abort(`replay took longer than ${REPLAY_TIMEOUT_MS / 1000} s`);
  }
  const seconds = (performance.now() - start) / 1000;
  const renewals = stream.renewals.reduce((sum, r) => sum + r, 0);
  const lastSecond = (machine.state.nowMs - START_MS) / 1000;
  console.log(`replay (in-process, fresh DcsStateMachine): ${total} commands (${mb(bytes)} MB encoded in ${(encodeMs / 1000).toFixed(1)} s, not timed) over ${lastSecond} s of entry time, ${TOPOLOGY.scopes} scopes × ${TOPOLOGY.membersPerScope} members`);
  console.log(`replay: ${events} events in ${seconds.toFixed(2)} s: commands/s=${(total / seconds).toFixed(0)} events/s=${(events / seconds).toFixed(0)}; rejected=${rejected}${firstRejection === "" ? "" : ` (first: ${firstRejection})`}; lease renewals accepted ${renewalsAccepted}/${renewals} (${renewalsAccepted === renewals ? "all" : "NOT ALL"}); final snapshot ${mb(machine.snapshot().length)} MB; heap ${mb(process.memoryUsage().heapUsed)} MB`);
  if (rejected > 0) throw new Error(`the replay stream is wrong: ${rejected} commands were rejected`);
  return { eventsPerS: events / seconds };
}

// ---- 2. restart -----------------------------------------------------------------------------

const BIG_SCOPE = "pg-cluster-config" as Scope;

function historyBytes(dcs: DcsNode): number {
  const history = dcs.machine.state.scopes.get(BIG_SCOPE)?.configHistory ?? [];
  return history.reduce((sum, h) => sum + canonicalJson(h.patch).length, 0);
}

/** Config versions, FILL_CONCURRENCY at a time, until the history holds HISTORY_BYTES_MIN. */
async function fill(dcs: DcsNode): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (dcs.raft.status().role !== "leader") {
    if (Date.now() > deadline) throw new Error("the single node did not become leader");
    await sleep(20);
  }
  let version = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    while (bytes < HISTORY_BYTES_MIN) {
      const executed = await dcs.client.execute(BIG_SCOPE, configPatch(++version, CONFIG_KEYS, CONFIG_VALUE_BYTES), { author: "api:bench" });
      if (E.isLeft(executed)) throw new Error(`filling the config history: ${executed.left.message}`);
      for (const event of executed.right.events) if (event.kind === "configChanged") bytes += canonicalJson(event.patch).length;
    }
  };
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, worker));
}

/**
 * Small commands, one at a time, until a Raft snapshot holds the last DCS command: the stored
 * state is then exactly the snapshot. (Entries after the snapshot would be applied only once
 * committed again, and the persisted commit index of a lone node trails its last write: they
 * would wait for its election, which measures the election timeout, not the restore.)
 */
async function alignSnapshot(dcs: DcsNode, snapshotEveryEntries: number): Promise<void> {
  const member = `${BIG_SCOPE}-pg1` as MemberName;
  for (let second = 0; dcs.raft.status().snapshotIndex < dcs.machine.state.appliedIndex; second++) {
    if (second > 4 * snapshotEveryEntries) throw new Error("no Raft snapshot was taken");
    const status = { ...memberStatus(0, 0, second), name: member };
    const executed = await dcs.client.execute(BIG_SCOPE, { kind: "upsertMember", status }, { author: member });
    if (E.isLeft(executed)) throw new Error(`aligning the snapshot: ${executed.left.message}`);
    // The node snapshots once the batch that crossed the threshold is durable: wait for it.
    const before = dcs.raft.status();
    if (before.applied - before.snapshotIndex < snapshotEveryEntries) continue;
    for (let waited = 0; dcs.raft.status().snapshotIndex === before.snapshotIndex && waited < 5000; waited += 5) await sleep(5);
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    total += stat.isDirectory() ? dirBytes(path) : stat.size;
  }
  return total;
}

async function restartOnce(spec: DcsNodeSpec): Promise<RestartResult & { processMs: number }> {
  const began = performance.now();
  const child = spawnScript("dcs_bench_node", spec, nodeArgs());
  let result: RestartResult | null = null;
  const code = await readLines(child, (line) => (result = JSON.parse(line) as RestartResult));
  if (code !== 0 || result === null) throw new Error(`the restart probe exited with ${code}`);
  return { ...(result as RestartResult), processMs: performance.now() - began };
}

async function restart(logger: Logger): Promise<{ restartMs: number }> {
  const root = tempDir("dcs-bench-restart-");
  const raftPort = await freePort();
  const spec: DcsNodeSpec = {
    id: "r1", dir: join(root, "r1"), raftPort, clientPort: 0, members: [{ id: "r1", address: `127.0.0.1:${raftPort}` }],
    heartbeatMs: 100, electionTimeoutMs: 1000, snapshotEveryEntries: 256, historyMax: 4096, restart: null,
    // Every 256 entries whatever the state's size (the runtime spaces a large state's snapshots
    // by its bytes, issue 13), so that the snapshot can be aligned with the last entry: this
    // measures the restore of a large snapshot, not the replay of the entries after it.
    snapshotBytesPerEntry: Number.MAX_SAFE_INTEGER,
  };
  const started = await startDcsNode(nodeOptions(spec, logger));
  if (E.isLeft(started)) throw new Error(started.left.message);
  const dcs = started.right;
  const fillStart = performance.now();
  try {
    await fill(dcs);
    await alignSnapshot(dcs, spec.snapshotEveryEntries);
  } finally {
    await dcs.raft.stop();
  }
  const fillMs = performance.now() - fillStart;
  const scope = dcs.machine.state.scopes.get(BIG_SCOPE)!;
  const status = dcs.raft.status();
  const expect = { appliedIndex: dcs.machine.state.appliedIndex, scope: BIG_SCOPE, configVersion: scope.config.version, historyLength: scope.configHistory.length, timeoutMs: 60_000 };
  console.log(`restart: filled a single node (fsync on, snapshot every ${spec.snapshotEveryEntries} entries whatever the state's size, historyMax ${spec.historyMax}) in ${(fillMs / 1000).toFixed(1)} s: config version ${expect.configVersion}, ${expect.historyLength} history entries holding ${mb(historyBytes(dcs))} MB of patches, config ${mb(canonicalJson(scope.config.value).length)} MB; state snapshot (machine.snapshot().length) ${mb(dcs.machine.snapshot().length)} MB; Raft snapshot at index ${status.snapshotIndex} of ${status.applied} applied (${status.applied - status.snapshotIndex} entries after it); data dir ${mb(dirBytes(spec.dir))} MB`);
  if (status.snapshotIndex === 0) throw new Error("no Raft snapshot was taken");
  const runs: (RestartResult & { processMs: number })[] = [];
  for (let i = 0; i < RESTARTS; i++) runs.push(await restartOnce({ ...spec, restart: expect }));
  for (const run of runs) {
    if (run.appliedIndex < expect.appliedIndex) throw new Error(`restart restored only up to ${run.appliedIndex}`);
  }
  const restored = runs.map((r) => r.restoredMs).sort((a, b) => a - b);
  const restartMs = percentile(restored, 50);
  console.log(`restart (a child process per restart; timed inside it from the call of startDcsNode until the DCS applied index ${expect.appliedIndex} again, config version ${expect.configVersion} and ${expect.historyLength} history entries verified): ${runs.map((r) => `${r.restoredMs.toFixed(0)} ms (startDcsNode resolved at ${r.startedMs.toFixed(0)} ms, snapshot index ${r.snapshotIndex}; whole process ${r.processMs.toFixed(0)} ms)`).join(", ")}; median ${restartMs.toFixed(0)} ms`);
  removeTempDir(root);
  return { restartMs };
}

// ---- 3. heartbeat load ----------------------------------------------------------------------

interface Usage {
  readonly name: string;
  readonly pid: number;
}

function usageLine(processes: readonly Usage[], before: readonly { cpuSeconds: number }[], seconds: number): string {
  return processes.map((p, i) => {
    const after = processUsage(p.pid);
    return `${p.name} cpu=${(((after.cpuSeconds - before[i]!.cpuSeconds) / seconds) * 100).toFixed(1)}% rss=${after.rssMb.toFixed(1)}MB`;
  }).join(", ");
}

async function heartbeat(seconds: number): Promise<{ p99Ms: number }> {
  const root = tempDir("dcs-bench-load-");
  const nodes: RunningNode[] = [];
  try {
    const ids = ["n1", "n2", "n3"];
    const ports = await Promise.all(ids.map(async () => ({ raft: await freePort(), client: await freePort() })));
    const members = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]!.raft}` }));
    for (const [i, id] of ids.entries()) {
      const spec: DcsNodeSpec = { id, dir: join(root, id), raftPort: ports[i]!.raft, clientPort: ports[i]!.client, members, heartbeatMs: 250, electionTimeoutMs: 1000, snapshotEveryEntries: 10_000, historyMax: 1000, restart: null };
      nodes.push({ spec, process: await startNode(spec), client: null });
    }
    for (const n of nodes) await connect(n);
    const leader = await findLeader(nodes);
    const before = await Promise.all(nodes.map((n) => n.client!.status()));
    const spec: DcsLoadSpec = {
      urls: nodes.map((n) => `ws://127.0.0.1:${n.spec.clientPort}`),
      scopes: TOPOLOGY.scopes, membersPerScope: TOPOLOGY.membersPerScope, warmupSeconds: WARMUP_SECONDS, measureSeconds: seconds,
      deadlineMs: HEARTBEAT_TIMEOUT_MS,
    };
    const load = spawnScript("dcs_load", spec);
    const watched: Usage[] = [...nodes.map((n) => ({ name: `${n.spec.id}${n === leader ? " (Raft leader)" : ""}`, pid: n.process.pid! })), { name: "load", pid: load.pid! }];
    let usageBefore: { cpuSeconds: number }[] = [];
    let machineBefore = machineCpu();
    let measureStart = 0;
    let usage = "";
    let result: DcsLoadResult | null = null;
    const code = await readLines(load, (line) => {
      const message = JSON.parse(line) as { phase?: string };
      if (message.phase === "measure") {
        measureStart = performance.now();
        usageBefore = watched.map((p) => processUsage(p.pid));
        machineBefore = machineCpu();
      } else if (message.phase === "measured") {
        const machine = machineCpu();
        const busy = ((machine.busy - machineBefore.busy) / Math.max(1, machine.total - machineBefore.total)) * 100;
        usage = `${usageLine(watched, usageBefore, (performance.now() - measureStart) / 1000)}; whole machine ${busy.toFixed(0)}% busy of ${cpus().length} CPUs`;
      } else {
        result = message as DcsLoadResult;
        load.stdin!.end();
      }
    });
    if (code !== 0 || result === null) throw new Error(`the load process exited with ${code}`);
    const r: DcsLoadResult = result;
    const after = await Promise.all(nodes.map((n) => n.client!.status()));
    const perFsync = nodes.map((n, i) => `${n.spec.id} ${((after[i]!.entriesWritten - before[i]!.entriesWritten) / Math.max(1, after[i]!.writes - before[i]!.writes)).toFixed(1)}`);
    const rejections = Object.values(r.rejected).reduce((sum, c) => sum + c, 0);
    console.log(`heartbeat load: 3 DCS node processes on 127.0.0.1 (fsync on, heartbeat 250 ms, election timeout 1000 ms, Raft leader ${leader.spec.id}), ${TOPOLOGY.scopes} scopes × ${TOPOLOGY.membersPerScope} members spread over the nodes, ${commandsPerSecond(TOPOLOGY)} commands/s scheduled evenly; bootstrap of the scopes ${(r.setupMs / 1000).toFixed(1)} s, then ${WARMUP_SECONDS} s warm-up (problems: ${r.warmupProblems})`);
    console.log(`heartbeat load: measured ${r.seconds.toFixed(1)} s: sent=${r.sent} accepted=${r.accepted} commands/s=${(r.accepted / r.seconds).toFixed(0)} rejections=${rejections} ${JSON.stringify(r.rejected)} unavailable=${JSON.stringify(r.unavailable)} unanswered=${r.unanswered}; send→applied-at-that-node p50_ms=${r.p50Ms.toFixed(2)} p99_ms=${r.p99Ms.toFixed(2)} max_ms=${r.maxMs.toFixed(1)}; p99 by node ${r.p99MsByNode.map((p, i) => `${ids[i]}=${p.toFixed(1)}`).join(" ")}; ${r.over50Ms} over 50 ms, worst 100 ms windows (s into the measurement: max ms) ${r.worstWindows.map((w) => `${w.atS.toFixed(1)}:${w.maxMs.toFixed(0)}`).join(" ")}; sends behind schedule by at most ${r.sendLagMaxMs.toFixed(1)} ms; entries per fsync ${perFsync.join(", ")}`);
    console.log(`during the measurement (cpu of all threads from schedstat, rss at its end): ${usage}`);
    return { p99Ms: r.p99Ms };
  } finally {
    for (const n of nodes) n.client?.close();
    killChildren();
    removeTempDir(root);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "20" }, "replay-commands": { type: "string", default: "1000000" }, only: { type: "string" } } });
  const only = values.only;
  const guard = setTimeout(() => abort(`took longer than ${TOTAL_TIMEOUT_MS / 60_000} min`), TOTAL_TIMEOUT_MS);
  const logger = jsonLogger({ write: (line) => void process.stderr.write(line), now: Date.now, level: "warn", base: { node: "r1" } });
  try {
    const run = (part: string): boolean => only === undefined || only === part;
    const replayed = run("replay") ? replay(Number(values["replay-commands"])) : { eventsPerS: NaN };
    const restarted = run("restart") ? await bounded("restart", RESTART_TIMEOUT_MS, () => restart(logger)) : { restartMs: NaN };
    const loaded = run("heartbeat") ? await bounded("heartbeat load", HEARTBEAT_TIMEOUT_MS, () => heartbeat(Number(values.seconds))) : { p99Ms: NaN };
    const say = (line: string): void => console.log(line);
    // Patroni's loop_wait first (10 s, ttl 30 s), then raftgres's default (1 s, ttl 5 s).
    const clustersMax = run("capacity") ? await bounded("capacity at loop_wait 10", CAPACITY_TIMEOUT_MS, () => capacity({ loopWaitS: 10, ttlS: 30 }, say)) : NaN;
    const clustersMaxLoop1 = run("capacity") ? await bounded("capacity at loop_wait 1", CAPACITY_TIMEOUT_MS, () => capacity({ loopWaitS: 1, ttlS: 5 }, say)) : NaN;
    console.log(`bench:dcs replay_events_per_s=${replayed.eventsPerS.toFixed(0)} restart_ms=${restarted.restartMs.toFixed(0)} heartbeat_p99_ms=${loaded.p99Ms.toFixed(2)} clusters_max=${clustersMax} clusters_max_loop1=${clustersMaxLoop1}`);
  } finally {
    clearTimeout(guard);
    killChildren();
    removeTempDirs();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:dcs failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  killChildren();
  removeTempDirs();
  process.exit(1);
});
