/**
 * The contract between a Raft node and the layer above it (the DCS): what it supplies (a state
 * machine), what it gets (proposals with results, linearizable read barriers, status), and the
 * errors it must handle.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { Logger } from "../../lib/logger.js";
import type { RaftTunables } from "../config.js";
import type { RaftStatus } from "../raw_node.js";
import type { ConfMember, LogIndex, NodeId, Term } from "../types.js";
import type { TransportLimits } from "./transport_limits.js";

/** Where an applied entry sits in the log, and the time its leader stamped on it. */
export interface ApplyContext {
  readonly index: LogIndex;
  readonly term: Term;
  readonly timeMs: number;
}

/**
 * The replicated state machine. apply() must be deterministic: every node applies the same
 * entries in the same order and must reach the same state and results. It must not throw for
 * bad input (a command it cannot decode is answered with a result that says so).
 */
export interface StateMachine<Result> {
  apply(payload: Uint8Array, context: ApplyContext): Result;
  /** The whole state as bytes, at the last applied index. */
  snapshot(): Uint8Array;
  /**
   * Replaces the state by a snapshot taken on some node; Left with what is wrong when the bytes
   * are not a state (the state is then unchanged). Returning nothing counts as success.
   */
  restore(snapshot: Uint8Array): E.Either<string, void> | void;
}

export interface RaftNodeOptions<Result> {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly secret: string;
  readonly dataDir: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /**
   * The members of a brand-new cluster (the same list on each of them). Ignored once the data
   * directory holds a log. A node joining an existing cluster passes null and `seedPeers`.
   */
  readonly initialMembers: readonly ConfMember[] | null;
  /** Addresses of existing members, for a node that joins before it knows the configuration. */
  readonly seedPeers?: ReadonlyMap<NodeId, string>;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEveryEntries: number;
  /**
   * Or after one entry per this many bytes of the last snapshot, if that is more (default
   * SNAPSHOT_BYTES_PER_ENTRY_MAX, raft_node.ts); Infinity: after snapshotEveryEntries alone.
   */
  readonly snapshotBytesPerEntry?: number;
  readonly stateMachine: StateMachine<Result>;
  readonly logger: Logger;
  /** Called once when the node cannot continue safely (its log cannot be written). */
  readonly onFatal: (error: RaftNodeError) => void;
  readonly tunables?: Partial<Omit<RaftTunables, "electionTimeoutTicks" | "heartbeatTicks" | "preVote" | "checkQuorum">>;
  readonly transportLimits?: Partial<TransportLimits>;
  /** Seed of the election-timeout randomness; random by default. */
  readonly randomSeed?: number;
}

export type RaftNodeErrorCode =
  | "noLeader"
  | "notLeader"
  | "transferring"
  | "overloaded"
  | "tooLarge"
  | "timeout"
  | "outcomeUnknown"
  | "stopped"
  | "pendingConfChange"
  | "invalidConfChange"
  | "storage"
  | "startup"
  /** The stored log is damaged or lost entries this node acknowledged: it must not rejoin with it. */
  | "damagedLog"
  /** The state machine threw while applying the entry (a bug, logged with the entry's index). */
  | "applyFailed";

export interface RaftNodeError {
  readonly code: RaftNodeErrorCode;
  readonly message: string;
}

export class RaftNodeFailure extends Error implements RaftNodeError {
  override readonly name = "RaftNodeFailure";
  constructor(
    readonly code: RaftNodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Proposed<Result> {
  readonly index: LogIndex;
  readonly result: Result;
}

export interface PeerContact {
  readonly id: NodeId;
  readonly connected: boolean;
  /** Wall-clock ms of the last message received from this peer, or null. */
  readonly lastContactMs: number | null;
}

export interface RaftNodeStatus extends RaftStatus {
  readonly contacts: readonly PeerContact[];
  readonly incarnation: number;
  /** Durable writes and the entries they carried since start (entries per fsync = their ratio). */
  readonly writes: number;
  readonly entriesWritten: number;
  /**
   * The longest stall of the Raft loop (loop_stall.ts: from when work fell due until the loop had
   * done it), in ms, since start and over about the last minute.
   */
  readonly loopStallMaxMs: number;
  readonly loopStallRecentMaxMs: number;
}
