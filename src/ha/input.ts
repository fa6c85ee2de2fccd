/**
 * What decide() sees and what it answers. Two clocks appear, never mixed:
 * - `nowMs` is this node's monotonic clock (the agent's), used for local deadlines: the lease
 *   deadline counted from when the renewal was sent, the time a crashed primary has had to start;
 * - the view's times (`view.nowMs`, lease expiry, last-seen) are entry times of the Raft log.
 */
import type { Lsn, MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import type { Action, PostgresActionKind } from "./actions.js";
import type { LocalPostgres } from "./observation.js";
import type { HaSettings } from "./settings.js";

/** The lease as this node holds it: granted at `generation`, safe until `deadlineMs` (local). */
export interface LocalLease {
  readonly generation: number;
  /** Local monotonic time the last successful acquire/renew was sent, plus the ttl. */
  readonly deadlineMs: number;
  /** Local monotonic time the last successful acquire/renew was sent: the next is due a loop_wait later. */
  readonly sentAtMs: number;
}

/** synchronous_standby_names as the executor last wrote it and PostgreSQL confirmed it (sync_planner.ts). */
export interface SyncApplied {
  /** The value in force; null when raftgres does not manage it (synchronous_mode off). */
  readonly value: string | null;
  /** Local time it was confirmed. */
  readonly atMs: number;
  /** The primary's WAL position observed SYNC_SETTLE_MS after that, or null before. */
  readonly lsn: bigint | null;
}

/** PostgreSQL failed to start, `failures` times in a row (the backoff: start_backoff.ts). */
export interface StartFailure {
  readonly failures: number;
  /** Local time of the last failure. */
  readonly atMs: number;
  /** Why, as PostgreSQL said it (its FATAL and PANIC lines) or the adapter's message. */
  readonly reason: string;
  /** Local time PostgreSQL was first seen running after the failures; null while it is not. */
  readonly runningSinceMs: number | null;
}

/** What the agent remembers between cycles (set by the executor from what happened). */
export interface HaMemory {
  /** Local time PostgreSQL was last seen to crash while this node held the lease. */
  readonly crashedAtMs: number | null;
  /** A running replica's replay position and since when (local time) it has not moved; else null. */
  readonly replaySince: { readonly lsn: Lsn; readonly sinceMs: number } | null;
  /** Why the last pg_rewind failed or could not run (then reinit, if allowed). */
  readonly rewindFailure: string | null;
  /** The source that rewind ran against (absent: not known; a standby leader then tries again). */
  readonly rewindFailedAgainst?: MemberName | null;
  /** The data directory was rewound or cloned from this member and not started since. */
  readonly preparedFrom: MemberName | null;
  /** Why this member last took the lease: a planned switchover, or a failover. */
  readonly tookLeaseFor: "switchover" | "failover" | null;
  /** The pre_promote hook failed: this member stays out of the race until then (local time). */
  readonly promotionBlockedUntilMs: number | null;
  /** synchronous_standby_names as last written and confirmed (null: not yet this agent's life). */
  readonly syncApplied: SyncApplied | null;
  /** The last starts of PostgreSQL failed: the next one backs off (start_backoff.ts). */
  readonly startFailure: StartFailure | null;
  /** The last syncSlots that succeeded: what it asked for (facts.ts slotsKey) and when (local). */
  readonly slotsSynced: { readonly key: string; readonly atMs: number } | null;
  /**
   * A linearizable read succeeded since this agent started: the view holds every entry committed
   * before it. Until then the view is the replayed local log, which may lag the cluster's by a
   * failover — no lease in it, and no newer timeline — so nothing is started or raced for.
   */
  readonly viewConfirmed: boolean;
  /**
   * This member stopped PostgreSQL and gave the lease up for an operator's switchover or
   * failover, and has not run PostgreSQL since: it starts as a replica of the new primary even in
   * pause, as the request's own demotion (Patroni's graceful demote follows the new leader).
   */
  readonly handedOver: boolean;
}

export const EMPTY_MEMORY: HaMemory = { crashedAtMs: null, replaySince: null, rewindFailure: null, preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: false, handedOver: false };

export interface HaInput {
  readonly me: MemberName;
  readonly nowMs: number;
  /** The scope as this node applied it; null when the scope has no state yet. */
  readonly view: ScopeView | null;
  readonly pg: LocalPostgres;
  readonly lease: LocalLease | null;
  readonly settings: HaSettings;
  readonly memory: HaMemory;
  /** A long PostgreSQL action is running (its kind), or null. */
  readonly busy: PostgresActionKind | null;
}

export interface HaDecision {
  readonly actions: readonly Action[];
  /** One short sentence for operators: what this cycle does and why. */
  readonly reason: string;
  /** Details (numbers, names) for the log and the status endpoint. */
  readonly detail: string;
  /** Run the next cycle this soon even if nothing changes: the decision waits on local progress. */
  readonly recheckMs?: number;
}
