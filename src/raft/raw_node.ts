/**
 * The public face of the core: inputs (tick, step, propose, …) and the Ready/advance cycle.
 *
 * The contract with the runtime (etcd-raft's, with asynchronous storage writes):
 *   1. `ready()` returns a batch. Inputs may continue while batches are in flight, and further
 *      batches may be taken; each holds only what is new since the previous one.
 *   2. Apply `committedEntries` at once, in order (they are already durable here).
 *   3. Persist `snapshot` (it replaces the log), then `entries` (they replace any persisted entries
 *      from entries[0].index on) and `hardState` — one durable write per batch, completing in the
 *      order the batches were taken.
 *   4. Send `messages` once that write is durable — or at once when `sendBeforePersist` is set:
 *      the leader's appends do not depend on its own durability (Raft thesis §10.2.1), which lets
 *      its fsync overlap the followers'.
 *   5. When the write is durable, restore the state machine from `snapshot` if any, and call
 *      `advance()` — batches are advanced in the order they were taken.
 * While one write is in flight the runtime keeps stepping messages and taking batches, so the
 * next write carries everything that arrived meanwhile: group commit and pipelining.
 */
import { assert } from "../lib/assert.js";
import type { RaftConfig } from "./config.js";
import { encodeConfChange } from "./codec.js";
import { EMPTY_CONF_STATE } from "./membership.js";
import type { ProgressState } from "./progress.js";
import { type ProposeResult, Raft } from "./raft.js";
import { RaftLog } from "./raft_log.js";
import {
  type ConfChange,
  type ConfMember,
  type ConfState,
  EMPTY_DATA,
  type Entry,
  type HardState,
  type LogIndex,
  type Message,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type Term,
} from "./types.js";

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: Term;
}

export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
  readonly sendBeforePersist: boolean;
}

/** What the runtime loaded from disk (or the bootstrap state of a brand-new node). */
export interface InitialState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
}

export interface PeerStatus {
  readonly id: NodeId;
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly leader: NodeId | null;
  readonly vote: NodeId | null;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly lastIndex: LogIndex;
  readonly snapshotIndex: LogIndex;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId | null;
  /** Leader only: replication progress of every other member. */
  readonly peers: readonly PeerStatus[];
}

const EMPTY_SNAPSHOT: Snapshot = {
  meta: { index: 0 as LogIndex, term: 0 as Term, timeMs: 0, confState: EMPTY_CONF_STATE },
  data: EMPTY_DATA,
};

/**
 * The log of a brand-new cluster: one committed addVoter entry per initial member, in term 1, the
 * same on every initial member (etcd-raft bootstraps the same way). Nodes added later start empty
 * and receive these entries, or a snapshot, from the leader.
 */
export function bootstrapState(members: readonly ConfMember[]): InitialState {
  assert(members.length > 0, "a cluster needs at least one initial member");
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
  const entries: Entry[] = sorted.map((member, i) => {
    const change: ConfChange = { kind: member.role === "voter" ? "addVoter" : "addLearner", id: member.id, address: member.address };
    return { term: 1 as Term, index: (i + 1) as LogIndex, type: "config", timeMs: 0, data: encodeConfChange(change) };
  });
  return { hardState: { term: 1 as Term, vote: null, commit: entries.length as LogIndex }, snapshot: null, entries };
}

export const EMPTY_STATE: InitialState = {
  hardState: { term: 0 as Term, vote: null, commit: 0 as LogIndex },
  snapshot: null,
  entries: [],
};

export class RawNode {
  private readonly raft: Raft;
  private readonly config: RaftConfig;
  /** What the batches taken so far have told the runtime. */
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** Batches taken and not yet advanced, oldest first. */
  private readonly inFlight: Ready[] = [];
  /** Batches in flight that change the term or the vote. */
  private readonly voteChanges = new WeakSet<Ready>();
  private voteChangesInFlight = 0;

  constructor(config: RaftConfig, initial: InitialState) {
    this.config = config;
    const log = new RaftLog(initial.snapshot ?? EMPTY_SNAPSHOT, initial.entries, initial.hardState.commit);
    this.raft = new Raft(config, log, initial.hardState.term, initial.hardState.vote);
    this.prevSoftState = this.softState();
    this.prevHardState = this.hardState();
    this.raft.checkInvariants();
  }

