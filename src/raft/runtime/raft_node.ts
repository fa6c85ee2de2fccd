/**
 * A running Raft node: the pure core (RawNode) driven by a clock, a durable log (LogStore) and
 * the network (Transport), behind an API for the layer above — propose() with the state machine's
 * result, readIndex() for linearizable reads, membership changes, leadership transfer, status.
 *
 * The loop is the shared driver (raft_driver.ts), which the simulator runs too: inputs (messages,
 * ticks, requests) queue while a Ready is persisted, so each durable write carries everything
 * that arrived during the previous one (group commit), and messages leave only once what they
 * depend on is durable. This file supplies its storage, network and clock and what committed
 * entries do here. A node that cannot write its log stops and reports a fatal error: Raft's
 * promises rest on durability, so continuing would be worse than stopping.
 */
import { randomInt } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { createPrng } from "../../lib/prng.js";
import { decodeConfChange } from "../codec.js";
import { DEFAULT_TUNABLES, type RaftConfig, type RaftTunables } from "../config.js";
import { describeConfState } from "../membership.js";
import type { ProposeResult } from "../raft.js";
import { RawNode } from "../raw_node.js";
import type { ConfChange, Entry, LogIndex, Message, NodeId, Term } from "../types.js";
import { InboundHeartbeats } from "./inbound_heartbeats.js";
import { LogStore } from "./log_store.js";
import { decodeEnvelope, encodeEnvelope, SessionTable } from "./proposals.js";
import { type DriverHost, RaftDriver, type Storage, type StorageOutcome } from "./raft_driver.js";
import type {
  PeerContact,
  Proposed,
  RaftNodeError,
  RaftNodeErrorCode,
  RaftNodeOptions,
  RaftNodeStatus,
} from "./raft_node_types.js";
import { RaftNodeFailure } from "./raft_node_types.js";
import { initialState, restoreStateMachine } from "./raft_node_startup.js";
import { decodeSnapshotData, encodeSnapshotData } from "./snapshot_container.js";
import { Transport } from "./transport.js";
import { DEFAULT_TRANSPORT_LIMITS, type TransportLimits } from "./transport_limits.js";
import { Waiters } from "./waiters.js";
import { wallClockMs } from "./wall_clock.js";

export const PROPOSE_TIMEOUT_MS_DEFAULT = 5000;

/**
 * Time reaches the core in ticks of at most this much, whatever the heartbeat interval: the
 * election timeout is randomized in whole ticks, and a heartbeat of 250 ms as the tick would
 * leave only four values to choose from (split votes). Ticks cost nothing while nothing is due
 * (armTickTimer wakes for the next event only).
 */
export const TICK_MS_MAX = 50;

/**
 * A snapshot costs in proportion to the state (encoding, checksum, a synced write of it; about
 * 250 ms for the state of 2,000 clusters), and blocks the loop while it is taken: the log is
 * compacted after snapshotEveryEntries entries, or after one entry per this many bytes of the
 * last snapshot if that is more, so a large state is snapshotted less often (issue 13).
 */
export const SNAPSHOT_BYTES_PER_ENTRY_MAX = 64;

/**
 * What replicating to one follower may cost the leader's loop at once (issue 14): a follower that
 * comes back after a partition is caught up in appends of at most 1 MiB, at most 4 MiB and 64
 * of them in flight, so one answer releases at most a few MiB of encoding into the loop. The
 * transport queues a full window of appends (queueAppendsMax; checked at start).
 */
export const RUNTIME_TUNABLES: Partial<RaftTunables> = {
  maxMessageBytes: 1024 * 1024,
  maxInflightMessages: 64,
  maxInflightBytes: 4 * 1024 * 1024,
};

/** After the leader's connection closed, a follower campaigns within this (random, so the survivors do not split the vote). */
export const CAMPAIGN_AFTER_LEADER_LOSS_MS_MAX = 300;

/** The tick: the largest divisor of the heartbeat interval, at most TICK_MS_MAX, that divides the election timeout too. */
export function tickMsFor(heartbeatMs: number, electionTimeoutMs: number): number {
  for (let k = Math.ceil(heartbeatMs / TICK_MS_MAX); k <= heartbeatMs; k++) {
    if (heartbeatMs % k === 0 && electionTimeoutMs % (heartbeatMs / k) === 0) return heartbeatMs / k;
  }
  return heartbeatMs;
}

