/**
 * Tunables of the Raft core, with their limits and the relations between them. Ticks are abstract:
 * the runtime decides how long one tick is (100 ms in production, per etcd's default heartbeat).
 */
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import type { Prng } from "../lib/prng.js";
import type { NodeId } from "./types.js";

export interface RaftConfig {
  readonly id: NodeId;
  /**
   * A follower that hears nothing from a leader for a random number of ticks in
   * [electionTimeoutTicks, 2 × electionTimeoutTicks) starts an election (Raft §5.2; etcd draws the
   * same range).
   */
  readonly electionTimeoutTicks: number;
  readonly heartbeatTicks: number;
  /** Raft thesis §9.6: a node first asks whether it could win before it bumps its term. */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum within an election timeout steps down (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Upper bound of the entries carried by one append message (one entry always fits). */
  readonly maxMessageBytes: number;
  /** Flow control: append messages in flight to one follower, by count and by bytes. */
  readonly maxInflightMessages: number;
  readonly maxInflightBytes: number;
  /** Proposals are refused ("overloaded") while this many bytes are appended but not committed. */
  readonly maxUncommittedBytes: number;
  /** Committed entries handed to the application in one Ready. */
  readonly maxCommittedBytesPerReady: number;
  /** The largest single proposal. */
  readonly maxProposalBytes: number;
  readonly prng: Prng;
  readonly logger: Logger;
}

export type RaftTunables = Omit<RaftConfig, "id" | "prng" | "logger">;

export const DEFAULT_TUNABLES: RaftTunables = {
  electionTimeoutTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxMessageBytes: 1024 * 1024,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxCommittedBytesPerReady: 16 * 1024 * 1024,
  maxProposalBytes: 8 * 1024 * 1024,
};

/** Hard ceilings: a configuration above them is a mistake, not a tuning. */
export const LIMITS = {
  electionTimeoutTicksMax: 1000,
  inflightMessagesMax: 4096,
  messageBytesMax: 64 * 1024 * 1024,
} as const;

export function validateConfig(config: RaftConfig): void {
  const positive = (value: number, name: string): void =>
    assert(Number.isSafeInteger(value) && value > 0, () => `raft config: ${name} must be a positive integer, got ${value}`);
  positive(config.electionTimeoutTicks, "electionTimeoutTicks");
  positive(config.heartbeatTicks, "heartbeatTicks");
  positive(config.maxMessageBytes, "maxMessageBytes");
  positive(config.maxInflightMessages, "maxInflightMessages");
  positive(config.maxInflightBytes, "maxInflightBytes");
  positive(config.maxUncommittedBytes, "maxUncommittedBytes");
  positive(config.maxCommittedBytesPerReady, "maxCommittedBytesPerReady");
  positive(config.maxProposalBytes, "maxProposalBytes");
  // Several heartbeats must fit in an election timeout, or followers campaign against a healthy
  // leader whenever one heartbeat is late (thesis §3.4: broadcastTime ≪ electionTimeout).
  assert(config.heartbeatTicks * 2 <= config.electionTimeoutTicks, "raft config: electionTimeoutTicks must be at least twice heartbeatTicks");
  assert(config.electionTimeoutTicks <= LIMITS.electionTimeoutTicksMax, "raft config: electionTimeoutTicks above its limit");
  assert(config.maxInflightMessages <= LIMITS.inflightMessagesMax, "raft config: maxInflightMessages above its limit");
  assert(config.maxMessageBytes <= LIMITS.messageBytesMax, "raft config: maxMessageBytes above its limit");
  assert(config.maxInflightBytes >= config.maxMessageBytes, "raft config: maxInflightBytes must hold at least one full message");
  assert(config.maxProposalBytes <= config.maxUncommittedBytes, "raft config: one proposal must fit under maxUncommittedBytes");
}
