/**
 * The one loop that drives the pure core (RawNode's contract, raw_node.ts): step the queued
 * inputs, take every Ready, apply what is committed, make the rest durable in one group write,
 * and only then send the messages that depend on it and advance. The runtime (raft_node.ts)
 * runs it with the LevelDB log, the WebSocket transport and the real clock; the simulator
 * (test/sim/sim_node.ts) with a simulated disk that has faults, a simulated network and virtual
 * time. Both therefore run the same persist-before-send ordering, and a mistake in it is a
 * mistake the simulator's checkers can catch (`bugs.sendBeforePersist`).
 *
 * It does no I/O itself and reads no clock: Storage, Network and Clock are small interfaces, and
 * what happens to committed entries (the state machine, proposals and reads waiting for them)
 * belongs to the host. Callbacks, not promises: the simulator runs synchronously on its event
 * queue, and a promise would run outside it.
 */
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import type { RawNode, Ready } from "../raw_node.js";
import type { Entry, Message, ReadState, Snapshot } from "../types.js";
import { LoopStallMeter } from "./loop_stall.js";
import { type MergedWrite, WriteBatcher } from "./write_batcher.js";

/** A write or a compaction either became durable or failed; a failed one stops the node. */
export type StorageOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface Storage {
  /** Makes `write` durable, then calls `done` once, later (never before returning). */
  write(write: MergedWrite, done: (outcome: StorageOutcome) => void): void;
  /** Stores `snapshot` durably and drops the log it covers, then calls `done` once, later or at once. */
  compact(snapshot: Snapshot, done: (outcome: StorageOutcome) => void): void;
}

export interface Network {
  /** Hands messages to the network; delivery is best effort (Raft retries). */
  send(messages: readonly Message[]): void;
}

export interface Clock {
  /** The wall clock, handed to the core at each cycle (RawNode.setClock: entries' timeMs). */
  wallMs(): number;
  /** A monotonic clock in ms, for the stall meter. */
  monotonicMs(): number;
  /** Runs `run` after the current turn (setImmediate in the runtime, the event queue in the simulator). */
  defer(run: () => void): void;
}

/** What the driver hands to the layer that owns the state machine, proposals and reads. */
export interface DriverHost {
  /** First thing in each cycle, before the queued inputs: the runtime delivers due ticks here. */
  beginCycle(): void;
  /** A committed entry, in log order; committed entries are durable on a quorum. */
  apply(entry: Entry): void;
  /** A read confirmed by a quorum, to be served once the host has applied up to its index. */
  readState(read: ReadState): void;
  /** One Ready's committed entries and read states were handed over. */
  appliedReady(ready: Ready): void;
  /** A snapshot became durable: the host restores its state machine from it. */
  restoreSnapshot(snapshot: Snapshot): void;
  /** One Ready was advanced (its write durable, its messages sent). */
  advanced(ready: Ready): void;
  /** A group write became durable; its batches complete next. */
  written(write: MergedWrite): void;
  /** The batches of one write (or of none) completed: the host may compact, check, notice. */
  completed(readies: readonly Ready[]): void;
  /** A compaction became durable and the core's log was compacted. */
  compacted(snapshot: Snapshot): void;
  /** The cycle ended (its group write started, if any): the runtime arms its tick timer here. */
  endCycle(): void;
  /** The loop cannot go on (a storage failure, or a broken invariant): the host stops the node. */
  fail(why: string, error: unknown): void;
}

/** Deliberate mistakes, switched on only by the simulator's tests to prove its checkers work. */
export interface DriverBugs {
  /** Every message leaves as soon as its Ready is taken, before the write it depends on is durable (votes included). */
  readonly sendBeforePersist: boolean;
}

export const NO_DRIVER_BUGS: DriverBugs = { sendBeforePersist: false };

/**
 * Ready batches one cycle may take without new input. The core hands out at most a few per
 * cycle (one, plus one per input that makes more ready while a write is in flight); one that
 * keeps producing them is a bug, not work.
 */
export const READY_PER_CYCLE_MAX = 1024;