const REFUSALS: Record<string, { code: RaftNodeErrorCode; message: string }> = {
  noLeader: { code: "noLeader", message: "no Raft leader is known right now (an election may be in progress); retry shortly" },
  notLeader: { code: "notLeader", message: "this node is not the Raft leader" },
  transferring: { code: "transferring", message: "Raft leadership is being transferred; retry shortly" },
  overloaded: { code: "overloaded", message: "too many proposals are waiting to commit; retry later" },
  tooLarge: { code: "tooLarge", message: "the proposal is larger than the maximum proposal size" },
  pendingConfChange: { code: "pendingConfChange", message: "another membership change is still in progress; retry when it has committed" },
  invalidConfChange: { code: "invalidConfChange", message: "the membership change is not valid" },
};

export class RaftNode<Result> {
  private readonly log: Logger;
  private readonly driver: RaftDriver;
  private stopped = false;
  /** The store's compaction in flight (`cycle` is its write): stop() waits for both before closing it. */
  private compaction: Promise<void> = Promise.resolve();
  /** Time is delivered to the core lazily: `lastTickAt` is when the last tick delivered was due. */
  private lastTickAt: number;
  private tickTimer: NodeJS.Timeout | null = null;
  private nextSeq = 1;
  private nextReadId = 1;
  private readonly proposals = new Waiters<Proposed<Result>>();
  private readonly reads = new Waiters<LogIndex>();
  /** Reads confirmed by the leader, waiting until this node has applied up to their index. */
  private readsAwaitingApply: { index: LogIndex; id: number }[] = [];
  /** Membership changes by log index, with the term they were proposed in. */
  private readonly confChanges = new Waiters<LogIndex>();
  private readonly confChangeTerms = new Map<number, Term>();
  private readonly appliedListeners = new Set<(index: LogIndex) => void>();
  private readonly lastContact = new Map<NodeId, number>();
  private sessions: SessionTable;
  private applied: LogIndex;
  private snapshotIndex: LogIndex;
  /** Size of the last snapshot taken or installed: a large state is snapshotted less often. */
  private lastSnapshotBytes = 0;
  private peersKey = "";
  private writes = 0;
  private entriesWritten = 0;
  private cycle: Promise<void> = Promise.resolve();
  /** Heartbeats and answers waiting to be stepped, one per sender (inbound_heartbeats.ts). */
  private readonly heartbeats = new InboundHeartbeats();

  private constructor(
    private readonly options: RaftNodeOptions<Result>,
    private readonly raw: RawNode,
    private readonly store: LogStore,
    private transport: Transport | null,
    private readonly incarnation: number,
    sessions: SessionTable,
    private readonly fresh: boolean,
    /** The core's tick (tickMsFor). */
    private readonly tickMs: number,
  ) {
    this.log = options.logger.child({ component: "raft" });
    this.sessions = sessions;
    const status = raw.status();
    this.applied = status.applied;
    this.snapshotIndex = status.snapshotIndex;
    this.lastTickAt = performance.now();
    this.driver = new RaftDriver({
      raw,
      storage: this.storage(),
      network: { send: (messages) => this.transport!.send(messages) },
      clock: { wallMs: wallClockMs, monotonicMs: () => performance.now(), defer: (run) => setImmediate(run) },
      host: this.host(),
      logger: this.log,
    });
  }

