/**
 * The local lease between cycles (issue 17 item 1): what the answer to a lease command makes of
 * it, when the agent's own fence fires and what it does then, what the watchdog is armed with,
 * and whether PostgreSQL may take writes now. Pure: the HA loop (src/ha/io/ha_loop.ts) feeds it
 * answers and times and carries out what it returns.
 *
 * The local lease is this node's own bound on the lease: a grant or renewal sent at `sentAtMs`
 * is safe until sentAtMs + ttl on this clock (the entry's own time, stamped later, only makes
 * the real expiry later). A refusal ends it; an answer that never came leaves the deadline where
 * it was, so it runs out if renewals keep failing.
 */
import * as E from "fp-ts/lib/Either.js";
import type { DcsFailure, Executed } from "../../dcs/client.js";
import type { Command } from "../../dcs/commands.js";
import type { PostgresActionKind } from "../actions.js";
import type { LocalLease } from "../input.js";
import type { HaSettings } from "../settings.js";
import type { Note } from "./note.js";

/** After a renewal that could not reach the Raft group, the next attempt comes this soon. */
export const RENEW_RETRY_MS = 200;

export type LeaseCommand = Extract<Command, { kind: "acquireLease" | "renewLease" | "releaseLease" }>;

export function isLeaseCommand(command: Command): command is LeaseCommand {
  return command.kind === "acquireLease" || command.kind === "renewLease" || command.kind === "releaseLease";
}

/** Deliberate mistakes for the simulator's checkers (HaBugs in ha_loop.ts). */
export interface LeaseBugs {
  /** A renewal without an answer counts as granted: the holder goes on past its lease's expiry. */
  readonly renewWithoutAnswer?: boolean;
}

export interface LeaseAfterAnswer {
  readonly lease: LocalLease | null;
  readonly notes: readonly Note[];
  /** Send the renewal again this soon: the Raft group may be electing a leader. */
  readonly retryInMs: number | null;
}

/** The local lease after the answer to `command`, sent at `sentAtMs`. */
export function afterLeaseAnswer(
  lease: LocalLease | null,
  command: LeaseCommand,
  result: E.Either<DcsFailure, Executed>,
  sentAtMs: number,
  settings: Pick<HaSettings, "ttlMs">,
  bugs: LeaseBugs = {},
): LeaseAfterAnswer {
  if (E.isLeft(result)) {
    const unanswered = result.left.code === "unavailable" || result.left.code === "outcomeUnknown";
    const failed: Note = { level: "warn", message: `${command.kind} failed: ${result.left.message}`, fields: { code: result.left.code } };
    if (unanswered && command.kind === "renewLease" && lease !== null && bugs.renewWithoutAnswer === true) {
      return { lease: { ...lease, deadlineMs: sentAtMs + settings.ttlMs, sentAtMs }, notes: [], retryInMs: null };
    }
    if (!unanswered) return withLease(lease, null, [failed], null);
    return { lease, notes: [failed], retryInMs: lease === null ? null : RENEW_RETRY_MS };
  }
  let next = lease;
  for (const event of result.right.events) {
    if (event.kind === "leaseAcquired" || event.kind === "leaseRenewed") next = { generation: event.generation, deadlineMs: sentAtMs + event.ttlMs, sentAtMs };
    if (event.kind === "leaseReleased") next = null;
  }
  return withLease(lease, next, [], null);
}

/** The lease once its deadline has passed: none at all (the agent may just have been frozen past it). */
export function expiredAt(lease: LocalLease | null, nowMs: number): LocalLease | null {
  return lease !== null && lease.deadlineMs <= nowMs ? null : lease;
}

/** `before` replaced by `after`, with the lines that say so. */
export function withLease(before: LocalLease | null, after: LocalLease | null, notes: readonly Note[] = [], retryInMs: number | null = null): LeaseAfterAnswer {
  const said: Note[] = [...notes];
  if (after !== null && before?.generation !== after.generation) said.push({ level: "info", message: "this member holds the lease", fields: { generation: after.generation } });
  if (after === null && before !== null) said.push({ level: "info", message: "this member no longer holds the lease", fields: { generation: before.generation } });
  return { lease: after, notes: said, retryInMs };
}

type FenceSettings = Pick<HaSettings, "watchdogMarginMs" | "demoteLeadMs">;

/** When PostgreSQL must have stopped taking writes under `lease`: its deadline less the watchdog margin and the demote lead. */
export function fenceAtMs(lease: LocalLease, settings: FenceSettings): number {
  return lease.deadlineMs - settings.watchdogMarginMs - settings.demoteLeadMs;
}

/** Why this member may not run a writable primary now, or null while its lease is safe. */
export function writeFenceProblem(lease: LocalLease | null, settings: FenceSettings, nowMs: number): string | null {
  if (lease === null) return "this member does not hold the lease";
  const leftMs = fenceAtMs(lease, settings) - nowMs;
  return leftMs > 0 ? null : `the lease's safe time ran out ${Math.round(-leftMs)} ms ago without a renewal`;
}

/** What the fence does when its time comes. */
export type FenceAct =
  /** Nothing: the lease moved on, no postmaster runs, or it takes no writes. */
  | { readonly kind: "none" }
  /** Stop PostgreSQL at once (an immediate stop). */
  | { readonly kind: "stop"; readonly note: Note }
  /** Another action holds PostgreSQL: kill its process group. */
  | { readonly kind: "kill"; readonly why: string; readonly note: Note };

/**
 * The agent's own fence, for the lease it was armed for (`armedFor`): when that lease is still
 * the one held and a postmaster runs that may take writes (a primary, or one being promoted or
 * started as the primary), PostgreSQL stops — before the watchdog fires, long before another
 * member may take the lease. A replica holding the lease may stay.
 */
export function fenceAct(armedFor: LocalLease, now: { readonly lease: LocalLease | null; readonly postmasterRunning: boolean; readonly writable: boolean; readonly busy: PostgresActionKind | null }): FenceAct {
  if (now.lease !== armedFor || !now.postmasterRunning || !now.writable) return { kind: "none" };
  const note: Note = { level: "warn", message: "stopping PostgreSQL: the lease could not be renewed in time", fields: { generation: armedFor.generation } };
  if (now.busy !== null) return { kind: "kill", why: `the lease could not be renewed during ${now.busy}`, note };
  return { kind: "stop", note };
}

/** What the watchdog is armed with: while this member holds a live lease and a postmaster runs. */
export type WatchdogArming =
  | { readonly kind: "arm"; readonly processGroup: number; readonly deadlineMs: number; readonly generation: number }
  | { readonly kind: "disarm" };

export function watchdogArming(lease: LocalLease | null, postmasterPid: number | null, nowMs: number, settings: Pick<HaSettings, "watchdogMarginMs">): WatchdogArming {
  if (lease === null || postmasterPid === null || lease.deadlineMs <= nowMs) return { kind: "disarm" };
  return { kind: "arm", processGroup: postmasterPid, deadlineMs: lease.deadlineMs - settings.watchdogMarginMs, generation: lease.generation };
}
