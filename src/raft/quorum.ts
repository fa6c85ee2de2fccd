/**
 * Majority arithmetic over the voters of a configuration (single-server changes mean there is
 * always exactly one voter set, thesis §4.1).
 */
import { assert } from "../lib/assert.js";

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest value that at least a quorum of voters has reached: the commit rule of Raft §5.3
 * applied to match indexes, and the ReadIndex rule applied to acknowledged heartbeat rounds.
 */
export function quorumValue(values: readonly number[]): number {
  assert(values.length > 0, "a quorum value needs at least one voter");
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[quorumSize(values.length) - 1]!;
}

export type VoteResult = "won" | "lost" | "pending";

/** An election is won by a quorum of grants and lost once a quorum can no longer be reached. */
export function voteResult(votes: readonly (boolean | undefined)[]): VoteResult {
  const quorum = quorumSize(votes.length);
  const granted = votes.filter((v) => v === true).length;
  const rejected = votes.filter((v) => v === false).length;
  if (granted >= quorum) return "won";
  if (rejected > votes.length - quorum) return "lost";
  return "pending";
}
