/**
 * A fuzzer for the Raft layer as a peer or a client sees it: a real three-node group whose state
 * machine is the DCS (raft_fuzz_group.ts) receives, for `timeMs`,
 *   - hostile input before the handshake: garbage instead of HTTP, random and text frames, raw
 *     bytes after the upgrade, truncated, mutated and huge-length hellos, oversized frame headers,
 *     fragments, pings, data before the upgrade's answer, a hello claiming the node's own id;
 *   - frames after a handshake the fuzzer completes (it knows the secret, as node "fuzzer"):
 *     random bytes, mutated valid frames, frames with huge borsh lengths and counts, valid frames
 *     whose messages claim another sender;
 *   - random and mutated DCS commands proposed through the group.
 * Generated Raft messages come from a third node id, so whatever decodes is dropped by the
 * transport: Raft does not tolerate Byzantine members, and a node that knows the secret could
 * otherwise inject entries (that is the simulator's business, not a fuzzer's).
 *
 * Afterwards every node must be up (no onFatal), a proposal must commit, and the three state
 * machines must be identical (snapshot() bytes at the same applied index). A crash is an
 * uncaught exception or unhandled rejection in this process, an onFatal, a state machine that
 * threw (RaftNode logs it and answers applyFailed), divergence, or a group that no longer commits.
 * Inputs follow from the seed (each worker forks the PRNG); how many run depends on timing.
 */
import { either as E } from "fp-ts";
import { assert } from "../../src/lib/assert.js";
import { createPrng, type Prng } from "../../src/lib/prng.js";
import { RaftNodeFailure } from "../../src/raft/runtime/raft_node_types.js";
import { TokenBucket } from "../../src/raft/runtime/transport_rate_limit.js";
import { authenticateRaw, clientFrame, OPCODE, RawPeer } from "../raft/raw_websocket.js";
import { DcsGroup, FUZZ_CLUSTER_ID, FUZZ_SECRET, type FuzzNode } from "./raft_fuzz_group.js";
import { markerCommand, postAuthFrame, proposal } from "./raft_fuzz_inputs.js";
import { preAuthInput } from "./raft_fuzz_preauth.js";

export interface RaftFuzzOptions {
  readonly seed: number;
  readonly timeMs: number;
  /**
   * Go on past timeMs until this many inputs were tried (a loaded machine tries fewer per
   * second), but never past four times timeMs.
   */
  readonly inputsMin?: number;
  readonly log?: (line: string) => void;
}

export interface RaftFuzzResult {
  readonly inputs: number;
  readonly crashes: number;
  readonly detail: string[];
}

/** Connections the fuzzer opens per node per second: under the node's admission rate. */
const CONNECTIONS_PER_NODE_PER_SECOND = 12;
const FRAMES_PER_SESSION_MAX = 20;
const PROPOSAL_TIMEOUT_MS = 3000;
const SETTLE_TIMEOUT_MS = 15_000;

/** What the fuzzer did and found. */
class Findings {
  readonly counts = new Map<string, number>();
  readonly crashes: string[] = [];
  inputs = 0;

  input(category: string, kind: string): void {
    this.inputs++;
    this.bump(`${category} ${kind}`);
  }