  static async start<Result>(options: RaftNodeOptions<Result>): Promise<E.Either<RaftNodeError, RaftNode<Result>>> {
    const log = options.logger.child({ component: "raft" });
    assert(Number.isInteger(options.electionTimeoutMs / options.heartbeatMs) && options.electionTimeoutMs >= 2 * options.heartbeatMs, "election timeout must be a multiple (≥ 2) of the heartbeat interval");
    const tickMs = tickMsFor(options.heartbeatMs, options.electionTimeoutMs);
    const electionTimeoutTicks = options.electionTimeoutMs / tickMs;
    const heartbeatTicks = options.heartbeatMs / tickMs;
    assert(Number.isInteger(electionTimeoutTicks) && Number.isInteger(heartbeatTicks), "the tick divides both intervals");
    const opened = await LogStore.open(options.dataDir, { clusterId: options.clusterId, nodeId: options.nodeId }, log);
    // A damaged log is its own code: the agent tells the operator how to bring the node back.
    if (E.isLeft(opened)) return E.left({ code: opened.left.code === "corrupt" ? "damagedLog" : "startup", message: opened.left.message });
    const { store, state } = opened.right;
    const initial = await initialState(options, store, state);
    if (E.isLeft(initial)) {
      await store.close();
      return initial;
    }
    const sessions = restoreStateMachine(options, initial.right);
    if (E.isLeft(sessions)) {
      await store.close();
      return sessions;
    }
    const config: RaftConfig = {
      ...DEFAULT_TUNABLES,
      ...RUNTIME_TUNABLES,
      ...options.tunables,
      electionTimeoutTicks,
      heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      id: options.nodeId,
      prng: createPrng(options.randomSeed ?? randomInt(0, 2 ** 31)),
      logger: log,
    };
    // Queued messages older than an election timeout no longer matter (transport_freshness.ts).
    const transportLimits: Partial<TransportLimits> = { queueMessageAgeMaxMs: options.electionTimeoutMs, ...options.transportLimits };
    const appendsQueuedMax = transportLimits.queueAppendsMax ?? DEFAULT_TRANSPORT_LIMITS.queueAppendsMax;
    assert(config.maxInflightMessages <= appendsQueuedMax, "the transport must queue a full window of appends: queueAppendsMax ≥ maxInflightMessages");
    const raw = new RawNode(config, initial.right);
    // A directory created by this start for a new group: peers that refuse its store id knew this
    // node with another directory, which was emptied or replaced (not a joining node, whose peers
    // may lag behind its removal and re-addition for a while).
    const fresh = state.incarnation === 1 && (options.initialMembers?.length ?? 0) > 0;
    const node = new RaftNode(options, raw, store, null, state.incarnation, sessions.right, fresh, tickMs);
    const transport = await Transport.start({
      selfId: options.nodeId,
      clusterId: options.clusterId,
      secret: options.secret,
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      logger: options.logger,
      admitNonMembers: true,
      storeId: store.storeId,
      knownStore: (peer) => store.peerStores().get(peer) ?? null,
      limits: transportLimits,
    }, {
      onMessages: (messages) => node.receive(messages),
      onPeerStore: (peer, storeId) => node.rememberPeerStore(peer, storeId),
      onStoreRefused: (peer) => node.storeRefused(peer),
      onPeerUnreachable: (peer) => node.input(() => node.raw.reportUnreachable(peer)),
      onSnapshotFailed: (peer) => node.input(() => node.raw.reportSnapshot(peer, false)),
      onPeerDisconnected: (peer) => node.leaderMayBeGone(peer),
    });
    if (E.isLeft(transport)) {
      await store.close();
      return E.left({ code: "startup", message: transport.left.message });
    }
    node.transport = transport.right;
    node.updatePeers();
    node.armTickTimer();
    const status = raw.status();
    log.info({ term: status.term, commit: status.commit, lastIndex: status.lastIndex, members: describeConfState(status.confState), incarnation: state.incarnation }, "raft node started");
    node.schedule();
    return E.right(node);
  }

  get port(): number {
    assert(this.transport !== null, "transport started");
    return this.transport.port;
  }

  // ---- API for the layer above ------------------------------------------------------------------

