/**
 * The Raft protocol as a deterministic state machine, after etcd-raft's design (not its code):
 * inputs are tick(), step(message) and the local requests; outputs are the log, the hard state and
 * an outbox of messages, collected by RawNode into a Ready. No clock, socket, disk, timer or
 * Math.random: time arrives as ticks (and as `clockMs` for entry stamps), randomness from a seeded
 * Prng, so a simulation seed replays exactly.
 *
 * Features: elections with randomized timeouts, Pre-Vote (thesis §9.6), CheckQuorum (thesis §6.2),
 * pipelined and flow-controlled replication, commit only of current-term entries (§5.4.2),
 * snapshots for lagging followers (§7), leadership transfer (thesis §3.10), single-server
 * membership changes with learners (thesis §4), and ReadIndex reads (thesis §6.4).
 *
 * Why this file is over 800 lines: the protocol is one state machine whose handlers all read and
 * write the same few fields (term, role, log, progress), and splitting it across classes would
 * spread each rule of the paper over several files. What stands on its own lives elsewhere: the
 * log (raft_log.ts), follower progress and flow control (progress.ts), quorum arithmetic
 * (quorum.ts), membership rules (membership.ts), ReadIndex bookkeeping (read_only.ts).
 */
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import { type RaftConfig, validateConfig } from "./config.js";
import { encodeConfChange } from "./codec.js";
import { applyConfChange, isVoter, voters } from "./membership.js";
import { quorumSize, quorumValue, type VoteResult, voteResult } from "./quorum.js";
import { Progress } from "./progress.js";
import { RaftLog } from "./raft_log.js";
import { ReadOnly } from "./read_only.js";
import {
  type ConfChange,
  type ConfState,
  EMPTY_DATA,
  type Entry,
  type EntryType,
  entrySizeBytes,
  type LogIndex,
  makeMessage,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Role,
  type Term,
} from "./types.js";

/** Heartbeat-driven refusals of acknowledged entries before the leader believes the loss. */
const LOST_ENTRIES_CONFIRMATIONS = 5;

export type ProposeResult =
  | { readonly ok: true; readonly index: LogIndex | null }
  | { readonly ok: false; readonly reason: ProposeRefusal };

/** Why a proposal was not accepted; the runtime turns these into errors for its caller. */
export type ProposeRefusal = "noLeader" | "transferring" | "overloaded" | "tooLarge" | "notLeader" | "pendingConfChange" | "invalidConfChange";

export class Raft {
  readonly id: NodeId;
  term: Term;
  vote: NodeId | null;
  role: Role = "follower";
  leader: NodeId | null = null;
  readonly log: RaftLog;
  /** Monotonic wall-clock hint from the runtime, used only to stamp new entries. */
  clockMs = 0;
  leadTransferee: NodeId | null = null;
  /** Why the last proposed conf change was refused (for operators). */
  lastConfChangeRefusal = "";

  private readonly config: RaftConfig;
  private readonly logger: Logger;
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private uncommittedBytes = 0;
  private readonly reads = new ReadOnly();
  private outbox: Message[] = [];
  private readStates: ReadState[] = [];
  /** Proposals received since the last flush; sent in one message (follower) or one broadcast (leader). */
  private forwardBatch: Entry[] = [];
  private broadcastPending = false;
  /** Heartbeats the leader sends between those it asks every follower to answer (see broadcastHeartbeat). */
  private readonly heartbeatAnswerEvery: number;
  private heartbeatsSent = 0;
  /** Followers: the last ReadIndex round answered (see shouldAnswerHeartbeat). */
  private lastHeartbeatRound = -1;

  constructor(config: RaftConfig, log: RaftLog, hardTerm: Term, hardVote: NodeId | null) {
    validateConfig(config);
    this.config = config;
    this.id = config.id;
    this.logger = config.logger;
    this.heartbeatAnswerEvery = Math.max(1, Math.min(3, Math.floor(config.electionTimeoutTicks / (3 * config.heartbeatTicks))));
    this.log = log;
    this.term = hardTerm;
    this.vote = hardVote;
    this.becomeFollower(hardTerm, null);
  }