  bump(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  crash(what: string): void {
    this.crashes.push(what);
  }
}

export async function runRaftFuzz(options: RaftFuzzOptions): Promise<RaftFuzzResult> {
  assert(Number.isSafeInteger(options.seed) && options.timeMs > 0, "runRaftFuzz needs an integer seed and a positive time");
  const log = options.log ?? (() => {});
  const findings = new Findings();
  const removeGuard = guardProcess(findings);
  const started = Date.now();
  const group = await DcsGroup.start();
  try {
    const first = await group.waitForLeader(SETTLE_TIMEOUT_MS);
    log(`seed ${options.seed}: group up, node ${first.id} leads in term ${first.raft.status().term}; fuzzing for ${options.timeMs} ms`);
    const prng = createPrng(options.seed);
    const pace = new Map(group.nodes.map((n) => [n.id as string, new TokenBucket(CONNECTIONS_PER_NODE_PER_SECOND, CONNECTIONS_PER_NODE_PER_SECOND, Date.now())]));
    const soft = Date.now() + options.timeMs;
    const hard = Date.now() + 4 * options.timeMs;
    const inputsMin = options.inputsMin ?? 0;
    const going = (): boolean => Date.now() < hard && (Date.now() < soft || findings.inputs < inputsMin);
    const workers = [preAuthWorker, postAuthWorker, proposalWorker, proposalWorker];
    await Promise.all(workers.map((worker) => worker(prng.fork(), group, going, findings, pace)));
    await finalChecks(group, findings, log);
  } finally {
    removeGuard();
    await group.stop();
  }
  const detail = report(options.seed, Date.now() - started, group, findings);
  for (const line of detail) log(line);
  return { inputs: findings.inputs, crashes: findings.crashes.length, detail };
}

type Worker = (prng: Prng, group: DcsGroup, going: () => boolean, findings: Findings, pace: Map<string, TokenBucket>) => Promise<void>;

/** A node to connect to now, within the fuzzer's own pace; null when none has room yet. */
function paced(prng: Prng, group: DcsGroup, pace: Map<string, TokenBucket>): FuzzNode | null {
  const node = group.nodes[prng.int(0, group.nodes.length)]!;
  return pace.get(node.id)!.take(Date.now()) ? node : null;
}

const preAuthWorker: Worker = async (prng, group, going, findings, pace) => {
  while (going()) {
    const victim = paced(prng, group, pace);
    if (victim === null) {
      await sleep(10);
      continue;
    }
    const kind = await preAuthInput(prng, victim);
    findings.input("before the handshake:", kind);
  }
};

const postAuthWorker: Worker = async (prng, group, going, findings, pace) => {
  while (going()) {
    const victim = paced(prng, group, pace);
    if (victim === null) {
      await sleep(10);
      continue;
    }
    const peer = await RawPeer.connect(victim.port).catch(() => null);
    if (peer === null) continue;
    try {
      await authenticateRaw(peer, { secret: FUZZ_SECRET, clusterId: FUZZ_CLUSTER_ID, clientId: "fuzzer", serverId: victim.id }, 3000);
      for (let i = prng.int(1, FRAMES_PER_SESSION_MAX + 1); i > 0 && !peer.ended; i--) {
        const { kind, bytes } = postAuthFrame(prng, victim.id);
        peer.write(clientFrame(kind === "textFrame" ? OPCODE.text : OPCODE.binary, bytes));
        findings.input("after the handshake:", kind);
        await sleep(1);
      }
      await Promise.race([peer.closed, sleep(20)]);
    } catch {
      findings.bump("after the handshake: session refused (admission rate or cap)");
    } finally {
      peer.destroy();
    }
  }
};

const proposalWorker: Worker = async (prng, group, going, findings) => {
  while (going()) {
    const { kind, bytes } = proposal(prng);
    const node = group.nodes[prng.int(0, group.nodes.length)]!;
    const outcome = await node.raft.propose(bytes, PROPOSAL_TIMEOUT_MS).then(
      (proposed) => (E.isRight(proposed.result) ? "applied" : "rejected by the DCS"),
      (error: unknown) => (error instanceof RaftNodeFailure ? error.code : `error ${String(error)}`),
    );
    findings.input("proposal:", kind);
    findings.bump(`proposal outcome: ${outcome}`);
    if (outcome === "applyFailed") findings.crash(`the DCS threw applying a ${kind} proposal: ${hex(bytes)}`);
  }
};

async function finalChecks(group: DcsGroup, findings: Findings, log: (line: string) => void): Promise<void> {
  for (const node of group.nodes) if (node.fatal !== null) findings.crash(`node ${node.id} stopped (onFatal): ${node.fatal}`);
  const index = await commitMarker(group);
  if (index === null) {
    findings.crash("the group no longer commits: the final proposal failed for 15 s");
    return;
  }
  const settled = Date.now() + SETTLE_TIMEOUT_MS;
  while (group.nodes.some((n) => n.machine.state.appliedIndex < index) && Date.now() < settled) await sleep(20);
  const applied = group.nodes.map((n) => n.machine.state.appliedIndex);
  if (applied.some((a) => a !== index)) {
    findings.crash(`the nodes did not all apply up to index ${index}: ${applied.join(", ")}`);
    return;
  }
  const snapshots = group.nodes.map((n) => Buffer.from(n.machine.snapshot()));
  log(`final proposal committed at index ${index}; state machine snapshots of ${snapshots.map((s) => s.length).join(", ")} bytes`);
  for (const [i, snapshot] of snapshots.entries()) {
    if (!snapshot.equals(snapshots[0]!)) findings.crash(`the state machines of ${group.nodes[0]!.id} and ${group.nodes[i]!.id} differ at index ${index}`);
  }
}

/** Proposes a valid command until it commits; returns its index, or null after 15 s. */
async function commitMarker(group: DcsGroup): Promise<number | null> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const leader = group.leader() ?? group.nodes[0]!;
    const index = await leader.raft.propose(markerCommand(), PROPOSAL_TIMEOUT_MS).then((p) => p.index as number, () => null);
    if (index !== null) return index;
    await sleep(100);
  }
  return null;
}

/** Counts uncaught exceptions and unhandled rejections as crashes while the fuzzer runs. */
function guardProcess(findings: Findings): () => void {
  const onException = (error: unknown): void => findings.crash(`uncaught exception: ${error instanceof Error ? error.stack : String(error)}`);
  const onRejection = (reason: unknown): void => findings.crash(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

function report(seed: number, elapsedMs: number, group: DcsGroup, findings: Findings): string[] {
  const lines = [`seed ${seed}: ${findings.inputs} inputs in ${elapsedMs} ms, ${findings.crashes.length} crashes`];
  for (const [key, count] of [...findings.counts].sort()) lines.push(`  ${key}: ${count}`);
  for (const node of group.nodes) {
    const { counts } = node.log;
    lines.push(`  node ${node.id}: term ${node.raft.status().term}, applied ${node.machine.state.appliedIndex}; logged ${counts.warn} warnings, ${counts.error} errors`);
    for (const error of node.log.errors.slice(0, 5)) lines.push(`    error: ${error}`);
  }
  for (const crash of findings.crashes) lines.push(`  CRASH: ${crash}`);
  return lines;
}

export function hex(bytes: Uint8Array, max = 256): string {
  const shown = Buffer.from(bytes.subarray(0, max)).toString("hex");
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
