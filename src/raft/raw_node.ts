/**
 * The public face of the core: inputs (tick, step, propose, …) and the Ready/advance cycle.
 *
 * The contract with the runtime (etcd-raft's, made stricter):
 *   1. `ready()` returns a batch; no other input may be given until `advance()`.
 *   2. Persist `snapshot` (it replaces the log), then `entries` (they replace any persisted entries
 *      from entries[0].index on) and `hardState`, in one durable write when `mustSync`.
 *   3. Send `messages` — or, when `sendBeforePersist` is set, send them before persisting: the
 *      leader's appends do not depend on its own durability (Raft thesis §10.2.1), which lets the
 *      leader's fsync overlap the followers'.
 *   4. Restore the state machine from `snapshot`, then apply `committedEntries` in order.
 *   5. Call `advance()`.
 * Inputs that arrive during 2–4 are queued by the runtime and stepped after advance(); the next
 * Ready then carries all of them, which is what makes group commit fall out naturally.
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
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private inFlight: Ready | null = null;

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

  private input<T>(what: string, run: () => T): T {
    assert(this.inFlight === null, () => `${what} while a Ready is in flight: queue inputs until advance()`);
    const result = run();
    this.raft.checkInvariants();
    return result;
  }

  // ---- inputs ----------------------------------------------------------------------------------

  tick(): void {
    this.input("tick", () => this.raft.tick());
  }

  step(message: Message): void {
    assert(message.to === this.config.id, () => `message for ${message.to} stepped into ${this.config.id}`);
    this.input("step", () => this.raft.step(message));
  }

  /** Wall-clock time for stamping entries; never moves backwards inside the core. */
  setClock(nowMs: number): void {
    if (nowMs > this.raft.clockMs) this.raft.clockMs = nowMs;
  }

  propose(data: Uint8Array): ProposeResult {
    return this.input("propose", () => this.raft.propose(data));
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    return this.input("proposeConfChange", () => this.raft.proposeConfChange(change));
  }

  lastConfChangeRefusal(): string {
    return this.raft.lastConfChangeRefusal;
  }

  /** Returns false when no leader is known (the read cannot even start). */
  readIndex(requestId: number): boolean {
    return this.input("readIndex", () => this.raft.readIndex(requestId));
  }

  transferLeader(target: NodeId): void {
    this.input("transferLeader", () => this.raft.transferLeader(target));
  }

  campaign(): void {
    this.input("campaign", () => this.raft.hup(false));
  }

  reportUnreachable(id: NodeId): void {
    this.input("reportUnreachable", () => this.raft.reportUnreachable(id));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.input("reportSnapshot", () => this.raft.reportSnapshot(id, ok));
  }

  // ---- snapshots -------------------------------------------------------------------------------

  /** A snapshot of the application state `data`, taken at the applied index. */
  createSnapshot(data: Uint8Array): Snapshot {
    const log = this.raft.log;
    const index = log.applied;
    const term = log.term(index);
    assert(term !== undefined, "the applied entry is in the log");
    const timeMs = index === log.snapshotIndex() ? log.snapshot()?.meta.timeMs ?? 0 : log.entry(index)!.timeMs;
    return { meta: { index, term, timeMs, confState: log.confStateAt(index) }, data };
  }

  /** Drops the entries covered by a snapshot the runtime has persisted. */
  compact(snapshot: Snapshot): void {
    this.input("compact", () => this.raft.log.compact(snapshot));
  }

  // ---- ready / advance -------------------------------------------------------------------------

  hasReady(): boolean {
    assert(this.inFlight === null, "hasReady while a Ready is in flight");
    const log = this.raft.log;
    const hs = this.hardState();
    return (
      this.raft.hasPendingOutput() ||
      log.unstableSnapshot !== null ||
      log.stable < log.lastIndex() ||
      Math.min(log.committed, log.lastIndex()) > log.applied ||
      hs.term !== this.prevHardState.term ||
      hs.vote !== this.prevHardState.vote ||
      hs.commit !== this.prevHardState.commit ||
      this.raft.role !== this.prevSoftState.role ||
      this.raft.leader !== this.prevSoftState.leader
    );
  }

  ready(): Ready {
    assert(this.inFlight === null, "ready() called twice without advance()");
    this.raft.flush();
    const log = this.raft.log;
    const hs = this.hardState();
    const soft = this.softState();
    const hardChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote || hs.commit !== this.prevHardState.commit;
    const termOrVoteChanged = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
    const entries = log.unstableEntries();
    const snapshot = log.unstableSnapshot;
    const ready: Ready = {
      softState: soft.role !== this.prevSoftState.role || soft.leader !== this.prevSoftState.leader || soft.term !== this.prevSoftState.term ? soft : null,
      hardState: hardChanged ? hs : null,
      entries,
      snapshot,
      committedEntries: log.nextCommittedEntries(this.config.maxCommittedBytesPerReady),
      messages: this.raft.takeMessages(),
      readStates: this.raft.takeReadStates(),
      mustSync: termOrVoteChanged || entries.length > 0 || snapshot !== null,
      sendBeforePersist: this.raft.role === "leader" && !termOrVoteChanged && snapshot === null,
    };
    this.inFlight = ready;
    return ready;
  }

  advance(): void {
    const ready = this.inFlight;
    assert(ready !== null, "advance() without a Ready");
    this.inFlight = null;
    const log = this.raft.log;
    if (ready.snapshot !== null) log.snapshotPersisted();
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined && log.term(lastEntry.index) === lastEntry.term) log.stableTo(lastEntry.index);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) log.appliedTo(lastApplied.index);
    if (ready.hardState !== null) this.prevHardState = ready.hardState;
    if (ready.softState !== null) this.prevSoftState = ready.softState;
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
