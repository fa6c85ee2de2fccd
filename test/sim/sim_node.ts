/**
 * One simulated node: a RawNode driven by the runtime's own driver (src/raft/runtime/raft_driver.ts:
 * queue inputs while a Ready is being persisted; persist, send, apply, advance), on a simulated
 * disk whose writes take time and whose unsynced part is lost on a crash, the simulated network
 * and virtual time, with the register state machine behind the exactly-once proposal envelope.
 *
 * `bugs` switches on deliberate mistakes in the runtime (never in the core) so tests can prove
 * the checkers catch them: sendBeforePersist in the shared driver, the others in this node's
 * simulated start-up and reads.
 */
import { either as E } from "fp-ts";
import type { Logger } from "../../src/lib/logger.js";
import type { Prng } from "../../src/lib/prng.js";
import { DEFAULT_TUNABLES, type RaftTunables } from "../../src/raft/config.js";
import { EMPTY_STATE, type InitialState, RawNode, type Ready } from "../../src/raft/raw_node.js";
import { decodeEnvelope, encodeEnvelope } from "../../src/raft/runtime/proposals.js";
import { type Clock, type DriverHost, type Network, RaftDriver, type Storage, type StorageOutcome } from "../../src/raft/runtime/raft_driver.js";
import type { MergedWrite } from "../../src/raft/runtime/write_batcher.js";
import type { ConfChange, Entry, HardState, Message, NodeId, ReadState, Snapshot } from "../../src/raft/types.js";
import type { SafetyChecker } from "./checkers.js";
import type { EventQueue } from "./event_queue.js";
import type { SimMachine } from "./workload.js";

export interface SimBugs {
  /**
   * The shared driver sends every message before the write it depends on is durable (a crash
   * then loses acknowledged entries and votes): DriverBugs.sendBeforePersist.
   */
  readonly sendBeforePersist: boolean;
  /** A restarted node forgets whom it voted for. */
  readonly forgetVote: boolean;
  /** Reads are served from the local state machine without ReadIndex. */
  readonly staleReads: boolean;
  /**
   * A node whose disk lost the tail of its log (or all of it) starts with what is left, as a
   * voter — what the runtime did before it kept an acknowledged bound (log_store_bound.ts).
   */
  readonly forgetTail: boolean;
}

export const NO_BUGS: SimBugs = { sendBeforePersist: false, forgetVote: false, staleReads: false, forgetTail: false };

/** Storage faults at a restart: the tail of the log lost, or the whole data directory. */
export type StorageLoss = "tail" | "wipe";

/**
 * What the runtime's acknowledged bound records (src/raft/runtime/log_store_bound.ts): how far
 * the log reached and the term and vote, kept apart from the log so losing one is noticed.
 */
interface AckedBound {
  lastIndex: number;
  term: number;
  vote: NodeId | null;
}

/** failed: certainly not applied; unknown: maybe applied (as after a timeout). */
export type OpOutcome = { readonly kind: "ok"; readonly result: unknown } | { readonly kind: "failed" } | { readonly kind: "unknown" };

/** A client's request: its payload, and whether it only reads. */
export interface SimRequest {
  readonly payload: Uint8Array;
  readonly read: boolean;
}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  incarnation: number;
  /** null once the whole directory is gone. */
  bound: AckedBound | null;
}

function lastIndexOf(disk: Disk): number {
  return disk.entries.at(-1)?.index ?? disk.snapshot?.meta.index ?? 0;
}

export interface SimContext {
  readonly queue: EventQueue;
  readonly prng: Prng;
  readonly checker: SafetyChecker;
  readonly tunables: RaftTunables;
  readonly bugs: SimBugs;
  readonly diskLatencyMs: readonly [number, number];
  readonly compactEvery: number;
  readonly logger: Logger;
  readonly createMachine: () => SimMachine;
  readonly restoreMachine: (snapshot: Uint8Array) => SimMachine;
  /** Failpoints: chance that a durable write is cut short by a crash, and that a node crashes just after a vote it cast became durable. */
  readonly crashDuringWriteRate: number;
  readonly crashAfterVoteRate: number;
  send(messages: readonly Message[]): void;
  /** The node crashed at a failpoint: the simulation notes it and restarts the node soon. */
  crashedAtFailpoint(node: SimNode, where: string): void;
}

type Pending = (outcome: OpOutcome) => void;

