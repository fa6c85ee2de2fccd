/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4). A read is answered with the commit index
 * at the time it arrived, once a quorum has answered a heartbeat round started after it: that
 * proves no newer leader existed when the read was taken, so reading at that index after it is
 * applied is linearizable.
 *
 * Heartbeat rounds are numbered; every read that arrives before the next broadcast joins the same
 * round, so a burst of reads costs one heartbeat per follower.
 */
import { assert } from "../lib/assert.js";
import type { LogIndex, NodeId } from "./types.js";

export interface PendingRead {
  readonly from: NodeId;
  readonly requestId: number;
  readonly index: LogIndex;
  readonly round: number;
}

export interface WaitingRead {
  readonly from: NodeId;
  readonly requestId: number;
}

export class ReadOnly {
  private round = 0;
  private pendingRound = false;
  private pending: PendingRead[] = [];
  private waitingForCommit: WaitingRead[] = [];

  reset(): void {
    this.round = 0;
    this.pendingRound = false;
    this.pending = [];
    this.waitingForCommit = [];
  }

  currentRound(): number {
    return this.round;
  }

  roundPending(): boolean {
    return this.pendingRound;
  }

  /** The round number to put in heartbeats now; starts a new round if reads are waiting for one. */
  startRoundIfPending(): number {
    if (this.pendingRound) {
      this.round++;
      this.pendingRound = false;
    }
    return this.round;
  }

  add(from: NodeId, requestId: number, index: LogIndex): void {
    this.pending.push({ from, requestId, index, round: this.round + 1 });
    this.pendingRound = true;
  }

  /** Reads confirmed by a quorum that has answered `confirmedRound`, in arrival order. */
  takeConfirmed(confirmedRound: number): PendingRead[] {
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.round <= confirmedRound) n++;
    if (n === 0) return [];
    const out = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    for (let i = 1; i < out.length; i++) assert(out[i - 1]!.round <= out[i]!.round, "read rounds are ordered");
    return out;
  }

  waitForCommit(from: NodeId, requestId: number): void {
    this.waitingForCommit.push({ from, requestId });
  }

  hasWaitingForCommit(): boolean {
    return this.waitingForCommit.length > 0;
  }

  takeWaitingForCommit(): WaitingRead[] {
    const out = this.waitingForCommit;
    this.waitingForCommit = [];
    return out;
  }
}
