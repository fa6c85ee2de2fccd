/**
 * Planned switchovers and forced failovers are requests recorded in the state; the HA layer
 * carries them out and the new holder's lease grant clears them. A request is refused at once,
 * with the reason of every candidate, when nobody could carry it out.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Command } from "./commands.js";
import { candidateProblem, failoverLossProblem, reviewCandidates } from "./candidates.js";
import type { DecideContext, Decision } from "./decide_context.js";
import { rejection } from "./rejection.js";

function pendingProblem(ctx: DecideContext): Decision | null {
  const pending = ctx.scope.pending;
  if (pending === null) return null;
  const target = pending.to === null ? "the best candidate" : pending.to;
  return E.left(rejection("switchoverPending", `a ${pending.kind} to ${target} is already pending (requested by ${pending.requestedBy}); cancel it first`));
}

export function decideSwitchover(ctx: DecideContext, command: Extract<Command, { kind: "requestSwitchover" }>): Decision {
  const { scope, nowMs } = ctx;
  const lease = scope.lease;
  if (lease === null || lease.expiresAtMs <= nowMs) {
    return E.left(rejection("noPrimary", `${scope.scope} has no primary to switch over from; request a failover instead`));
  }
  if (command.from !== null && command.from !== lease.holder) {
    return E.left(rejection("notPrimary", `${command.from} is not the primary of ${scope.scope}; ${lease.holder} is`));
  }
  const pending = pendingProblem(ctx);
  if (pending !== null) return pending;
  if (command.scheduledAtMs !== null && command.scheduledAtMs <= nowMs) {
    return E.left(rejection("invalid", "the scheduled time is not in the future"));
  }
  if (command.to !== null) {
    const problem = candidateProblem(scope, command.to, nowMs, { ignoreLag: false });
    if (problem !== null) {
      const code = command.to === lease.holder ? "alreadyPrimary" : "noCandidate";
      return E.left(rejection(code, `cannot switch over to ${command.to}: ${problem}`, [{ member: command.to, reason: problem }]));
    }
  } else {
    const review = reviewCandidates(scope, nowMs, { ignoreLag: false });
    if (review.eligible.length === 0) {
      const reasons = review.problems.map((p) => p.reason).join("; ");
      return E.left(rejection("noCandidate", `no member can take over from ${lease.holder}: ${reasons || "there are no other members"}`, review.problems));
    }
  }
  return E.right([{
    kind: "switchoverRequested",
    pending: { kind: "switchover", from: lease.holder, to: command.to, scheduledAtMs: command.scheduledAtMs, requestedBy: ctx.author, atMs: nowMs },
  }]);
}

/**
 * A failover names its target and does not require a primary. A target that may lack
 * acknowledged commits (behind, or not vouched for by the synchronous state) needs
 * allowDataLoss, which the request then carries to the race.
 */
export function decideFailover(ctx: DecideContext, command: Extract<Command, { kind: "requestFailover" }>): Decision {
  const pending = pendingProblem(ctx);
  if (pending !== null) return pending;
  const problem = candidateProblem(ctx.scope, command.to, ctx.nowMs, { ignoreLag: true });
  if (problem !== null) {
    const code = ctx.scope.lease?.holder === command.to ? "alreadyPrimary" : "noCandidate";
    return E.left(rejection(code, `cannot fail over to ${command.to}: ${problem}`, [{ member: command.to, reason: problem }]));
  }
  const loss = command.allowDataLoss ? null : failoverLossProblem(ctx.scope, command.to, ctx.nowMs);
  if (loss !== null) {
    return E.left(rejection("noCandidate", `cannot fail over to ${command.to} without losing data: ${loss}; use --allow-data-loss (allow_data_loss: true) to promote it anyway`, [{ member: command.to, reason: loss }]));
  }
  const from = ctx.scope.lease !== null && ctx.scope.lease.expiresAtMs > ctx.nowMs ? ctx.scope.lease.holder : null;
  return E.right([{
    kind: "switchoverRequested",
    pending: { kind: "failover", from, to: command.to, scheduledAtMs: null, ...(command.allowDataLoss ? { allowDataLoss: true } : {}), requestedBy: ctx.author, atMs: ctx.nowMs },
  }]);
}