/** Ready batches one driver cycle may take here: tighter than the runtime's bound, so a core that keeps producing them without input fails the seed early. */
const READY_PER_CYCLE_MAX_SIM = 64;



export class SimNode {
  raw: RawNode | null = null;
  machine: SimMachine;
  clockOffsetMs: number;
  private readonly disk: Disk;
  /** The shared driver of the current incarnation; null while the node is down. */
  private driver: RaftDriver | null = null;
  private epoch = 0;
  private pendingProposals = new Map<number, Pending>();
  private pendingReads = new Map<number, { request: SimRequest; done: Pending }>();
  private readsAwaitingApply: { index: number; request: SimRequest; done: Pending }[] = [];
  private nextSeq = 1;
  private nextReadId = 1;
  private wasLeaderInTerm = -1;
  /** It refused to start with a damaged disk: only rejoinEmpty() brings it back. */
  private refused = false;

  constructor(
    readonly id: NodeId,
    private readonly ctx: SimContext,
    initial: InitialState,
    clockOffsetMs: number,
  ) {
    this.clockOffsetMs = clockOffsetMs;
    this.machine = ctx.createMachine();
    this.disk = { hardState: initial.hardState, snapshot: initial.snapshot, entries: [...initial.entries], incarnation: 0, bound: null };
    this.disk.bound = { lastIndex: lastIndexOf(this.disk), term: initial.hardState.term, vote: initial.hardState.vote };
    this.start();
  }

  /** Down because its disk lost what it acknowledged, waiting to be removed and added back. */
  isRefused(): boolean {
    return this.refused;
  }

  isUp(): boolean {
    return this.raw !== null;
  }

  private start(): void {
    this.disk.incarnation++;
    const initial: InitialState = { hardState: this.disk.hardState, snapshot: this.disk.snapshot, entries: this.disk.entries };
    this.raw = new RawNode({ ...DEFAULT_TUNABLES, ...this.ctx.tunables, id: this.id, prng: this.ctx.prng.fork(), logger: this.ctx.logger }, initial);
    this.machine = this.disk.snapshot === null ? this.ctx.createMachine() : this.ctx.restoreMachine(this.disk.snapshot.data);
    this.ctx.checker.onRestart(this.id, this.disk.snapshot?.meta.index ?? 0);
    this.driver = this.startDriver(this.raw);
    this.wasLeaderInTerm = -1;
  }

  crash(): void {
    if (this.raw === null) return;
    this.raw = null;
    this.epoch++;
    this.driver?.stop();
    this.driver = null;
    this.pendingProposals.clear();
    this.pendingReads.clear();
    this.readsAwaitingApply = [];
  }

  restart(): void {
    if (this.raw !== null || this.refused) return;
    if (this.ctx.bugs.forgetVote) this.disk.hardState = { ...this.disk.hardState, vote: null };
    this.start();
    this.driver?.schedule();
  }

  /**
   * A restart after the disk lost the tail of the log (and the vote with it), or everything.
   * The runtime checks the log against the acknowledged bound: a log that lost acknowledged
   * entries, or an empty directory of a known member, refuses to start (the operator removes the
   * node and adds it back, rejoinEmpty()); a lost vote alone is taken back from the bound. With
   * the forgetTail bug the node starts with what is left — a wiped one bootstraps anew from
   * `founders`, as a node configured with the founding members would.
   */
  restartAfterStorageLoss(loss: StorageLoss, founders: InitialState): "started" | "refused" {
    if (this.raw !== null || this.refused) return "refused";
    const disk = this.disk;
    if (loss === "wipe") {
      Object.assign(disk, { hardState: founders.hardState, snapshot: founders.snapshot, entries: [...founders.entries], bound: null });
    } else {
      const first = disk.snapshot?.meta.index ?? 0;
      const keep = this.ctx.prng.int(first, lastIndexOf(disk) + 1);
      disk.entries = disk.entries.filter((e) => e.index <= keep);
      disk.hardState = { ...disk.hardState, vote: null, commit: Math.min(disk.hardState.commit, keep) as HardState["commit"] };
    }
    if (!this.ctx.bugs.forgetTail) {
      const bound = disk.bound;
      if (bound === null || lastIndexOf(disk) < bound.lastIndex) {
        this.refused = true;
        return "refused";
      }
      if (bound.term === disk.hardState.term && disk.hardState.vote === null) disk.hardState = { ...disk.hardState, vote: bound.vote };
    }
    this.start();
    this.driver?.schedule();
    return "started";
  }

