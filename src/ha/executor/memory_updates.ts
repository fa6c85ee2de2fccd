/**
 * What the HA memory (input.ts HaMemory) and the rewind retry count become after each thing the
 * HA loop learns between decisions (issue 17 item 1): an observation of PostgreSQL, an
 * unexpected postmaster exit, the answer to a cluster-state command, the end of a PostgreSQL
 * action. Every rewrite of the memory is here, next to its reason; decide() reads the result.
 * Pure: the loop passes the facts and the time and logs the notes.
 */
import * as E from "fp-ts/lib/Either.js";
import type { DcsFailure, Executed } from "../../dcs/client.js";
import type { Command } from "../../dcs/commands.js";
import type { MemberName, PendingSwitchover } from "../../dcs/model.js";
import type { ScopeView } from "../../dcs/views.js";
import type { Action, PostgresAction } from "../actions.js";
import { slotsKey } from "../facts.js";
import type { HaMemory, LocalLease } from "../input.js";
import type { LocalPostgres } from "../observation.js";
import type { PgFailure, PgResult, PostmasterExit } from "../ports.js";
import { rewindVerdict } from "../rewind_outcome.js";
import { afterObservation, afterStartFailure, exitedTooSoon, startBackoffMs } from "../start_backoff.js";
import { SYNC_SETTLE_MS } from "../sync_planner.js";
import type { Note } from "./note.js";

export interface MemoryStep {
  readonly memory: HaMemory;
  readonly notes: readonly Note[];
}

/** The memory after an observation of PostgreSQL at `nowMs`. */
export function afterObserved(memory: HaMemory, pg: LocalPostgres, nowMs: number): MemoryStep {
  const notes: Note[] = [];
  let next = memory;
  const running = pg.process === "running";
  const startFailure = afterObservation(next.startFailure, running, nowMs);
  if (startFailure !== next.startFailure) {
    if (startFailure?.runningSinceMs === nowMs) notes.push({ level: "info", message: "PostgreSQL runs again after failed starts", fields: { failures: startFailure.failures } });
    next = { ...next, startFailure };
  }
  if (running && next.crashedAtMs !== null) next = { ...next, crashedAtMs: null };
  if (running && next.handedOver) next = { ...next, handedOver: false };
  // Since when a running replica's replay has not moved: a fact that does not flap with the WAL
  // receiver's state (rejoin_check.ts).
  const replayed = running && pg.role === "replica" ? pg.walReplayed : null;
  if (replayed === null && next.replaySince !== null) next = { ...next, replaySince: null };
  if (replayed !== null && next.replaySince?.lsn !== replayed) next = { ...next, replaySince: { lsn: replayed, sinceMs: nowMs } };
  // The WAL position once a new synchronous_standby_names is in force everywhere: standbys
  // flushed past it hold every commit acknowledged before (sync_planner.ts).
  const applied = next.syncApplied;
  if (applied !== null && applied.lsn === null && nowMs - applied.atMs >= SYNC_SETTLE_MS && pg.role === "primary" && pg.walWritten !== null) {
    next = { ...next, syncApplied: { ...applied, lsn: pg.walWritten } };
  }
  return { memory: next, notes };
}

/** One more failed start in the memory, and one line at error level per attempt. */
export function afterFailedStart(memory: HaMemory, reason: string, serverErrors: readonly string[], nowMs: number, message = reason): MemoryStep {
  const failure = afterStartFailure(memory.startFailure, reason, nowMs);
  const waitMs = startBackoffMs(failure.failures);
  const note: Note = {
    level: "error",
    message: `PostgreSQL did not start (failure ${failure.failures} in a row, next start in ${Math.round(waitMs / 1000)} s): ${reason}`,
    fields: { failures: failure.failures, nextStartInMs: waitMs, serverErrors, message },
  };
  return { memory: { ...memory, startFailure: failure }, notes: [note] };
}

/**
 * The memory after PostgreSQL exited without being asked to: a lease holder notes the crash (it
 * gives the lease up after primary_start_timeout), and an exit soon after failed starts is one
 * more failed start.
 */
export function afterUnexpectedExit(memory: HaMemory, exit: PostmasterExit, holdsLease: boolean, nowMs: number): MemoryStep {
  const notes: Note[] = [{ level: "warn", message: "PostgreSQL exited without being asked to", fields: { pid: exit.pid, code: exit.code, signal: exit.signal } }];
  let next = holdsLease && memory.crashedAtMs === null ? { ...memory, crashedAtMs: nowMs } : memory;
  const failure = next.startFailure;
  if (exitedTooSoon(failure, nowMs)) {
    const how = exit.signal !== null ? exit.signal : `exit code ${exit.code}`;
    const failed = afterFailedStart(next, `PostgreSQL exited (${how}) ${Math.round((nowMs - failure!.runningSinceMs!) / 1000)} s after it started, following failed starts`, [], nowMs);
    next = failed.memory;
    notes.push(...failed.notes);
  }
  return { memory: next, notes };
}

/**
 * The memory after the answer to a cluster-state command. `pending`: the request pending in the
 * view when the command was sent. Taking the lease remembers why (a planned switchover, else a
 * failover); giving it up for an operator's request to another member remembers the handover.
 */
export function afterCommandAnswer(memory: HaMemory, me: MemberName, command: Command, result: E.Either<DcsFailure, Executed>, pending: PendingSwitchover | null): HaMemory {
  if (E.isLeft(result)) return memory;
  if (command.kind === "acquireLease" && result.right.events.some((e) => e.kind === "leaseAcquired")) return { ...memory, tookLeaseFor: pending?.kind ?? "failover" };
  if (command.kind === "releaseLease" && pending !== null && pending.to !== me && (pending.from === null || pending.from === me)) return { ...memory, handedOver: true };
  return memory;
}