  /** Replicates `payload`; resolves with its log index and the state machine's result once applied here. */
  propose(payload: Uint8Array, timeoutMs = PROPOSE_TIMEOUT_MS_DEFAULT): Promise<Proposed<Result>> {
    if (this.stopped) return Promise.reject(new RaftNodeFailure("stopped", "the Raft node is stopped"));
    const seq = this.nextSeq++;
    const result = this.proposals.wait(seq, timeoutMs, "the proposal was not applied in time; its outcome is unknown");
    this.input(() => {
      const proposed = this.raw.propose(encodeEnvelope({ origin: this.options.nodeId, incarnation: this.incarnation, seq, payload }));
      if (!proposed.ok) this.proposals.reject(seq, refusal(proposed));
    });
    return result;
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node has applied everything that
   * was committed when the read was issued, so its state machine can then answer the read.
   */
  readIndex(timeoutMs = PROPOSE_TIMEOUT_MS_DEFAULT): Promise<LogIndex> {
    if (this.stopped) return Promise.reject(new RaftNodeFailure("stopped", "the Raft node is stopped"));
    const id = this.nextReadId++;
    const result = this.reads.wait(id, timeoutMs, "the read could not be confirmed by a quorum in time");
    this.input(() => {
      if (!this.raw.readIndex(id)) this.reads.reject(id, new RaftNodeFailure("noLeader", REFUSALS["noLeader"]!.message));
    });
    return result;
  }

  /** On the leader: adds, promotes, demotes or removes a member; resolves when the change is applied here. */
  proposeConfChange(change: ConfChange, timeoutMs = PROPOSE_TIMEOUT_MS_DEFAULT): Promise<LogIndex> {
    if (this.stopped) return Promise.reject(new RaftNodeFailure("stopped", "the Raft node is stopped"));
    return new Promise((resolve, reject) => {
      this.input(() => {
        const proposed = this.raw.proposeConfChange(change);
        if (!proposed.ok) {
          const failure = refusal(proposed);
          const detail = proposed.reason === "invalidConfChange" || proposed.reason === "pendingConfChange" ? `: ${this.raw.lastConfChangeRefusal()}` : "";
          reject(new RaftNodeFailure(failure.code, `${failure.message}${detail}`));
          return;
        }
        assert(proposed.index !== null, "a leader's conf change has an index");
        this.confChangeTerms.set(proposed.index, this.raw.status().term);
        this.confChanges.wait(proposed.index, timeoutMs, "the membership change did not commit in time; check the cluster status").then(resolve, reject);
      });
    });
  }

  transferLeadership(target: NodeId): void {
    this.input(() => this.raw.transferLeader(target));
  }

  campaign(): void {
    this.input(() => this.raw.campaign());
  }

  /** Called after each batch of applied entries with the last applied index. Returns an unsubscribe. */
  onApplied(listener: (index: LogIndex) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  appliedIndex(): LogIndex {
    return this.applied;
  }

  status(): RaftNodeStatus {
    const peers = this.transport?.peerStatus() ?? new Map();
    const contacts: PeerContact[] = [...peers.entries()].map(([id, p]) => ({ id, connected: p.connected, lastContactMs: this.lastContact.get(id) ?? null }));
    return {
      ...this.raw.status(),
      contacts,
      incarnation: this.incarnation,
      writes: this.writes,
      entriesWritten: this.entriesWritten,
      loopStallMaxMs: this.driver.stallMaxMs(),
      loopStallRecentMaxMs: this.driver.stallRecentMaxMs(),
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.driver.stop();
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    await this.cycle;
    await this.compaction;
    const failure = new RaftNodeFailure("stopped", "the Raft node stopped");
    this.proposals.rejectAll(failure);
    this.reads.rejectAll(failure);
    this.confChanges.rejectAll(failure);
    await this.transport?.stop();
    await this.store.close();
    this.log.info({}, "raft node stopped");
  }

  // ---- peers' data directories (log_store_peers.ts) ----------------------------------------

  private rememberPeerStore(peer: NodeId, storeId: string): void {
    if (this.stopped) return;
    void this.store.recordPeerStore(peer, storeId).then((recorded) => {
      if (E.isLeft(recorded)) this.fail(new RaftNodeFailure("storage", `cannot remember the Raft data directory of node ${peer}: ${recorded.left.message}`));
      else this.log.info({ peer, storeId }, `remembering node ${peer}'s Raft data directory ${storeId}`);
    });
  }

  /**
   * A peer knew this node with another Raft data directory. A directory this start created for
   * a new group is then an emptied or replaced one: the node must not vote with it, and it
   * records that it never will (it stops, and refuses to start again). Otherwise the peer may
   * lag behind this node's removal and re-addition; its refusal alone keeps the two apart.
   */
  private storeRefused(peer: NodeId): void {
    if (this.stopped) return;
    const why = `node ${peer} knew node ${this.options.nodeId} with another Raft data directory: this one (${this.options.dataDir}, created at this start) replaced it, ` +
      "so this node may have lost entries and votes it acknowledged; it must not rejoin the group with it";
    if (!this.fresh) {
      this.log.error({ peer }, `node ${peer} refuses this node: it remembers another Raft data directory for it. If this node's Raft data was lost or replaced, remove it from the group and add it back; right after such a removal and addition, ${peer} accepts it once it has caught up`);
      return;
    }
    void this.store.markReplaced(why).then(() => this.fail(new RaftNodeFailure("damagedLog", why)));
  }

  // ---- the loop --------------------------------------------------------------------------------

  /** Steps messages in order, except that heartbeats and answers waiting are merged per sender. */
  private receive(messages: Message[]): void {
    const now = Date.now();
    for (const message of messages) {
      this.lastContact.set(message.from, now);
      const slot = this.heartbeats.admit(message);
      if (slot === null) this.input(() => this.raw.step(message));
      else if (slot !== "merged") this.input(() => this.raw.step(this.heartbeats.take(slot)));
    }
  }

  private input(run: () => void): void {
    if (this.stopped) return;
    this.driver.input(run);
  }

  private schedule(): void {
    this.driver.schedule();
  }

  /**
   * The connection from our leader closed: its process probably died. Forget it and campaign
   * after a short random delay (so the survivors do not split the vote), instead of waiting for
   * the election timeout. If the leader is alive, its next heartbeat restores it and the
   * campaign is skipped; a pre-vote would not disturb it anyway.
   */
  private leaderMayBeGone(peer: NodeId): void {
    this.input(() => {
      if (this.raw.status().leader !== peer) return;
      this.raw.forgetLeader();
      const delayMs = randomInt(0, CAMPAIGN_AFTER_LEADER_LOSS_MS_MAX);
      setTimeout(() => this.input(() => {
        const status = this.raw.status();
        if (status.role === "follower" && status.leader === null) this.raw.campaign();
      }), delayMs);
    });
  }

  /**
   * The durable log, as the driver sees it. The promises are kept so that stop() can wait for a
   * write or a compaction in flight before it closes the store.
   */
  private storage(): Storage {
    const outcome = (result: E.Either<{ message: string }, unknown>): StorageOutcome =>
      E.isLeft(result) ? { ok: false, message: result.left.message } : { ok: true };
    return {
      write: (write, done) => {
        this.cycle = this.store.write(write).then((written) => done(outcome(written)));
      },
      compact: (snapshot, done) => {
        this.compaction = this.store.compact(snapshot).then((compacted) => done(outcome(compacted)));
      },
    };
  }

  /** What the driver's cycles do here: ticks, the state machine, waiters, peers, compaction. */
  private host(): DriverHost {
    const notifyApplied = (): void => {
      for (const listener of this.appliedListeners) listener(this.applied);
    };
    return {
      beginCycle: () => this.deliverTicks(),
      apply: (entry) => this.apply(entry),
      readState: (read) => {
        if (this.reads.has(read.requestId)) this.readsAwaitingApply.push({ index: read.index, id: read.requestId });
      },
      appliedReady: (ready) => {
        this.serveReads();
        if (ready.committedEntries.length > 0) notifyApplied();
      },
      restoreSnapshot: (snapshot) => {
        this.restoreSnapshot(snapshot.data, snapshot.meta.index);
        notifyApplied();
      },
      advanced: (ready) => {
        if (ready.softState !== null || ready.snapshot !== null || ready.entries.some((e) => e.type === "config")) this.updatePeers();
      },
      written: (write) => {
        this.writes++;
        this.entriesWritten += write.entries.length;
      },
      completed: () => this.maybeCompact(),
      compacted: (snapshot) => {
        if (snapshot.meta.index > this.snapshotIndex) this.snapshotIndex = snapshot.meta.index;
        this.log.debug({ index: snapshot.meta.index, bytes: snapshot.data.length }, "compacted the Raft log");
      },
      endCycle: () => this.armTickTimer(),
      fail: (why, error) => this.fail(asFailure(why, error)),
    };
  }

  /**
   * Delivers every tick that fell due since the last one, before the inputs that followed them.
   * After a long stall (the process was stopped or starved; recordStall says so) at most two
   * election timeouts' worth are delivered: more would only repeat heartbeats that can no longer
   * matter.
   */
  private deliverTicks(): void {
    const tickMs = this.tickMs;
    const due = Math.floor((performance.now() - this.lastTickAt) / tickMs);
    const cap = 2 * Math.round(this.options.electionTimeoutMs / tickMs);
    for (let i = 0; i < Math.min(due, cap); i++) this.raw.tick();
    this.lastTickAt += due * tickMs;
  }

  /**
   * Wakes up when the next tick that matters is due (a leader's heartbeat, a follower's election
   * timeout), not every tick: an idle follower then wakes only for its leader's messages.
   */
  private armTickTimer(): void {
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    const dueAt = this.lastTickAt + this.raw.ticksUntilNextEvent() * this.tickMs;
    this.tickTimer = setTimeout(() => {
      this.tickTimer = null;
      this.driver.noteDue(dueAt);
      this.schedule();
    }, Math.max(1, Math.ceil(dueAt - performance.now())));
  }

  private apply(entry: Entry): void {
    this.applied = entry.index;
    if (entry.type === "config") {
      this.settleConfChange(entry);
      return;
    }
    if (entry.data.length === 0) return;
    const envelope = decodeEnvelope(entry.data);
    if (E.isLeft(envelope)) {
      this.log.error({ index: entry.index, error: envelope.left }, "skipping a log entry that is not a proposal envelope");
      return;
    }
    const { origin, incarnation, seq, payload } = envelope.right;
    const admitted = this.sessions.admit(envelope.right);
    const applied = admitted ? this.applyToStateMachine(payload, entry) : null;
    if (origin !== this.options.nodeId || incarnation !== this.incarnation) return;
    if (applied === null) this.proposals.reject(seq, new RaftNodeFailure("outcomeUnknown", "the proposal was delivered twice or out of order; whether it was applied is unknown"));
    else if ("failure" in applied) this.proposals.reject(seq, new RaftNodeFailure("applyFailed", applied.failure));
    else this.proposals.resolve(seq, { index: entry.index, result: applied.result });
  }

  /**
   * The state machine must not throw (StateMachine's contract). If it does, that is a bug — but
   * stopping every node that applies the entry, again at every restart, is worse than the bug:
   * the entry is logged at error level with its index and answered as failed, and the node goes
   * on. A deterministic state machine throws on every node alike, so they stay identical.
   */
  private applyToStateMachine(payload: Uint8Array, entry: Entry): { result: Result } | { failure: string } {
    try {
      return { result: this.options.stateMachine.apply(payload, { index: entry.index, term: entry.term, timeMs: entry.timeMs }) };
    } catch (error: unknown) {
      const detail = error instanceof Error ? error.stack ?? error.message : String(error);
      this.log.error({ index: entry.index, term: entry.term, error: detail }, `applying entry ${entry.index} failed (a bug in the state machine); the entry is skipped`);
      return { failure: `applying entry ${entry.index} failed inside the state machine: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  private settleConfChange(entry: Entry): void {
    this.forgetRemovedPeer(entry);
    const term = this.confChangeTerms.get(entry.index);
    if (term === undefined) return;
    this.confChangeTerms.delete(entry.index);
    if (entry.term === term) this.confChanges.resolve(entry.index, entry.index);
    else this.confChanges.reject(entry.index, new RaftNodeFailure("notLeader", "leadership changed before the membership change committed; it was not applied"));
  }

  /**
   * A node removed from the group may come back with a new directory: forget its store id. Not
   * when the latest configuration has it again (a removal replayed at start, long before its
   * re-addition): the store id remembered then is its new directory's.
   */
  private forgetRemovedPeer(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    if (E.isLeft(change) || change.right.kind !== "remove" || change.right.id === this.options.nodeId) return;
    const peer = change.right.id;
    if (this.raw.confState().members.some((m) => m.id === peer)) return;
    void this.store.forgetPeerStore(peer).then((forgotten) => {
      if (E.isLeft(forgotten)) this.fail(new RaftNodeFailure("storage", `cannot forget the Raft data directory of removed node ${peer}: ${forgotten.left.message}`));
    });
  }

  private restoreSnapshot(data: Uint8Array, index: LogIndex): void {
    this.lastSnapshotBytes = data.length;
    const decoded = decodeSnapshotData(data);
    if (E.isLeft(decoded)) throw new RaftNodeFailure("storage", `cannot restore the snapshot at ${index}: ${decoded.left}`);
    const restored = this.options.stateMachine.restore(decoded.right.state);
    // The log itself is sound: the node keeps voting and replicating; its state machine says
    // what it cannot do until the next snapshot restores it.
    if (restored !== undefined && E.isLeft(restored)) this.log.error({ index, error: restored.left }, `the snapshot at ${index} does not hold a valid state: ${restored.left}`);
    this.sessions = decoded.right.sessions;
    this.applied = index;
    this.snapshotIndex = index;
    // Our proposals that the snapshot accounts for were applied or skipped; we cannot tell which.
    const last = this.sessions.lastSeq(this.options.nodeId, this.incarnation);
    for (const seq of this.proposals.keys()) {
      if (seq <= last) this.proposals.reject(seq, new RaftNodeFailure("outcomeUnknown", "a snapshot replaced the log before the proposal's result was seen; its outcome is unknown"));
    }
    this.log.info({ index }, "restored the state machine from a snapshot");
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const remaining: typeof this.readsAwaitingApply = [];
    for (const read of this.readsAwaitingApply) {
      if (read.index > this.applied) remaining.push(read);
      else this.reads.resolve(read.id, read.index);
    }
    this.readsAwaitingApply = remaining;
  }

  /**
   * Snapshots the state machine every `snapshotEveryEntries` applied entries. The write queues
   * behind any log write in progress; the in-memory log is compacted once it is durable.
   */
  private maybeCompact(): void {
    const every = Math.max(this.options.snapshotEveryEntries, Math.ceil(this.lastSnapshotBytes / (this.options.snapshotBytesPerEntry ?? SNAPSHOT_BYTES_PER_ENTRY_MAX)));
    if (this.driver.isCompacting() || this.applied - this.snapshotIndex < every) return;
    const snapshot = this.driver.compact(() => encodeSnapshotData(this.sessions, this.options.stateMachine.snapshot()));
    if (snapshot !== null) this.lastSnapshotBytes = snapshot.data.length;
  }

  /** The transport dials the members of the latest configuration (or the seeds while it knows none). */
  private updatePeers(): void {
    const peers = new Map<NodeId, string>();
    const members = this.raw.confState().members;
    for (const member of members) if (member.id !== this.options.nodeId) peers.set(member.id, member.address);
    if (members.length === 0) for (const [id, address] of this.options.seedPeers ?? []) if (id !== this.options.nodeId) peers.set(id, address);
    const key = [...peers.entries()].map(([id, address]) => `${id}@${address}`).sort().join(",");
    if (key === this.peersKey) return;
    this.peersKey = key;
    this.transport?.setPeers(peers);
    this.log.info({ peers: key }, "raft peers changed");
  }

  private fail(error: RaftNodeFailure): void {
    if (this.stopped) return;
    this.log.error({ code: error.code }, `raft node stopping: ${error.message}`);
    void this.stop().finally(() => this.options.onFatal(error));
  }
}

function refusal(result: ProposeResult): RaftNodeFailure {
  assert(!result.ok, "refusal of a refused proposal");
  const known = REFUSALS[result.reason] ?? { code: "notLeader" as const, message: result.reason };
  return new RaftNodeFailure(known.code, known.message);
}

/** The driver's reason to stop, as the node's failure: its own code if it threw one, else "storage". */
function asFailure(why: string, error: unknown): RaftNodeFailure {
  if (error instanceof RaftNodeFailure) return error;
  if (error === null) return new RaftNodeFailure("storage", why);
  return new RaftNodeFailure("storage", `${why}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
}