  /** The operator's way back: an empty Raft directory, started as a joining node (no configuration). */
  rejoinEmpty(): void {
    this.crash();
    Object.assign(this.disk, { hardState: EMPTY_STATE.hardState, snapshot: null, entries: [], bound: { lastIndex: 0, term: 0, vote: null } });
    this.refused = false;
    this.start();
    this.driver?.schedule();
  }

  // ---- inputs ----------------------------------------------------------------------------------

  /** Queues an input for the current incarnation; a crash drops it (the driver stops). */
  private input(run: (raw: RawNode) => void): void {
    const raw = this.raw;
    if (raw === null || this.driver === null) return;
    this.driver.input(() => run(raw));
  }

  receive(m: Message): void {
    this.input((raw) => raw.step(m));
  }

  tick(): void {
    this.input((raw) => raw.tick());
  }

  /** What the runtime does when the connection from its leader closes. */
  leaderGone(leader: NodeId): void {
    this.input((raw) => {
      if (raw.status().leader !== leader) return;
      raw.forgetLeader();
      this.ctx.queue.schedule(this.ctx.prng.next() * 30, () => this.input((r) => {
        const status = r.status();
        if (status.role === "follower" && status.leader === null) r.campaign();
      }));
    });
  }

  transferLeader(target: NodeId): void {
    this.input((raw) => raw.transferLeader(target));
  }

  proposeConfChange(change: ConfChange): void {
    this.input((raw) => raw.proposeConfChange(change));
  }

  submit(request: SimRequest, viaLog: boolean, done: Pending): void {
    if (this.raw === null) {
      done({ kind: "failed" });
      return;
    }
    if (request.read && !viaLog) {
      if (this.ctx.bugs.staleReads) {
        done({ kind: "ok", result: this.machine.read(request.payload) });
        return;
      }
      this.input((raw) => {
        const id = this.nextReadId++;
        if (raw.readIndex(id)) this.pendingReads.set(id, { request, done });
        else done({ kind: "failed" });
      });
      return;
    }
    this.input((raw) => {
      const seq = this.nextSeq++;
      const result = raw.propose(encodeEnvelope({ origin: this.id, incarnation: this.disk.incarnation, seq, payload: request.payload }));
      if (result.ok) this.pendingProposals.set(seq, done);
      else done({ kind: "failed" });
    });
  }

  // ---- the driver's host: storage, network, clock, and what committed entries do ------------

  /**
   * The shared driver (src/raft/runtime/raft_driver.ts) on this node's simulated disk, network
   * and virtual clock. A crash stops it; each start builds a new one, so a write still in flight
   * from before the crash completes into nothing.
   */
  private startDriver(raw: RawNode): RaftDriver {
    const epoch = this.epoch;
    const storage: Storage = {
      write: (write, done) => this.writeLater(epoch, write, done),
      compact: (snapshot, done) => {
        this.disk.snapshot = snapshot;
        this.disk.entries = this.disk.entries.filter((e) => e.index > snapshot.meta.index);
        done({ ok: true });
      },
    };
    const network: Network = { send: (messages) => this.ctx.send(messages) };
    const clock: Clock = {
      wallMs: () => this.ctx.queue.now + this.clockOffsetMs,
      monotonicMs: () => this.ctx.queue.now,
      defer: (run) => this.ctx.queue.schedule(0, run),
    };
    const host: DriverHost = {
      beginCycle: () => {},
      apply: (entry) => this.apply(entry),
      readState: (read) => this.readState(read),
      appliedReady: () => this.serveReads(),
      restoreSnapshot: (snapshot) => {
        this.machine = this.ctx.restoreMachine(snapshot.data);
        this.ctx.checker.onSnapshotApplied(this.id, snapshot.meta.index);
        this.settleProposalsCoveredBySnapshot();
      },
      advanced: () => {},
      written: (write) => this.ctx.checker.onPersist(this.id, write.entries, (i) => raw.logTerm(i)),
      completed: (readies) => this.completed(raw, readies),
      compacted: () => {},
      endCycle: () => {},
      fail: (why, error) => {
        throw error instanceof Error ? error : new Error(`${this.id}: ${why}`);
      },
    };
    const bugs = { sendBeforePersist: this.ctx.bugs.sendBeforePersist };
    return new RaftDriver({ raw, storage, network, clock, host, logger: this.ctx.logger, bugs, readyPerCycleMax: READY_PER_CYCLE_MAX_SIM });
  }