export interface DriverOptions {
  readonly raw: RawNode;
  readonly storage: Storage;
  readonly network: Network;
  readonly clock: Clock;
  readonly host: DriverHost;
  readonly logger: Logger;
  readonly bugs?: DriverBugs;
  /** Defaults to READY_PER_CYCLE_MAX. */
  readonly readyPerCycleMax?: number;
}

export class RaftDriver {
  private inputs: (() => void)[] = [];
  private scheduled = false;
  private stopped = false;
  private compacting = false;
  private readonly batcher = new WriteBatcher();
  private readonly stalls = new LoopStallMeter();
  /** What the stretch of work being measured did, for the stall warning: Readies taken, entries applied and the time that took. */
  private work = { readies: 0, entries: 0, applyMs: 0 };
  /** When the earliest work not yet done by a cycle fell due (loop_stall.ts), or null. */
  private dueSinceMs: number | null = null;
  private readonly bugs: DriverBugs;
  private readonly readyPerCycleMax: number;

  constructor(private readonly options: DriverOptions) {
    this.bugs = options.bugs ?? NO_DRIVER_BUGS;
    this.readyPerCycleMax = options.readyPerCycleMax ?? READY_PER_CYCLE_MAX;
    assert(this.readyPerCycleMax >= 1, "a cycle takes at least one Ready");
  }

  /** Queues an input for the next cycle: it runs against the core before the cycle takes its Ready. */
  input(run: () => void): void {
    if (this.stopped) return;
    this.inputs.push(run);
    this.schedule();
  }

