/**
 * What a leader knows about each follower: how much of the log matches (`match`), what to send
 * next (`next`), and how to send it. The three states follow etcd-raft's design doc:
 * - probe: we do not know where the follower's log ends; send one append at a time and wait;
 * - replicate: the follower is keeping up; pipeline appends optimistically, bounded by a window of
 *   in-flight messages and bytes (flow control);
 * - snapshot: the follower needs entries we compacted; a snapshot is on its way, send nothing else.
 *
 * Time since a snapshot was sent is counted in ticks (`snapshotSentTicksAgo`), never in answers:
 * a burst of answers that waited in a queue says nothing about how long the snapshot has been
 * travelling (issue 14: fifteen full resends within one millisecond after a partition healed).
 */
import { assert } from "../lib/assert.js";
import type { LogIndex } from "./types.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** A bounded window of in-flight append messages, freed as the follower acknowledges them. */
export class Inflights {
  private lastIndexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  count(): number {
    return this.lastIndexes.length - this.head;
  }

  full(): boolean {
    return this.count() >= this.maxMessages || this.bytes >= this.maxBytes;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), "adding to a full inflight window");
    const tail = this.lastIndexes[this.lastIndexes.length - 1];
    assert(this.count() === 0 || tail === undefined || lastIndex > tail, "inflight indexes must increase");
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees the oldest message: it was probably lost (see Raft.handleHeartbeatResponse). */
  freeFirstOne(): void {
    if (this.count() > 0) this.freeLE(this.lastIndexes[this.head]!);
  }

  /** Frees every message whose last entry is at or below `index`. */
  freeLE(index: number): void {
    while (this.head < this.lastIndexes.length && this.lastIndexes[this.head]! <= index) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.lastIndexes.length) {
      this.lastIndexes = this.lastIndexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  reset(): void {
    this.lastIndexes = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match: LogIndex = 0 as LogIndex;
  next: LogIndex;
  state: ProgressState = "probe";
  /** In probe state: an append is outstanding, wait for its answer or a heartbeat answer. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: LogIndex = 0 as LogIndex;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Consecutive refusals of entries the follower acknowledged (see Raft.handleRefusedAcknowledged). */
  refusedAcknowledged = 0;
  /**
   * Leader ticks since the last snapshot was sent to this follower, while it is not known to have
   * arrived (null: none sent, or the follower has since caught up). The leader sends this
   * follower another snapshot only once it reaches the election timeout (Raft.maySendSnapshot).
   */
  snapshotSentTicksAgo: number | null = null;
  /** Highest ReadIndex heartbeat round this follower has answered. */
  readRound = 0;
  readonly inflights: Inflights;

  constructor(next: LogIndex, maxInflightMessages: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMessages, maxInflightBytes);
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot; start probing right after it.
    const after = this.state === "snapshot" ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.state = "probe";
    this.probeSent = false;
    this.pendingSnapshot = 0 as LogIndex;
    this.next = (after + 1) as LogIndex;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.probeSent = false;
    // The follower's log matches ours: whatever snapshot it was sent has served its purpose.
    this.snapshotSentTicksAgo = null;
    this.next = (this.match + 1) as LogIndex;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.state = "snapshot";
    this.snapshotSentTicksAgo = 0;
    this.probeSent = false;
    this.pendingSnapshot = snapshotIndex;
    this.inflights.reset();
  }

  /** One leader tick passed. */
  tick(): void {
    if (this.snapshotSentTicksAgo !== null) this.snapshotSentTicksAgo++;
  }

  /** A successful append response: returns whether `match` moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index as LogIndex;
      updated = true;
      this.probeSent = false;
      this.refusedAcknowledged = 0;
    }
    if (this.next < index + 1) this.next = (index + 1) as LogIndex;
    return updated;
  }

  /**
   * A rejected append for `rejected` (the prev index we sent), with the follower's hint of where
   * to probe. Returns false when the rejection is stale (an answer to an older message).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = (this.match + 1) as LogIndex;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1) as LogIndex;
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  checkInvariants(lastIndex: number): void {
    assert(this.match <= lastIndex, () => `progress match ${this.match} beyond last index ${lastIndex}`);
    assert(this.next >= this.match + 1, () => `progress next ${this.next} not after match ${this.match}`);
    assert(this.state !== "snapshot" || this.snapshotSentTicksAgo !== null, "a follower in snapshot state was sent a snapshot");
  }
}