  private softState(): SoftState {
    return { role: this.raft.role, leader: this.raft.leader, term: this.raft.term };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  private input<T>(run: () => T): T {
    const result = run();
    this.raft.checkInvariants();
    return result;
  }

  // ---- inputs ----------------------------------------------------------------------------------

  tick(): void {
    this.input(() => this.raft.tick());
  }

  /** See Raft.ticksUntilNextEvent: the runtime may owe this many ticks before it must deliver them. */
  ticksUntilNextEvent(): number {
    return this.raft.ticksUntilNextEvent();
  }

  step(message: Message): void {
    assert(message.to === this.config.id, () => `message for ${message.to} stepped into ${this.config.id}`);
    this.input(() => this.raft.step(message));
  }

  /** Wall-clock time for stamping entries; never moves backwards inside the core. */
  setClock(nowMs: number): void {
    if (nowMs > this.raft.clockMs) this.raft.clockMs = nowMs;
  }

  propose(data: Uint8Array): ProposeResult {
    return this.input(() => this.raft.propose(data));
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.input(() => this.raft.proposeConfChange(change));
  }

  lastConfChangeRefusal(): string {
    return this.raft.lastConfChangeRefusal;
  }

  /** Returns false when no leader is known (the read cannot even start). */
  readIndex(requestId: number): boolean {
    return this.input(() => this.raft.readIndex(requestId));
  }

  transferLeader(target: NodeId): void {
    this.input(() => this.raft.transferLeader(target));
  }

  campaign(): void {
    this.input(() => this.raft.hup(false));
  }

  forgetLeader(): void {
    this.input(() => this.raft.forgetLeader());
  }

  reportUnreachable(id: NodeId): void {
    this.input(() => this.raft.reportUnreachable(id));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.input(() => this.raft.reportSnapshot(id, ok));
  }

  // ---- snapshots -------------------------------------------------------------------------------

  /**
   * A snapshot of the application state `data`, which must reflect every committed entry handed
   * out so far (the state machine applies them as soon as it receives them).
   */
  createSnapshot(data: Uint8Array): Snapshot | null {
    const log = this.raft.log;
    const index = log.applying;
    // A snapshot from the leader is being installed: the state machine is about to be replaced.
    if (log.unstableSnapshot !== null || index < log.snapshotIndex()) return null;
    const term = log.term(index);
    assert(term !== undefined, "the applied entry is in the log");
    const timeMs = index === log.snapshotIndex() ? log.snapshot()?.meta.timeMs ?? 0 : log.entry(index)!.timeMs;
    return { meta: { index, term, timeMs, confState: log.confStateAt(index) }, data };
  }

  /** Drops the entries covered by a snapshot the runtime has persisted. */
  compact(snapshot: Snapshot): void {
    this.input(() => this.raft.log.compact(snapshot));
  }

  // ---- ready / advance -------------------------------------------------------------------------

  inFlightCount(): number {
    return this.inFlight.length;
  }

  hasReady(): boolean {
    const log = this.raft.log;
    const hs = this.hardState();
    return (
      this.raft.hasPendingOutput() ||
      (log.unstableSnapshot !== null && !log.snapshotInProgress) ||
      log.inProgress < log.lastIndex() ||
      (log.unstableSnapshot === null && Math.min(log.committed, log.stable) > log.applying) ||
      hs.term !== this.prevHardState.term ||
      hs.vote !== this.prevHardState.vote ||
      hs.commit !== this.prevHardState.commit ||
      this.raft.role !== this.prevSoftState.role ||
      this.raft.leader !== this.prevSoftState.leader
    );
  }

  ready(): Ready {
    this.raft.flush();
    const log = this.raft.log;
    const hs = this.hardState();
    const soft = this.softState();
    const hardChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote || hs.commit !== this.prevHardState.commit;
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    const entries = log.unstableEntries();
    const snapshot = log.unstableSnapshot !== null && !log.snapshotInProgress ? log.unstableSnapshot : null;
    const committedEntries = log.nextCommittedEntries(this.config.maxCommittedBytesPerReady);
    // A leader's messages may leave before its own write, unless a vote or term change they rest
    // on (in this batch or an earlier one still in flight) is not yet durable.
    const pendingVote = termOrVoteChanged || this.voteChangesInFlight > 0;
    const ready: Ready = {
      softState: soft.role !== this.prevSoftState.role || soft.leader !== this.prevSoftState.leader || soft.term !== this.prevSoftState.term ? soft : null,
      hardState: hardChanged ? hs : null,
      entries,
      snapshot,
      committedEntries,
      messages: this.raft.takeMessages(),
      readStates: this.raft.takeReadStates(),
      mustSync: termOrVoteChanged || entries.length > 0 || snapshot !== null,
      sendBeforePersist: this.raft.role === "leader" && !pendingVote && snapshot === null,
    };
    const lastEntry = entries[entries.length - 1];
    if (lastEntry !== undefined) log.markInProgress(lastEntry.index);
    if (snapshot !== null) log.snapshotInProgress = true;
    const lastCommitted = committedEntries[committedEntries.length - 1];
    if (lastCommitted !== undefined) log.markApplying(lastCommitted.index);
    this.prevHardState = hs;
    this.prevSoftState = soft;
    this.inFlight.push(ready);
    if (termOrVoteChanged) {
      this.voteChanges.add(ready);
      this.voteChangesInFlight++;
    }
    return ready;
  }

  /** The oldest batch in flight is durable, its entries applied and its snapshot restored. */
  advance(): void {
    const ready = this.inFlight.shift();
    assert(ready !== undefined, "advance() without a Ready in flight");
    if (this.voteChanges.has(ready)) this.voteChangesInFlight--;
    const log = this.raft.log;
    if (ready.snapshot !== null) log.snapshotPersisted(ready.snapshot);
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) log.appliedTo(lastApplied.index);
    this.raft.selfPersisted();
    this.raft.checkInvariants();
  }

  // ---- status ----------------------------------------------------------------------------------

  /** The latest configuration in the log (what the transport should accept connections from). */
  confState(): ConfState {
    return this.raft.confState();
  }

  status(): RaftStatus {
    const raft = this.raft;
    const peers: PeerStatus[] = [];
    if (raft.role === "leader") {
      for (const [id, progress] of raft.progressEntries()) {
        if (id === raft.id) continue;
        peers.push({ id, match: progress.match, next: progress.next, state: progress.state, recentActive: progress.recentActive });
      }
    }
    return {
      id: raft.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      snapshotIndex: raft.log.snapshotIndex(),
      confState: raft.confState(),
      leadTransferee: raft.leadTransferee,
      peers,
    };
  }

  /** For tests and the simulator: the entries currently in the log (after the snapshot point). */
  logEntries(from = 0): Entry[] {
    const log = this.raft.log;
    const lo = Math.max(from, log.firstIndex());
    if (lo > log.lastIndex()) return [];
    return log.slice(lo, log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  }

  logTerm(index: number): Term | undefined {
    return this.raft.log.term(index);
  }
}