  /** Runs a cycle soon, unless one is already scheduled. */
  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.noteDue(this.options.clock.monotonicMs());
    this.options.clock.defer(() => {
      this.scheduled = false;
      this.runCycle();
    });
  }

  /** Work fell due at `atMs` (monotonic): a cycle that starts later counts the wait as a stall. */
  noteDue(atMs: number): void {
    if (this.dueSinceMs === null || atMs < this.dueSinceMs) this.dueSinceMs = atMs;
  }

  /** Stops the loop: queued inputs are dropped, writes in flight complete into nothing. */
  stop(): void {
    this.stopped = true;
    this.inputs = [];
  }

  isStopped(): boolean {
    return this.stopped;
  }

  stallMaxMs(): number {
    return this.stalls.maxMs();
  }

  stallRecentMaxMs(): number {
    return this.stalls.recentMaxMs(this.options.clock.monotonicMs());
  }

  /**
   * Snapshots the core at what is applied with the host's `data`, writes it, and compacts the
   * in-memory log once it is durable. The write queues behind any log write in progress (in
   * the store). Returns the snapshot being written, or null when a compaction is already in
   * flight or there is nothing to compact.
   */
  compact(data: () => Uint8Array): Snapshot | null {
    if (this.compacting || this.stopped) return null;
    const snapshot = this.options.raw.createSnapshot(data());
    if (snapshot === null) return null;
    this.compacting = true;
    this.options.storage.compact(snapshot, (outcome) => {
      this.compacting = false;
      if (this.stopped) return;
      if (!outcome.ok) {
        this.options.host.fail(`cannot write a snapshot: ${outcome.message}`, null);
        return;
      }
      this.options.raw.compact(snapshot);
      this.options.host.compacted(snapshot);
    });
    return snapshot;
  }

  isCompacting(): boolean {
    return this.compacting;
  }

  /**
   * Steps every queued input, then takes what the core has ready. Committed entries are applied
   * at once (they are durable on a quorum); what must be persisted joins the next group write;
   * messages leave when their batch is durable, the leader's appends at once (thesis §10.2.1).
   */
  private runCycle(): void {
    if (this.stopped) return;
    const { clock, raw, host } = this.options;
    const startedAtMs = clock.monotonicMs();
    // Work that falls due during this cycle is the next cycle's.
    const dueAtMs = Math.min(this.dueSinceMs ?? startedAtMs, startedAtMs);
    this.dueSinceMs = null;
    raw.setClock(clock.wallMs());
    const inputs = this.inputs;
    this.inputs = [];
    try {
      host.beginCycle();
      for (const run of inputs) {
        if (this.stopped) return;
        run();
      }
      for (let taken = 0; !this.stopped && raw.hasReady(); taken++) {
        assert(taken < this.readyPerCycleMax, `the core produced ${taken} Ready batches in a row without new input`);
        this.takeReady(raw.ready());
        this.work.readies++;
      }
    } catch (error: unknown) {
      host.fail("raft loop failed", error);
      return;
    }
    if (this.stopped) return;
    this.startWrite();
    if (this.stopped) return;
    host.endCycle();
    this.recordStall(dueAtMs, startedAtMs);
  }

  private takeReady(ready: Ready): void {
    const { clock, network, host } = this.options;
    if (ready.sendBeforePersist || this.bugs.sendBeforePersist) network.send(ready.messages);
    const applyStartMs = ready.committedEntries.length > 0 ? clock.monotonicMs() : 0;
    for (const entry of ready.committedEntries) host.apply(entry);
    if (ready.committedEntries.length > 0) {
      this.work.entries += ready.committedEntries.length;
      this.work.applyMs += clock.monotonicMs() - applyStartMs;
    }
    for (const read of ready.readStates) host.readState(read);
    host.appliedReady(ready);
    this.batcher.add(ready);
  }

  /** Writes everything waiting as one durable batch, unless a write is already in progress. */
  private startWrite(): void {
    const batch = this.batcher.take();
    if (batch === null) return;
    if (batch.write === null) {
      this.completeGuarded(batch.readies);
      return;
    }
    const write = batch.write;
    this.options.storage.write(write, (outcome) => {
      this.batcher.written();
      if (this.stopped) return;
      if (!outcome.ok) {
        this.options.host.fail(`cannot write the Raft log: ${outcome.message}`, null);
        return;
      }
      const startedAtMs = this.options.clock.monotonicMs();
      this.options.host.written(write);
      if (!this.completeGuarded(batch.readies)) return;
      this.startWrite();
      this.schedule();
      this.recordStall(startedAtMs, startedAtMs);
    });
  }

  private completeGuarded(readies: readonly Ready[]): boolean {
    try {
      this.completeBatch(readies);
      return !this.stopped;
    } catch (error: unknown) {
      this.options.host.fail("raft loop failed", error);
      return false;
    }
  }

  /** The batches' writes are durable: send what waited for it, restore snapshots, advance. */
  private completeBatch(readies: readonly Ready[]): void {
    const { network, raw, host } = this.options;
    for (const ready of readies) {
      if (this.stopped) return;
      if (!ready.sendBeforePersist && !this.bugs.sendBeforePersist) network.send(ready.messages);
      if (ready.snapshot !== null) host.restoreSnapshot(ready.snapshot);
      raw.advance();
      host.advanced(ready);
    }
    if (!this.stopped) host.completed(readies);
  }

  /** One stretch of the loop's work that fell due at `dueAtMs` and started at `startedAtMs` ended now. */
  private recordStall(dueAtMs: number, startedAtMs: number): void {
    const endedAtMs = this.options.clock.monotonicMs();
    const stallMs = endedAtMs - dueAtMs;
    const work = this.work;
    this.work = { readies: 0, entries: 0, applyMs: 0 };
    if (!this.stalls.record(stallMs, endedAtMs)) return;
    const lateMs = Math.round(startedAtMs - dueAtMs);
    const busyMs = Math.round(endedAtMs - startedAtMs);
    const applyMs = Math.round(work.applyMs);
    const why = lateMs >= busyMs ? "was the process stopped or starved of CPU?" : `its own work took that long: ${work.entries} entries applied in ${applyMs} ms, ${work.readies} Ready batches`;
    this.options.logger.warn({ stallMs: Math.round(stallMs), lateMs, busyMs, entries: work.entries, applyMs, readies: work.readies }, `the raft loop stalled for ${Math.round(stallMs)} ms: it ran ${lateMs} ms late and worked ${busyMs} ms (${why})`);
  }
}
