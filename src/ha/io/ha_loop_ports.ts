/**
 * What the HA loop (ha_loop.ts) needs of the rest of the agent — the cluster state, client
 * routing, the watchdog — how it is configured, and what it tells: its status and its events.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { Command } from "../../dcs/commands.js";
import type { DcsFailure, Executed } from "../../dcs/client.js";
import type { Recorded } from "../../dcs/events.js";
import type { Scope } from "../../dcs/model.js";
import type { ScopeView } from "../../dcs/views.js";
import type { Logger } from "../../lib/logger.js";
import type { PostgresActionKind } from "../actions.js";
import type { HaDecision, HaMemory, LocalLease, StartFailure } from "../input.js";
import type { Identity } from "../member_status.js";
import type { LocalPostgres } from "../observation.js";
import type { PostgresPort } from "../ports.js";
import type { HaSettings, LocalHaSettings } from "../settings.js";
import type { LoopTimers } from "./loop_timers.js";

/** What the loop needs of the DCS client (src/dcs/client.ts provides it). */
export interface ClusterState {
  execute(scope: Scope, command: Command, options?: { timeoutMs?: number }): Promise<E.Either<DcsFailure, Executed>>;
  local(scope: Scope): ScopeView | null;
  /** A linearizable read: resolves once the local view holds every entry committed before the call. */
  read(scope: Scope, timeoutMs?: number): Promise<E.Either<DcsFailure, ScopeView | null>>;
  subscribe(scope: Scope, listener: (view: ScopeView, changes: readonly Recorded[]) => void): () => void;
}

/**
 * What the loop tells the client routing (HAProxy's runtime API: src/ha/io/haproxy_push.ts) and
 * when. Each call returns at once; only `settled` is awaited, bounded, before a switchover's
 * lease release.
 */
export interface RoutingHooks {
  /** PostgreSQL was just observed: what its health checks answer may have changed. */
  observed(): void;
  /** PostgreSQL is about to stop or be killed; `writable`: it may be taking writes. */
  stopping(writable: boolean): void;
  /** A promotion (or a start as the primary) just completed: PostgreSQL takes writes. */
  promoted(): void;
  /** Resolves once the pushes begun were tried once, or after `boundMs`. */
  settled(boundMs: number): Promise<void>;
  settleBoundMs(): number;
}

/** What the loop needs of the watchdog (src/ha/io/watchdog.ts provides it). */
export interface Fencing {
  /** Kill process group `processGroup` unless armed again before `deadlineMs` (monotonic ms). */
  arm(processGroup: number, deadlineMs: number, generation: number): void;
  disarm(): void;
}

export interface HaLoopOptions {
  readonly scope: Scope;
  readonly identity: Identity;
  readonly cluster: ClusterState;
  readonly postgres: PostgresPort;
  readonly fencing: Fencing;
  readonly local: LocalHaSettings;
  readonly logger: Logger;
  /** Monotonic milliseconds, the same clock as the watchdog's (CLOCK_MONOTONIC). */
  readonly clock: () => number;
  /** Patroni's pre_promote hook: null when it passed, else why it failed (the promotion is cancelled). */
  readonly prePromote?: () => Promise<string | null>;
  /**
   * Awaited before PostgreSQL stops to hand the primary role over (a switchover, or a failover
   * requested while it is healthy): pgbouncer's PAUSE (src/agent/pgbouncer_switchover.ts). It
   * must bound its own time; the lease is renewed meanwhile.
   */
  readonly beforeHandoverStop?: () => Promise<void>;
  /** Client routing told of every role change as it happens (haproxy_push.ts); none by default. */
  readonly routing?: RoutingHooks;
  /** Timers and the process-group kill; the real ones by default, virtual ones in a simulation. */
  readonly timers?: LoopTimers;
  /** Deliberate mistakes, switched on only by the simulator's tests to prove its checkers work. */
  readonly bugs?: HaBugs;
}

export interface HaBugs {
  /** The agent's own fence never fires: PostgreSQL keeps running past the lease's safe time. */
  readonly noFenceTimer?: boolean;
  /** decide() never sees a switchover or failover requested while the cluster is paused. */
  readonly ignorePausedSwitchover?: boolean;
  /**
   * A renewal without an answer counts as granted: the holder goes on past its lease's expiry
   * (the fence timer and the watchdog move with the deadline it believes in).
   */
  readonly renewWithoutAnswer?: boolean;
  /** Every cycle renews the lease, due or not (the renewal loop of issue 13: each renewal's apply runs a cycle). */
  readonly renewEveryCycle?: boolean;
}

/** What happened to PostgreSQL, for callbacks (Patroni's on_start, on_role_change …). */
export type HaEvent =
  | { readonly kind: "started" | "stopped" | "restarted" | "reloaded"; readonly role: string }
  | { readonly kind: "roleChanged"; readonly role: string; readonly from: string };

export interface HaStatus {
  readonly decision: HaDecision | null;
  /** Monotonic time the last cycle ended (the loop's start before the first). */
  readonly lastCycleMs: number;
  readonly busy: PostgresActionKind | null;
  readonly lease: LocalLease | null;
  readonly memory: HaMemory;
  readonly postgres: LocalPostgres | null;
  readonly settings: HaSettings;
  /** This member holds the lease of a standby cluster (it reports the role standby_leader). */
  readonly standbyLeader: boolean;
  /** The last starts of PostgreSQL failed (why, how often, when), or null. */
  readonly startFailure: StartFailure | null;
  /** What PostgreSQL refuses in its configuration, one sentence each (ports.ts); empty when none. */
  readonly configurationProblems: readonly string[];
  /** Why this member is off the primary's history and serves no reads (rejoin_check.ts), or null. */
  readonly diverged: string | null;
}

