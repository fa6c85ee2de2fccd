/**
 * One DCS node process for the DCS benchmark (dcs_bench.ts): startDcsNode with durable storage
 * (fsync on) and the real transport, started with a JSON DcsNodeSpec as its only argument. Two
 * modes:
 * - serve: a WebSocket endpoint for the load process, in the Raft benchmark's framing
 *   (raft_bench_protocol.ts). A propose request carries an encoded DCS command; the answer comes
 *   once the command is applied at this node: ok with f64 log index and f64 lease generation (0
 *   when the command did not touch the lease), or not ok with "rejected:<code>" (the DCS refused
 *   it) or "unavailable:<code>" (the log could not carry it). Prints one JSON line when ready.
 * - restart: the data directory holds a filled node; times startDcsNode until the state machine
 *   has applied up to `restart.appliedIndex`, checks the restored config, stops, prints one JSON
 *   line and exits.
 * Either way it logs warnings only, to stderr, and exits when its stdin closes (its parent died).
 */
import { fileURLToPath } from "node:url";
import { either as E } from "fp-ts";
import { jsonLogger } from "../../src/lib/json_logger.js";
import { type DcsNode, type DcsNodeOptions, startDcsNode } from "../../src/agent/dcs_node.js";
import type { Decision } from "../../src/dcs/decide.js";
import { DEFAULT_LIMITS, type Scope } from "../../src/dcs/model.js";
import type { Logger } from "../../src/lib/logger.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { serveBenchProtocol } from "./bench_server.js";
import type { NodeSpec } from "./raft_bench_protocol.js";

/** What a restart must find again: the DCS state of the node when it was stopped. */
export interface RestartExpectation {
  readonly appliedIndex: number;
  readonly scope: string;
  readonly configVersion: number;
  readonly historyLength: number;
  readonly timeoutMs: number;
}

export interface DcsNodeSpec extends NodeSpec {
  readonly snapshotEveryEntries: number;
  /** RaftNodeOptions.snapshotBytesPerEntry (default: the runtime's). */
  readonly snapshotBytesPerEntry?: number;
  readonly historyMax: number;
  /** Set for a restart probe; null for a serving node. */
  readonly restart: RestartExpectation | null;
}

export interface RestartResult {
  /** From the call of startDcsNode until it resolved (stored snapshot restored, node running). */
  readonly startedMs: number;
  /** From the call of startDcsNode until the state machine applied the whole stored log. */
  readonly restoredMs: number;
  readonly snapshotIndex: number;
  readonly appliedIndex: number;
  readonly configVersion: number;
  readonly historyLength: number;
}

export function nodeOptions(spec: DcsNodeSpec, logger: Logger): DcsNodeOptions {
  const members: ConfMember[] = spec.members.map((m) => ({ id: nodeId(m.id), role: "voter", address: m.address }));
  return {
    nodeId: nodeId(spec.id),
    clusterId: "dcs-bench",
    secret: "dcs-bench-secret",
    dataDir: spec.dir,
    listenHost: "127.0.0.1",
    listenPort: spec.raftPort,
    initialMembers: members,
    heartbeatMs: spec.heartbeatMs,
    electionTimeoutMs: spec.electionTimeoutMs,
    snapshotEveryEntries: spec.snapshotEveryEntries,
    ...(spec.snapshotBytesPerEntry === undefined ? {} : { snapshotBytesPerEntry: spec.snapshotBytesPerEntry }),
    limits: { ...DEFAULT_LIMITS, historyMax: spec.historyMax },
    logger,
    onFatal: (error) => {
      process.stderr.write(`fatal: ${error.message}\n`);
      process.exit(1);
    },
  };
}

function answer(decision: Decision, index: number): { ok: boolean; body: Buffer } {
  if (E.isLeft(decision)) return { ok: false, body: Buffer.from(`rejected:${decision.left.code}`) };
  let generation = 0;
  for (const event of decision.right) {
    if (event.kind === "leaseAcquired" || event.kind === "leaseRenewed") generation = event.generation;
  }
  const body = Buffer.allocUnsafe(16);
  body.writeDoubleLE(index, 0);
  body.writeDoubleLE(generation, 8);
  return { ok: true, body };
}

function serve(spec: DcsNodeSpec, dcs: DcsNode): Promise<void> {
  return serveBenchProtocol(spec.id, spec.clientPort, {
    propose: (payload) => dcs.raft.propose(payload).then(
      (proposed) => answer(proposed.result, proposed.index),
      (error: { code?: string }) => ({ ok: false, body: Buffer.from(`unavailable:${error.code ?? "error"}`) }),
    ),
    status: () => dcs.raft.status(),
    stop: () => dcs.raft.stop(),
  });
}

/** Resolves once the state machine has applied `index` (checked after every applied batch). */
function appliedUpTo(dcs: DcsNode, index: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (dcs.machine.state.appliedIndex >= index) return resolve();
    const timer = setTimeout(() => reject(new Error(`the restarted node applied only ${dcs.machine.state.appliedIndex} of ${index} in ${timeoutMs} ms`)), timeoutMs);
    const stop = dcs.raft.onApplied(() => {
      if (dcs.machine.state.appliedIndex < index) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

async function restart(spec: DcsNodeSpec, expect: RestartExpectation, logger: Logger): Promise<void> {
  const t0 = performance.now();
  const started = await startDcsNode(nodeOptions(spec, logger));
  if (E.isLeft(started)) throw new Error(`restart failed: ${started.left.message}`);
  const startedMs = performance.now() - t0;
  const dcs = started.right;
  await appliedUpTo(dcs, expect.appliedIndex, expect.timeoutMs);
  const restoredMs = performance.now() - t0;
  const scope = dcs.machine.state.scopes.get(expect.scope as Scope);
  const result: RestartResult = {
    startedMs,
    restoredMs,
    snapshotIndex: dcs.raft.status().snapshotIndex,
    appliedIndex: dcs.machine.state.appliedIndex,
    configVersion: scope?.config.version ?? -1,
    historyLength: scope?.configHistory.length ?? -1,
  };
  await dcs.raft.stop();
  if (result.configVersion !== expect.configVersion || result.historyLength !== expect.historyLength) {
    throw new Error(`restored config version ${result.configVersion} with ${result.historyLength} history entries; expected ${expect.configVersion} with ${expect.historyLength}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as DcsNodeSpec;
  const logger = jsonLogger({ write: (line) => void process.stderr.write(line), now: Date.now, level: "warn", base: { node: spec.id } });
  // The parent holds our stdin: when it goes away (even by SIGKILL), so do we.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  if (spec.restart !== null) return restart(spec, spec.restart, logger);
  const started = await startDcsNode(nodeOptions(spec, logger));
  if (E.isLeft(started)) throw new Error(started.left.message);
  await serve(spec, started.right);
}

// The orchestrator imports nodeOptions() from here; only a process started on this file serves.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