  /** A durable write takes a random time; a crash may cut it short (the unsynced part is lost). */
  private writeLater(epoch: number, write: MergedWrite, done: (outcome: StorageOutcome) => void): void {
    const [lo, hi] = this.ctx.diskLatencyMs;
    const latency = lo + this.ctx.prng.next() * (hi - lo);
    if (this.ctx.prng.chance(this.ctx.crashDuringWriteRate)) {
      this.ctx.queue.schedule(this.ctx.prng.next() * latency, () => {
        if (this.epoch === epoch) this.ctx.crashedAtFailpoint(this, "during a write");
      });
    }
    this.ctx.queue.schedule(latency, () => {
      if (this.epoch !== epoch) return;
      this.writeDisk(write);
      done({ ok: true });
    });
  }

  private readState(read: ReadState): void {
    const pending = this.pendingReads.get(read.requestId);
    if (pending === undefined) return;
    this.pendingReads.delete(read.requestId);
    this.readsAwaitingApply.push({ index: read.index, ...pending });
  }

  private completed(raw: RawNode, readies: readonly Ready[]): void {
    this.serveReads();
    this.noticeLeadership(raw);
    this.maybeCompact();
    const voted = readies.some((r) => r.hardState !== null && r.hardState.vote !== null && r.hardState.vote !== this.id && r.mustSync);
    if (voted && this.ctx.prng.chance(this.ctx.crashAfterVoteRate)) this.ctx.crashedAtFailpoint(this, "after voting");
  }

  private writeDisk(write: MergedWrite): void {
    const disk = this.disk;
    if (write.snapshot !== null) {
      disk.snapshot = write.snapshot;
      disk.entries = [];
    }
    if (write.entries.length > 0) {
      const first = write.entries[0]!.index;
      disk.entries = disk.entries.filter((e) => e.index < first).concat(write.entries);
    }
    if (write.hardState !== null) disk.hardState = write.hardState;
    disk.bound = { lastIndex: lastIndexOf(disk), term: disk.hardState.term, vote: disk.hardState.vote };
  }

  private apply(entry: Entry): void {
    this.ctx.checker.onApply(this.id, entry);
    this.machine.appliedIndex = entry.index;
    if (entry.type !== "normal" || entry.data.length === 0) return;
    const envelope = decodeEnvelope(entry.data);
    if (E.isLeft(envelope)) throw new Error(`entry ${entry.index}: ${envelope.left}`);
    const admitted = this.machine.sessions.admit(envelope.right);
    const result = admitted ? this.machine.apply(envelope.right.payload, entry) : null;
    if (envelope.right.origin !== this.id || envelope.right.incarnation !== this.disk.incarnation) return;
    const done = this.pendingProposals.get(envelope.right.seq);
    if (done === undefined) return;
    this.pendingProposals.delete(envelope.right.seq);
    done(admitted ? { kind: "ok", result } : { kind: "unknown" });
  }

  /** Our proposals the snapshot already accounts for were applied or skipped: outcome unknown. */
  private settleProposalsCoveredBySnapshot(): void {
    const last = this.machine.sessions.lastSeq(this.id, this.disk.incarnation);
    for (const [seq, done] of this.pendingProposals) {
      if (seq > last) continue;
      this.pendingProposals.delete(seq);
      done({ kind: "unknown" });
    }
  }

  private serveReads(): void {
    const ready = this.readsAwaitingApply.filter((r) => r.index <= this.machine.appliedIndex);
    if (ready.length === 0) return;
    this.readsAwaitingApply = this.readsAwaitingApply.filter((r) => r.index > this.machine.appliedIndex);
    for (const read of ready) read.done({ kind: "ok", result: this.machine.read(read.request.payload) });
  }

  private noticeLeadership(raw: RawNode): void {
    const status = raw.status();
    if (status.role !== "leader" || this.wasLeaderInTerm === status.term) return;
    this.wasLeaderInTerm = status.term;
    this.ctx.checker.onLeader(this.id, status.term, (i) => raw.logTerm(i), status.snapshotIndex);
  }

  private maybeCompact(): void {
    if (this.ctx.compactEvery <= 0 || this.driver === null) return;
    const snapshotIndex = this.disk.snapshot?.meta.index ?? 0;
    if (this.machine.appliedIndex - snapshotIndex < this.ctx.compactEvery) return;
    this.driver.compact(() => this.machine.snapshot());
  }
}