/** The memory after a short PostgreSQL action that succeeded; `wake`: run the next cycle now. */
export function afterShortAction(memory: HaMemory, action: Exclude<Action, { kind: "dcs" }>, nowMs: number): { readonly memory: HaMemory; readonly wake: boolean } {
  if (action.kind === "syncSlots") return { memory: { ...memory, slotsSynced: { key: slotsKey(action), atMs: nowMs } }, wake: false };
  // The next step of the synchronous state machine need not wait for the next tick, nor the one
  // after the value has settled.
  if (action.kind === "setSyncStandbyNames") return { memory: { ...memory, syncApplied: { value: action.value, atMs: nowMs, lsn: null } }, wake: true };
  return { memory, wake: false };
}

export interface LongActionStep extends MemoryStep {
  readonly rewindFailures: number;
}

/** What the loop knows when a long action ends, besides the memory. */
export interface LongActionContext {
  readonly nowMs: number;
  readonly lease: LocalLease | null;
  /** Failed rewinds in a row against the same healthy primary (rewind_outcome.ts). */
  readonly rewindFailures: number;
  /** The view when the action ended (who holds the lease and runs as the primary now). */
  readonly view: ScopeView | null;
  /** This member leads a standby cluster: it rewinds against the remote primary, whoever holds what here. */
  readonly standbyLeader: boolean;
}

/** The memory after a long action (start, stop, promote, rewind, clone …) ended with `result`. */
export function afterLongAction(memory: HaMemory, action: PostgresAction, result: PgResult, ctx: LongActionContext): LongActionStep {
  const notes: Note[] = [];
  let next = memory;
  if (E.isLeft(result) && action.kind === "start") {
    const failed = startFailedWith(next, result.left, ctx);
    next = failed.memory;
    notes.push(...failed.notes);
  } else if (E.isLeft(result)) notes.push({ level: "warn", message: `${action.kind} failed: ${result.left.message}`, fields: { code: result.left.code } });
  else notes.push({ level: "info", message: `${action.kind} done`, fields: {} });
  switch (action.kind) {
    case "rewind":
      if (E.isRight(result)) return { memory: { ...next, rewindFailure: null, rewindFailedAgainst: null, preparedFrom: action.source.member }, rewindFailures: 0, notes };
      return afterFailedRewind(next, action.source.member, result.left, ctx, notes);
    case "clone":
    case "reinit":
      if (E.isRight(result)) next = { ...next, rewindFailure: null, rewindFailedAgainst: null, preparedFrom: action.source.member };
      break;
    case "start":
      // Either way the preparation is used up: a replica that fails to start (its timeline is
      // not a child of the primary's, say) is looked at again, and rewound if it is behind.
      next = { ...next, preparedFrom: null };
      break;
    default:
      break;
  }
  return { memory: next, rewindFailures: ctx.rewindFailures, notes };
}

/** A failed start: PostgreSQL's own reason (its FATAL lines), else the first line of the adapter's. */
function startFailedWith(memory: HaMemory, failure: PgFailure, ctx: LongActionContext): MemoryStep {
  const serverErrors = failure.serverErrors ?? [];
  const reason = serverErrors.length > 0 ? serverErrors.join("; ") : (failure.message.split("\n", 1)[0] ?? failure.message);
  const failed = afterFailedStart(memory, reason, serverErrors, ctx.nowMs, failure.message);
  // A lease holder whose PostgreSQL cannot start gives the lease up after primary_start_timeout.
  const crashed = ctx.lease !== null && failed.memory.crashedAtMs === null ? { ...failed.memory, crashedAtMs: ctx.nowMs } : failed.memory;
  return { memory: crashed, notes: failed.notes };
}

/** Only a rewind that cannot work, or keeps failing against the same primary, lets decide() reinit. */
function afterFailedRewind(memory: HaMemory, source: MemberName, failure: PgFailure, ctx: LongActionContext, notes: Note[]): LongActionStep {
  const view = ctx.view;
  const lease = view?.lease ?? null;
  const holder = lease !== null && !lease.expired ? lease.holder : null;
  const holderRole = holder === null ? null : (view?.members.find((m) => m.name === holder)?.role ?? null);
  // A standby leader rewinds against the remote primary, which stays the source to rewind
  // against; a member of a standby cluster against its standby leader.
  const primaryNow = ctx.standbyLeader ? source : holderRole === "primary" || holderRole === "standby_leader" ? holder : null;
  const verdict = rewindVerdict(failure, source, primaryNow, ctx.rewindFailures);
  if (verdict.kind === "giveUp") {
    notes.push({ level: "error", message: `pg_rewind cannot bring this data directory back: ${verdict.why}`, fields: { source } });
    return { memory: { ...memory, rewindFailure: verdict.why, rewindFailedAgainst: source }, rewindFailures: ctx.rewindFailures, notes };
  }
  notes.push({ level: "warn", message: verdict.why, fields: { source } });
  return { memory, rewindFailures: verdict.failures, notes };
}

/** The pre_promote hook failed: this member stays out of the race for a ttl (Patroni: "Promotion cancelled"). */
export function afterPromotionCancelled(memory: HaMemory, why: string, nowMs: number, ttlMs: number): MemoryStep {
  return { memory: { ...memory, promotionBlockedUntilMs: nowMs + ttlMs }, notes: [{ level: "error", message: `not promoting: ${why}; releasing the lease`, fields: {} }] };
}
