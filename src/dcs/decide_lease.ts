/**
 * The leader lease (Patroni's leader key), by entry time:
 * - acquire when there is no lease, when it expired at this entry's time, or when the caller
 *   already holds it; every grant to a new holder (or after expiry) takes a new generation — the
 *   fencing token the HA layer checks before it promotes;
 * - renew only by the holder, with the current generation, before expiry;
 * - release only by the holder, with the current generation;
 * - fence: any member may release the holder's lease (current generation) when the holder's own
 *   watchdog reported, signed with the cluster secret, that it killed the holder's PostgreSQL.
 *   The agent checks the signature before it proposes this; the rule checks the generation, so a
 *   late report of an old fencing cannot release a newer grant.
 * A change of holder clears a pending switchover or failover: it has happened. A candidate that
 * says where its WAL stands is refused when that is off the last holder's history (takeover).
 */
import * as E from "fp-ts/lib/Either.js";
import { isoTime } from "../lib/iso_time.js";
import { lsnText } from "../lib/lsn_text.js";
import { LEASE_TTL_MS_MAX, LEASE_TTL_MS_MIN } from "./command_bounds.js";
import type { Command } from "./commands.js";
import type { DecideContext, Decision } from "./decide_context.js";
import type { Event } from "./events.js";
import type { MemberName, Takeover, WalPosition } from "./model.js";
import { rejection } from "./rejection.js";

type LeaseCommand = Extract<Command, { kind: "acquireLease" | "renewLease" | "releaseLease" | "fenceLease" }>;

export function decideLease(ctx: DecideContext, command: LeaseCommand): Decision {
  if (command.kind === "fenceLease") return fence(ctx, command);
  if (command.member !== ctx.author) {
    return E.left(rejection("notAuthor", `${ctx.author} cannot act on the lease for ${command.member}: a member asks for itself`));
  }
  // Decoding refuses such a ttl already; the rule keeps its own check next to what it protects.
  if (command.kind !== "releaseLease" && (command.ttlMs < LEASE_TTL_MS_MIN || command.ttlMs > LEASE_TTL_MS_MAX)) {
    return E.left(rejection("invalid", `a lease ttl of ${command.ttlMs} ms is outside ${LEASE_TTL_MS_MIN}–${LEASE_TTL_MS_MAX} ms`));
  }
  switch (command.kind) {
    case "acquireLease":
      return acquire(ctx, command);
    case "renewLease":
      return renew(ctx, command);
    case "releaseLease":
      return release(ctx, command);
  }
}

function acquire(ctx: DecideContext, command: Extract<LeaseCommand, { kind: "acquireLease" }>): Decision {
  const { scope, nowMs } = ctx;
  if (scope.initialization === null) return E.left(rejection("notInitialized", `${scope.scope} is not initialized yet; no member may lead it`));
  if (!scope.members.has(command.member)) return E.left(rejection("unknownMember", `${command.member} must report its status before it takes the lease`));
  const lease = scope.lease;
  const expiresAtMs = nowMs + command.ttlMs;
  if (lease !== null && lease.expiresAtMs > nowMs) {
    if (lease.holder !== command.member) {
      return E.left(rejection("leaseHeld", `${lease.holder} holds the lease until ${isoTime(lease.expiresAtMs)} (generation ${lease.generation})`));
    }
    return E.right([{ kind: "leaseRenewed", holder: lease.holder, ttlMs: command.ttlMs, expiresAtMs, generation: lease.generation }]);
  }
  // A failover an operator allowed to lose data names its candidate whatever its history.
  const pendingPick = scope.pending;
  const allowedLoss = pendingPick !== null && pendingPick.kind === "failover" && pendingPick.to === command.member && pendingPick.allowDataLoss === true;
  const behind = allowedLoss ? null : takeoverProblem(scope.takeover, command.member, command.position);
  if (behind !== null) return E.left(rejection("offHistory", `${behind} (failover --allow-data-loss to it overrides this)`));
  const generation = scope.leaseGeneration + 1;
  const events: Event[] = [{ kind: "leaseAcquired", holder: command.member, ttlMs: command.ttlMs, expiresAtMs, generation }];
  if (command.position !== undefined) events.push({ kind: "takeoverRecorded", takeover: { holder: command.member, generation, ...command.position } });
  const pending = scope.pending;
  const previous = lease?.holder ?? null;
  if (pending !== null && previous !== command.member) {
    events.push({ kind: "switchoverCleared", reason: `${command.member} took the lease${previous === null ? "" : ` from ${previous}`}` });
  }
  return E.right(events);
}