  // ---- queries ---------------------------------------------------------------------------------

  confState(): ConfState {
    return this.log.confState();
  }

  /** A node may campaign only if it is a voter of its latest configuration. */
  promotable(): boolean {
    return isVoter(this.confState(), this.id) && this.log.unstableSnapshot === null;
  }

  progressOf(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  progressEntries(): IterableIterator<[NodeId, Progress]> {
    return this.progress.entries();
  }

  committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  takeMessages(): Message[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  takeReadStates(): ReadState[] {
    const out = this.readStates;
    this.readStates = [];
    return out;
  }

  hasPendingOutput(): boolean {
    return this.outbox.length > 0 || this.readStates.length > 0 || this.forwardBatch.length > 0 || this.broadcastPending || this.reads.roundPending();
  }

  // ---- role changes ----------------------------------------------------------------------------

  private reset(term: Term): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.config.prng.int(this.config.electionTimeoutTicks, 2 * this.config.electionTimeoutTicks);
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.uncommittedBytes = 0;
    this.reads.reset();
    this.forwardBatch = [];
    this.broadcastPending = false;
    this.heartbeatsSent = 0;
    this.lastHeartbeatRound = -1;
  }

  becomeFollower(term: Term, leader: NodeId | null): void {
    const wasLeader = this.role === "leader";
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
    if (wasLeader) this.logger.info({ term }, "stepped down: now a follower");
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a pre-candidate");
    // Pre-Vote changes neither the term nor the vote (thesis §9.6).
    this.votes.clear();
    this.leader = null;
    this.role = "preCandidate";
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a candidate");
    this.reset((this.term + 1) as Term);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.syncProgressWithConfig();
    // Raft §8: a new leader commits an entry of its own term to learn what is committed.
    this.appendEntries([{ type: "normal", data: EMPTY_DATA }]);
    this.logger.info({ term: this.term, lastIndex: this.log.lastIndex() }, "became leader");
  }

  /** Progress for every member (learners included), created at the end of the log. */
  private syncProgressWithConfig(): void {
    const members = this.confState().members;
    for (const id of [...this.progress.keys()]) {
      if (!members.some((m) => m.id === id) && id !== this.id) this.progress.delete(id);
    }
    for (const member of [...members.map((m) => m.id), this.id]) {
      if (this.progress.has(member)) continue;
      const progress = new Progress((this.log.lastIndex() + 1) as LogIndex, this.config.maxInflightMessages, this.config.maxInflightBytes);
      if (member === this.id) {
        progress.match = this.log.stable;
        progress.becomeReplicate();
        progress.next = (this.log.lastIndex() + 1) as LogIndex;
      }
      progress.recentActive = true;
      this.progress.set(member, progress);
    }
  }

  // ---- time ------------------------------------------------------------------------------------

  tick(): void {
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const progress of this.progress.values()) progress.tick();
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumRecentlyActive()) {
        this.logger.warn({ term: this.term }, "stepping down: no quorum heard from within an election timeout");
        this.becomeFollower(this.term, null);
        return;
      }
      for (const [id, progress] of this.progress) progress.recentActive = id === this.id;
      if (this.leadTransferee !== null) {
        this.logger.warn({ target: this.leadTransferee }, "leadership transfer timed out; aborting it");
        this.leadTransferee = null;
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * How many ticks may pass before a tick changes anything observable: the next heartbeat or
   * quorum check for a leader, the election timeout for the others. A runtime may sleep that
   * long and then deliver the ticks it owes at once, instead of waking every tick (an idle
   * follower then wakes only for its leader's heartbeats).
   */
  ticksUntilNextEvent(): number {
    if (this.role === "leader") {
      return Math.max(1, Math.min(this.config.heartbeatTicks - this.heartbeatElapsed, this.config.electionTimeoutTicks - this.electionElapsed));
    }
    const timeout = this.promotable() ? this.randomizedElectionTimeout : this.config.electionTimeoutTicks;
    return Math.max(1, timeout - this.electionElapsed);
  }

  private quorumRecentlyActive(): boolean {
    const voterIds = voters(this.confState());
    const active = voterIds.filter((id) => id === this.id || this.progress.get(id)?.recentActive === true).length;
    return active >= quorumSize(voterIds.length);
  }

  // ---- elections -------------------------------------------------------------------------------

  /** Start an election now (the runtime's "campaign"; also the election timeout). */
  hup(transfer: boolean): void {
    if (this.role === "leader") return;
    if (!this.promotable()) {
      this.logger.debug({ term: this.term }, "not campaigning: not a voter of the latest configuration");
      return;
    }
    if (this.config.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
  }

  private campaign(kind: "preVote" | "vote", transfer: boolean): void {
    let voteTerm: Term;
    if (kind === "preVote") {
      this.becomePreCandidate();
      voteTerm = (this.term + 1) as Term;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes() === "won") {
      this.wonElection(kind);
      return;
    }
    this.logger.debug({ term: voteTerm, kind }, "campaigning");
    for (const id of voters(this.confState())) {
      if (id === this.id) continue;
      this.send(makeMessage({
        type: kind,
        from: this.id,
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        force: transfer,
      }));
    }
  }

  private wonElection(kind: "preVote" | "vote"): void {
    if (kind === "preVote") this.campaign("vote", false);
    else {
      this.becomeLeader();
      this.broadcastAppend(true);
    }
  }

  private tallyVotes(): VoteResult {
    return voteResult(voters(this.confState()).map((id) => this.votes.get(id)));
  }

  // ---- messages in -----------------------------------------------------------------------------

  step(m: Message): void {
    assert(m.from !== this.id, "a node never receives its own message");
    if (m.type === "propose" || m.type === "readIndex" || m.type === "transferLeader") {
      this.stepRequest(m);
      return;
    }
    if (m.term > this.term) {
      if (!this.acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.answerLowerTerm(m);
      return;
    }
    if (m.type === "vote" || m.type === "preVote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
    }
  }

  /** Returns false when the message must be ignored. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === "vote" || m.type === "preVote") {
      // CheckQuorum's companion: while we hear from a leader we do not help depose it, unless the
      // leader itself asked (leadership transfer). Thesis §4.2.3 and §9.6.
      const inLease = this.config.checkQuorum && this.leader !== null && this.electionElapsed < this.config.electionTimeoutTicks;
      if (inLease && !m.force) {
        this.logger.debug({ from: m.from, term: m.term, leader: this.leader }, `ignoring ${m.type} request: a leader was heard from within the election timeout`);
        return false;
      }
    }
    if (m.type === "preVote") return true;
    if (m.type === "preVoteResponse" && !m.reject) return true;
    this.logger.debug({ from: m.from, type: m.type, term: m.term, ourTerm: this.term }, "received a higher term");
    const leader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" ? m.from : null;
    this.becomeFollower(m.term, leader);
    return true;
  }

  private answerLowerTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === "append" || m.type === "heartbeat")) {
      // A deposed leader learns the new term from this answer and steps down; without it, a
      // node whose term rose while isolated could never rejoin (etcd-raft does the same).
      this.reply("appendResponse", m.from);
    } else if (m.type === "preVote") {
      this.reply("preVoteResponse", m.from, { reject: true });
    } else {
      this.logger.debug({ from: m.from, type: m.type, term: m.term, ourTerm: this.term }, `ignoring ${m.type} from term ${m.term}: current term is ${this.term}`);
    }
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === "preVote";
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term);
    const responseType = pre ? "preVoteResponse" : "voteResponse";
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers with the term the candidate will use (etcd-raft does the same).
      this.send(makeMessage({ type: responseType, from: this.id, to: m.from, term: m.term }));
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.reply(responseType, m.from, { reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "voteResponse":
      case "preVoteResponse": {
        const mine = this.role === "preCandidate" ? "preVoteResponse" : "voteResponse";
        if (m.type !== mine) return;
        this.votes.set(m.from, !m.reject);
        const result = this.tallyVotes();
        if (result === "won") this.wonElection(this.role === "preCandidate" ? "preVote" : "vote");
        else if (result === "lost") this.becomeFollower(this.term, null);
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.commitFromHeartbeat(m);
        if (this.shouldAnswerHeartbeat(m)) this.reply("heartbeatResponse", m.from, { context: m.context });
        return;
      case "snapshot":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        return;
      case "timeoutNow":
        this.logger.info({ from: m.from, term: this.term }, "leadership transfer: campaigning at once");
        this.hup(true);
        return;
      case "readIndexResponse":
        this.readStates.push({ requestId: m.context, index: m.index });
        return;
      default:
        return;
    }
  }

  private commitFromHeartbeat(m: Message): void {
    // The leader sends min(our match, its commit), so this is always within our log unless our
    // durable log lost entries it had acknowledged (a wiped or restored data directory).
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    else this.logger.warn({ commit: m.commit, lastIndex: this.log.lastIndex(), leader: m.from }, "the leader believes this node has entries it does not have; was its Raft data directory replaced?");
  }

  /**
   * A follower answers the heartbeats its leader marks (`force`) and any that starts a ReadIndex
   * round it has not answered yet (a safety net: the leader marks those too).
   */
  private shouldAnswerHeartbeat(m: Message): boolean {
    if (!m.force && m.context === this.lastHeartbeatRound) return false;
    this.lastHeartbeatRound = m.context;
    return true;
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.reply("appendResponse", m.from, { index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.reply("appendResponse", m.from, { index: lastNew });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.reply("appendResponse", m.from, { index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert(snapshot !== null, "snapshot message without a snapshot");
    const { index, term } = snapshot.meta;
    if (index <= this.log.committed) {
      this.reply("appendResponse", m.from, { index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just fast-forward the commit.
      this.log.commitTo(index);
    } else {
      this.logger.info({ index, term, from: m.from }, "restoring a snapshot from the leader");
      this.log.restore(snapshot);
    }
    this.reply("appendResponse", m.from, { index: this.log.lastIndex() });
  }

  // ---- leader ----------------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    const progress = this.progress.get(m.from);
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "snapshot":
        assert(false, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
        return;
      case "appendResponse":
        if (progress === undefined) return;
        progress.recentActive = true;
        this.handleAppendResponse(m, progress);
        return;
      case "heartbeatResponse":
        if (progress === undefined) return;
        this.handleHeartbeatResponse(m, progress);
        return;
      default:
        return;
    }
  }

  /**
   * A heartbeat answer proves the follower is reachable, so anything that waits for an answer that
   * may have been lost is unblocked: a probe is resent; a full window frees its oldest message
   * (etcd-raft did the same), and the follower's rejection of the next append then rewinds it; a
   * snapshot sent an election timeout ago or more and still unanswered is sent again. That is
   * counted in ticks, not answers: answers that waited in a queue arrive in bursts (issue 14).
   */
  private handleHeartbeatResponse(m: Message, progress: Progress): void {
    progress.recentActive = true;
    progress.probeSent = false;
    if (m.context > progress.readRound) progress.readRound = m.context;
    if (progress.state === "replicate" && progress.inflights.full()) progress.inflights.freeFirstOne();
    if (progress.state === "snapshot" && this.snapshotOverdue(progress)) {
      this.logger.warn({ to: m.from, index: progress.pendingSnapshot, ticksAgo: progress.snapshotSentTicksAgo }, "no answer within an election timeout to the snapshot sent to a live follower; sending it again");
      progress.pendingSnapshot = 0 as LogIndex;
      progress.becomeProbe();
    }
    if (progress.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    this.releaseReads();
  }

  /**
   * The follower refuses an entry it acknowledged in this term: its durable log lost it (a
   * replaced or damaged data directory), or the answer is a late copy of an old one. Probing again
   * at once would repeat at network speed, and trusting a late copy would undo real progress; so
   * wait for heartbeat answers, and only when the refusal persists through several of them start
   * over from what the follower says it has.
   */
  private handleRefusedAcknowledged(m: Message, progress: Progress): void {
    if (++progress.refusedAcknowledged < LOST_ENTRIES_CONFIRMATIONS) return;
    this.logger.error({ follower: m.from, acknowledged: progress.match, has: m.rejectHint }, `follower ${m.from} lost log entries it had acknowledged (it has up to ${m.rejectHint}, acknowledged ${progress.match}); was its Raft data directory replaced? Replicating to it again from there`);
    progress.refusedAcknowledged = 0;
    progress.match = Math.min(progress.match, m.rejectHint) as LogIndex;
    progress.next = (progress.match + 1) as LogIndex;
    progress.probeSent = false;
    this.sendAppend(m.from, true);
  }

  private handleAppendResponse(m: Message, progress: Progress): void {
    if (m.reject) {
      if (progress.state === "probe" && m.index === progress.next - 1 && m.index <= progress.match) {
        this.handleRefusedAcknowledged(m, progress);
        return;
      }
      let probeAt = m.rejectHint as number;
      if (m.logTerm > 0) probeAt = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (progress.maybeDecrTo(m.index, probeAt)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    if (!progress.maybeUpdate(m.index)) return;
    if (progress.state === "probe") progress.becomeReplicate();
    else if (progress.state === "snapshot" && progress.match >= progress.pendingSnapshot) {
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === "replicate") progress.inflights.freeLE(m.index);
    if (this.maybeCommit()) this.broadcastPending = true;
    if (wasPaused || progress.state === "replicate") while (this.sendAppend(m.from, false));
    if (this.leadTransferee === m.from && progress.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /** The highest index replicated on a quorum of voters; commits it if it is of the current term. */
  maybeCommit(): boolean {
    if (this.role !== "leader") return false;
    const voterIds = voters(this.confState());
    if (voterIds.length === 0) return false;
    const quorumIndex = quorumValue(voterIds.map((id) => this.progress.get(id)?.match ?? 0));
    const before = this.log.committed;
    if (!this.log.maybeCommit(quorumIndex, this.term)) return false;
    for (let i = before + 1; i <= this.log.committed; i++) {
      const entry = this.log.entry(i);
      if (entry !== undefined && entry.term === this.term) this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entrySizeBytes(entry));
    }
    if (before < this.log.committed && this.reads.hasWaitingForCommit()) this.releaseWaitingReads();
    this.maybeStepDownAfterRemoval();
    return true;
  }

  /** Thesis §4.2.2: a leader removed from the configuration steps down once the removal commits. */
  private maybeStepDownAfterRemoval(): void {
    if (isVoter(this.confState(), this.id) || this.log.lastConfigIndex() > this.log.committed) return;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const id of voters(this.confState())) {
      const match = this.progress.get(id)?.match ?? 0;
      if (match > bestMatch) [best, bestMatch] = [id, match];
    }
    this.logger.info({ term: this.term, successor: best }, "stepping down: this node was removed from the voters");
    if (best !== null && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, null);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.reply("timeoutNow", to);
  }

  /** Sends the next append (or snapshot) to a follower. Returns whether something was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to);
    if (progress === undefined || to === this.id || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, progress);
    const lastIndex = this.log.lastIndex();
    const entries = progress.next <= lastIndex ? this.log.slice(progress.next, lastIndex + 1, this.config.maxMessageBytes) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.reply("append", to, { index: prevIndex as LogIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    if (progress.state === "replicate" && entries.length > 0) {
      const last = entries[entries.length - 1]!.index;
      progress.next = (last + 1) as LogIndex;
      progress.inflights.add(last, entries.reduce((sum, e) => sum + entrySizeBytes(e), 0));
    } else if (progress.state === "probe") {
      progress.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive || !this.maySendSnapshot(to, progress)) return false;
    const snapshot = this.log.snapshot();
    assert(snapshot !== null, "entries are compacted but there is no snapshot");
    progress.becomeSnapshot(snapshot.meta.index);
    this.logger.info({ to, index: snapshot.meta.index }, "sending a snapshot to a lagging follower");
    this.reply("snapshot", to, { snapshot });
    return true;
  }

  /**
   * A snapshot is the costliest message: the whole state, encoded, written and restored. So the
   * leader sends one snapshot at a time (a follower that needs one meanwhile waits in probe and
   * asks again with its next heartbeat answer), and to one follower at most once per election
   * timeout, however its previous one was lost. A transfer still unanswered after an election
   * timeout no longer holds the others back: its follower may be gone.
   */
  private maySendSnapshot(to: NodeId, progress: Progress): boolean {
    const sentTicksAgo = progress.snapshotSentTicksAgo;
    if (sentTicksAgo !== null && sentTicksAgo < this.config.electionTimeoutTicks) return false;
    for (const [id, other] of this.progress) {
      if (id !== to && other.state === "snapshot" && !this.snapshotOverdue(other)) return false;
    }
    return true;
  }

  private snapshotOverdue(progress: Progress): boolean {
    return (progress.snapshotSentTicksAgo ?? 0) >= this.config.electionTimeoutTicks;
  }

  private broadcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, sendIfEmpty);
  }

  /**
   * Heartbeats ask for an answer (`force`) only when the leader needs one: every
   * `heartbeatAnswerEvery`-th heartbeat (still several per election timeout, all CheckQuorum
   * needs), when a ReadIndex round starts, and from a follower that is behind or whose appends
   * may have been lost. All followers answer the same heartbeat, so an idle leader wakes once for
   * all their answers, and a few times a second instead of for every answer of every follower.
   */
  private broadcastHeartbeat(): void {
    const before = this.reads.currentRound();
    const round = this.reads.startRoundIfPending();
    const periodic = ++this.heartbeatsSent % this.heartbeatAnswerEvery === 0;
    const last = this.log.lastIndex();
    for (const [id, progress] of this.progress) {
      if (id === this.id) continue;
      const lagging = progress.state !== "replicate" || progress.match < last || progress.inflights.full();
      const force = periodic || round !== before || lagging;
      this.reply("heartbeat", id, { commit: Math.min(progress.match, this.log.committed) as LogIndex, context: round, force });
    }
  }

  /** Sends what accumulated during a batch of steps: one broadcast, one forwarded proposal message. */
  flush(): void {
    if (this.role === "leader") {
      if (this.reads.roundPending()) this.broadcastHeartbeat();
      if (this.broadcastPending) {
        this.broadcastPending = false;
        this.broadcastAppend(true);
      }
    } else if (this.forwardBatch.length > 0 && this.leader !== null) {
      this.send(makeMessage({ type: "propose", from: this.id, to: this.leader, term: 0 as Term, entries: this.forwardBatch }));
    }
    this.forwardBatch = [];
    this.broadcastPending = false;
  }

  // ---- local requests --------------------------------------------------------------------------

  /** Appends entries as leader, stamping term, index and time. */
  private appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): LogIndex {
    const timeMs = Math.max(this.clockMs, this.log.lastTimeMs());
    let index = this.log.lastIndex();
    const entries: Entry[] = items.map((item) => ({ term: this.term, index: ++index as LogIndex, type: item.type, timeMs, data: item.data }));
    this.log.append(entries);
    for (const entry of entries) this.uncommittedBytes += entrySizeBytes(entry);
    if (entries.some((e) => e.type === "config")) this.syncProgressWithConfig();
    this.broadcastPending = true;
    const self = this.progress.get(this.id);
    if (self !== undefined) self.next = (index + 1) as LogIndex;
    return index;
  }

  propose(data: Uint8Array): ProposeResult {
    if (data.length > this.config.maxProposalBytes) return { ok: false, reason: "tooLarge" };
    if (this.role !== "leader") {
      if (this.leader === null) return { ok: false, reason: "noLeader" };
      this.forwardBatch.push({ term: 0 as Term, index: 0 as LogIndex, type: "normal", timeMs: 0, data });
      return { ok: true, index: null };
    }
    const refusal = this.checkLeaderCanAccept(data.length);
    if (refusal !== null) return { ok: false, reason: refusal };
    return { ok: true, index: this.appendEntries([{ type: "normal", data }]) };
  }

  private checkLeaderCanAccept(bytes: number): ProposeRefusal | null {
    if (this.leadTransferee !== null) return "transferring";
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedBytes) return "overloaded";
    return null;
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "notLeader" };
    if (this.log.lastConfigIndex() > this.log.committed || !this.committedInCurrentTerm()) {
      this.lastConfChangeRefusal = "another membership change is still in progress; retry when it is committed";
      return { ok: false, reason: "pendingConfChange" };
    }
    const next = applyConfChange(this.confState(), change);
    if (next._tag === "Left") {
      this.lastConfChangeRefusal = next.left;
      return { ok: false, reason: "invalidConfChange" };
    }
    const refusal = this.checkLeaderCanAccept(0);
    if (refusal !== null) return { ok: false, reason: refusal };
    this.logger.info({ change }, "proposing a membership change");
    return { ok: true, index: this.appendEntries([{ type: "config", data: encodeConfChange(change) }]) };
  }

  /** Forwarded requests from other nodes: only the leader serves them. */
  private stepRequest(m: Message): void {
    if (this.role !== "leader") {
      this.logger.debug({ from: m.from, type: m.type }, `dropping forwarded ${m.type}: this node is not the leader`);
      return;
    }
    if (m.type === "propose") {
      const bytes = m.entries.reduce((sum, e) => sum + e.data.length, 0);
      const refusal = this.checkLeaderCanAccept(bytes);
      if (refusal !== null) {
        this.logger.debug({ from: m.from, refusal }, "dropping forwarded proposals");
        return;
      }
      this.appendEntries(m.entries.map((e) => ({ type: "normal" as const, data: e.data })));
    } else if (m.type === "readIndex") {
      this.requestRead(m.from, m.context);
    } else if (m.type === "transferLeader" && m.transferTarget !== null) {
      this.transferLeader(m.transferTarget);
    }
  }

  readIndex(requestId: number): boolean {
    if (this.role === "leader") {
      this.requestRead(this.id, requestId);
      return true;
    }
    if (this.leader === null) return false;
    this.send(makeMessage({ type: "readIndex", from: this.id, to: this.leader, term: 0 as Term, context: requestId }));
    return true;
  }

  private requestRead(from: NodeId, requestId: number): void {
    // Thesis §6.4: until an entry of its term commits, a new leader does not know the commit index.
    if (!this.committedInCurrentTerm()) {
      this.reads.waitForCommit(from, requestId);
      return;
    }
    if (voters(this.confState()).length === 1 && isVoter(this.confState(), this.id)) {
      this.answerRead(from, requestId, this.log.committed);
      return;
    }
    this.reads.add(from, requestId, this.log.committed);
  }

  private releaseWaitingReads(): void {
    if (!this.committedInCurrentTerm()) return;
    for (const waiting of this.reads.takeWaitingForCommit()) this.requestRead(waiting.from, waiting.requestId);
  }

  private releaseReads(): void {
    const voterIds = voters(this.confState());
    if (voterIds.length === 0) return;
    const confirmed = quorumValue(voterIds.map((id) => (id === this.id ? this.reads.currentRound() : this.progress.get(id)?.readRound ?? 0)));
    for (const read of this.reads.takeConfirmed(confirmed)) this.answerRead(read.from, read.requestId, read.index);
  }

  private answerRead(from: NodeId, requestId: number, index: LogIndex): void {
    if (from === this.id) this.readStates.push({ requestId, index });
    else this.reply("readIndexResponse", from, { index, context: requestId });
  }

  transferLeader(target: NodeId): void {
    if (this.role !== "leader") {
      if (this.leader !== null) {
        this.send(makeMessage({ type: "transferLeader", from: this.id, to: this.leader, term: 0 as Term, transferTarget: target }));
      }
      return;
    }
    if (target === this.id || !isVoter(this.confState(), target)) {
      this.logger.warn({ target }, "ignoring leadership transfer: the target is this node or not a voter");
      return;
    }
    if (this.leadTransferee === target) return;
    this.logger.info({ target, term: this.term }, "transferring leadership");
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const progress = this.progress.get(target)!;
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, true);
  }

  /**
   * A follower that knows its leader is gone (its connection closed) forgets it, so it no longer
   * refuses votes under the CheckQuorum lease and an election can finish before the lease would
   * have run out (etcd-raft's ForgetLeader). Safety does not depend on it; a wrong guess only
   * lets a pre-vote through, and pre-votes do not disturb a leader that others still hear.
   */
  forgetLeader(): void {
    if (this.role !== "follower" || this.leader === null) return;
    this.logger.info({ leader: this.leader, term: this.term }, "forgetting the leader: its connection closed");
    this.leader = null;
  }

  reportUnreachable(id: NodeId): void {
    const progress = this.progress.get(id);
    if (this.role === "leader" && progress?.state === "replicate") progress.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const progress = this.progress.get(id);
    if (this.role !== "leader" || progress?.state !== "snapshot") return;
    if (!ok) progress.pendingSnapshot = 0 as LogIndex;
    progress.becomeProbe();
    // Wait for the follower's answer (or a heartbeat answer) before probing again.
    progress.probeSent = true;
  }

  /** The leader's own log is durable up to `stable`: count it toward the commit quorum. */
  selfPersisted(): void {
    const self = this.progress.get(this.id);
    if (this.role !== "leader" || self === undefined) return;
    if (self.maybeUpdate(this.log.stable) && this.maybeCommit()) this.broadcastPending = true;
  }

  private send(m: Message): void {
    this.outbox.push(m);
  }

  /** A message from this node in its current term. */
  private reply(type: MessageType, to: NodeId, fields: Partial<Message> = {}): void {
    this.outbox.push(makeMessage({ type, from: this.id, to, term: this.term, ...fields }));
  }

  checkInvariants(): void {
    const last = this.log.lastIndex();
    assert(this.log.committed <= last, "commit beyond last index");
    assert(this.log.applied <= this.log.applying && this.log.applying <= this.log.committed, "applied ≤ applying ≤ commit");
    assert(this.log.stable <= this.log.inProgress && this.log.inProgress <= last, "stable ≤ in progress ≤ last index");
    assert(this.log.lastTerm() <= this.term, () => `last entry term ${this.log.lastTerm()} above current term ${this.term}`);
    if (this.role === "leader") {
      assert(this.leader === this.id && this.vote === this.id, "a leader voted for itself and leads");
      let snapshotsInFlight = 0;
      for (const [, progress] of this.progress) {
        progress.checkInvariants(last);
        if (progress.state === "snapshot" && !this.snapshotOverdue(progress)) snapshotsInFlight++;
      }
      assert(snapshotsInFlight <= 1, () => `the leader sends ${snapshotsInFlight} snapshots at once`);
      for (const member of this.confState().members) assert(this.progress.has(member.id), () => `leader has no progress for ${member.id}`);
    } else {
      assert(this.leader !== this.id, "a non-leader does not name itself leader");
      assert(this.progress.size === 0, "only a leader tracks progress");
    }
  }
}
