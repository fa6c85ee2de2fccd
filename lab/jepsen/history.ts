/**
 * The recorded history of a run: every write attempt with its outcome, every DCS operation, every
 * fault (start and end), samples of who answered as primary, samples of each member's PostgreSQL
 * (timeline, WAL position, replication) beside its health answers, the primaries' timeline
 * histories, and each heal's convergence. Times are milliseconds on this process's monotonic
 * clock since the run started, so intervals compare across clients.
 */
import { performance } from "node:perf_hooks";

/** ok: acknowledged; fail: definitely not applied; unknown: may or may not have been applied. */
export type Outcome = "ok" | "fail" | "unknown";

export interface WriteEvent {
  readonly type: "write";
  /** "dsn" for the multi-host writer, else the node written to directly. */
  readonly writer: string;
  readonly id: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: Outcome;
  /** The node that acknowledged it and its timeline then (ok only). */
  readonly node: string | null;
  readonly timeline: number | null;
  /** pg_current_wal_lsn() right after the insert, as a decimal string (ok only). */
  readonly lsn: string | null;
  readonly error?: string;
}

export interface DcsEvent {
  readonly type: "dcs";
  readonly client: number;
  readonly op: "read" | "cas";
  readonly startMs: number;
  /** Infinity when the outcome is unknown. */
  readonly endMs: number;
  readonly node: string;
  /** read: the token seen; cas: the token expected. */
  readonly expected: string | null;
  /** cas: the token written. */
  readonly value: string | null;
  readonly ok: boolean | null;
}

export interface FaultEvent {
  readonly type: "fault";
  readonly name: string;
  readonly phase: "start" | "end";
  /** The schedule's step (episode) the fault belongs to: pairs a start with its end. */
  readonly step: number;
  readonly atMs: number;
  readonly detail: string;
  /** start only: the nodes the fault acted on (killed, froze, cut off, skewed …). */
  readonly victims?: readonly string[];
  /**
   * start only: whether the fault, when a victim is the Raft leader, also affects the primary of
   * that moment (its lease goes through the Raft leader: the renewals, and the times stamped on them).
   */
  readonly viaRaftLeader?: boolean;
  /** start only: who was the primary and who the Raft leader just before it (null: none or unknown). */
  readonly primary?: string | null;
  readonly raftLeader?: string | null;
}

export interface SampleEvent {
  readonly type: "sample";
  readonly atMs: number;
  /** Members answering 200 on GET /primary. */
  readonly primaries: readonly string[];
}

export interface ConvergenceEvent {
  readonly type: "convergence";
  /** The schedule's step that was healed (see FaultEvent.step). */
  readonly step: number;
  readonly afterFault: string;
  /** When the last fault of the step was healed. */
  readonly atMs: number;
  /**
   * Milliseconds from the heal to every member running, one primary, and every other member on
   * its timeline streaming from it (judged by PostgreSQL); null: not within the harness's wait.
   */
  readonly ms: number | null;
  /** The step's victims: milliseconds from the heal until each one was back (null: never in the wait). */
  readonly returning?: readonly { readonly node: string; readonly ms: number | null }[];
  /**
   * The longest Raft loop stall the agents that were not victims of the step had from the step's
   * start until 2 s after convergence (lab/jepsen/raft_stall.ts: their log for stalls over 200 ms,
   * their metrics below that); null: none answered (or every node was a victim).
   */
  readonly raftStallMs?: number | null;
}

/** What a standby's walreceiver said (pg_stat_wal_receiver), if it has one. */
export interface ReceiverFacts {
  readonly status: string;
  /** The node its sender_host belongs to (null: an address of no node). */
  readonly senderNode: string | null;
  readonly timeline: number | null;
}

/** One member's PostgreSQL as the harness read it (never the agent's opinion). */
export interface MemberFacts {
  readonly inRecovery: boolean;
  /**
   * IDENTIFY_SYSTEM's timeline: on a standby the timeline of the last replayed record, on a
   * primary the one it inserts on (pg_control_checkpoint() lags behind both until a checkpoint).
   */
  readonly timeline: number;
  /** In recovery the replay position, else the written position (pg_current_wal_lsn), decimal. */
  readonly lsn: string;
  readonly receiveLsn: string | null;
  /** pg_control_checkpoint().timeline_id, for the record. */
  readonly checkpointTimeline: number;
  /** pg_postmaster_start_time() in epoch ms: a change means PostgreSQL was restarted. */
  readonly postmasterStartMs: number;
  readonly receiver: ReceiverFacts | null;
  /** application_name of each walsender in state streaming (on a primary: who streams from it). */
  readonly streaming: readonly string[];
}

/**
 * One member in one sampling round: its PostgreSQL's facts, then the primary's timeline history,
 * then its health answers, then a check that its PostgreSQL session survived (so it was not
 * restarted — nor rewound — between the facts and the answers).
 */
export interface MemberSample {
  readonly type: "member";
  readonly node: string;
  /** When its facts were read. */
  readonly atMs: number;
  /** When its health answers came. */
  readonly answeredMs: number;
  /** null: PostgreSQL could not be asked (down, frozen, refusing). */
  readonly facts: MemberFacts | null;
  /** HTTP status of HEAD /replica and HEAD /read-only; null: no answer. */
  readonly replica: number | null;
  readonly readOnly: number | null;
  /** The session that read the facts still answered after the health checks. */
  readonly stable: boolean;
  /** The round's primary by PostgreSQL's facts (see divergence.ts), and its timeline; null: none clear. */
  readonly primary: string | null;
  readonly primaryTimeline: number | null;
}

/** A primary's `pg_wal/<timeline>.history`, recorded the first time a round used it. */
export interface TimelineHistoryEvent {
  readonly type: "timeline-history";
  readonly atMs: number;
  readonly node: string;
  readonly timeline: number;
  /** Each earlier timeline and the LSN (decimal) where this lineage left it. */
  readonly entries: readonly { readonly timeline: number; readonly switchpoint: string }[];
}

export type Event = WriteEvent | DcsEvent | FaultEvent | SampleEvent | ConvergenceEvent | MemberSample | TimelineHistoryEvent;

/** Milliseconds (0.1 ms steps) on this process's monotonic clock since the run's clock was made. */
export class RunClock {
  private readonly origin = performance.now();

  now(): number {
    return Math.round((performance.now() - this.origin) * 10) / 10;
  }
}

export class History extends RunClock {
  readonly events: Event[] = [];
  /** The wall clock (epoch ms) at the run's 0 ms, to find a moment in the agents' logs. */
  readonly epochMsAtZero = Date.now() - this.now();

  add(event: Event): void {
    this.events.push(event);
  }

  of<K extends Event["type"]>(type: K): Extract<Event, { type: K }>[] {
    return this.events.filter((e): e is Extract<Event, { type: K }> => e.type === type);
  }

  toJsonl(): string {
    return this.events.map((e) => JSON.stringify(e, (_k, v: unknown) => (v === Infinity ? "Infinity" : v))).join("\n") + "\n";
  }
}