/**
 * Why `candidate`, whose WAL stands at `position`, may not follow the last holder, or null. The
 * last holder's history left its timeline where its WAL stood when it was granted the lease (if
 * it promoted); WAL past that point on that timeline, or a candidate still on an earlier
 * timeline, holds writes the last holder's history does not have — or lacks its own. This holds
 * even when the new timeline was never recorded (the promoted holder died first), and whatever
 * stale view the candidate decided on: the check runs where the lease is granted.
 */
export function takeoverProblem(takeover: Takeover | null, candidate: MemberName, position: WalPosition | undefined): string | null {
  if (takeover === null || position === undefined || takeover.holder === candidate) return null;
  const at = `${takeover.holder} took over at ${lsnText(takeover.lsn)} on timeline ${takeover.timeline} (generation ${takeover.generation})`;
  if (position.timeline < takeover.timeline) return `${candidate} is on timeline ${position.timeline}, behind where ${at}; it must follow the primary's history first`;
  if (position.timeline === takeover.timeline && position.lsn > takeover.lsn) {
    return `${candidate}'s WAL goes on to ${lsnText(position.lsn)} on timeline ${position.timeline}, past where ${at}: it holds writes ${takeover.holder}'s history may not have, and must be rewound first`;
  }
  return null;
}

function renew(ctx: DecideContext, command: Extract<LeaseCommand, { kind: "renewLease" }>): Decision {
  const lease = ctx.scope.lease;
  if (lease === null) return E.left(rejection("notLeaseHolder", `nobody holds the lease of ${ctx.scope.scope}; acquire it instead`));
  if (lease.holder !== command.member) return E.left(rejection("notLeaseHolder", `${lease.holder} holds the lease, not ${command.member}`));
  if (lease.generation !== command.generation) {
    return E.left(rejection("staleGeneration", `the lease is at generation ${lease.generation}, not ${command.generation}: it was granted again since`));
  }
  if (lease.expiresAtMs <= ctx.nowMs) {
    return E.left(rejection("leaseExpired", `the lease expired at ${isoTime(lease.expiresAtMs)} (now ${isoTime(ctx.nowMs)}); acquire it again`));
  }
  return E.right([{ kind: "leaseRenewed", holder: lease.holder, ttlMs: command.ttlMs, expiresAtMs: ctx.nowMs + command.ttlMs, generation: lease.generation }]);
}

function release(ctx: DecideContext, command: Extract<LeaseCommand, { kind: "releaseLease" }>): Decision {
  const lease = ctx.scope.lease;
  if (lease === null || lease.holder !== command.member) {
    return E.left(rejection("notLeaseHolder", `${command.member} does not hold the lease of ${ctx.scope.scope}${lease === null ? "" : ` (${lease.holder} does)`}`));
  }
  if (lease.generation !== command.generation) {
    return E.left(rejection("staleGeneration", `the lease is at generation ${lease.generation}, not ${command.generation}`));
  }
  return E.right([{ kind: "leaseReleased", holder: lease.holder, generation: lease.generation }]);
}

function fence(ctx: DecideContext, command: Extract<LeaseCommand, { kind: "fenceLease" }>): Decision {
  const lease = ctx.scope.lease;
  if (!ctx.scope.members.has(ctx.author as MemberName)) {
    return E.left(rejection("unknownMember", `${ctx.author} is not a member of ${ctx.scope.scope}: only members relay fence reports`));
  }
  if (lease === null || lease.holder !== command.holder) {
    return E.left(rejection("notLeaseHolder", `${command.holder} does not hold the lease of ${ctx.scope.scope}${lease === null ? "" : ` (${lease.holder} does)`}`));
  }
  if (lease.generation !== command.generation) {
    return E.left(rejection("staleGeneration", `the lease is at generation ${lease.generation}; the fence report is for generation ${command.generation}`));
  }
  return E.right([{ kind: "leaseReleased", holder: lease.holder, generation: lease.generation }]);
}
