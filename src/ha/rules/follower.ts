/**
 * Another member holds the lease: this node is a replica of it. A running primary stops at once
 * (it lost the lease); a stopped data directory starts only if it is on the primary's history
 * (rejoin_check.ts), otherwise it is rewound (or, failing that, cloned again) first; a running
 * replica points primary_conninfo at the holder, and one that is off the primary's history is
 * stopped to be rewound. patroni-behaviour.md §5 B2.2, D.4, K.
 */
import type { MemberName } from "../../dcs/model.js";
import type { LeaseView } from "../../dcs/views.js";
import type { Upstream } from "../actions.js";
import { decision, member, slotsIfDue, upstreamOf, validLease } from "../facts.js";
import type { HaDecision, HaInput } from "../input.js";
import { holderWal, lineageAgainst, primaryTimelineOf, REPLAY_STUCK_RESTART_MS, REPLAY_STUCK_REWIND_MS, replayStuckMs } from "../rejoin_check.js";
import { startOrWait } from "../start_backoff.js";

export function followerRule(input: HaInput): HaDecision | null {
  const lease = validLease(input.view);
  if (lease === null || lease.holder === input.me) return null;
  const pg = input.pg;
  const paused = input.view?.paused === true;
  if (pg.process === "running" && pg.role === "primary") {
    // Pause stops nothing: a second primary is the operator's to resolve (Patroni warns too).
    if (paused) return decision([], `PAUSE: this node runs as a primary while ${lease.holder} holds the lease; no automatic action (stop or demote it by hand)`);
    return decision([{ kind: "stop", mode: "immediate" }], `stopping PostgreSQL: ${lease.holder} holds the lease and this node is still a primary`, `lease generation ${lease.generation}`);
  }
  if (input.busy !== null) return decision([], `${input.busy} in progress`);
  if (member(input.view, input.me)?.maintenance === true) return decision([], "MAINTENANCE: this member is taken out of the cluster; PostgreSQL is left alone");
  const source = upstreamFor(input, lease);
  if (source === null) return decision([], `waiting for ${lease.holder} to publish how to reach it`);
  if (paused) return pausedFollower(input, lease, source);
  switch (pg.process) {
    case "starting":
    case "stopping":
      return decision([], `PostgreSQL is ${pg.process}`);
    case "crashed":
    case "stopped":
      return startReplica(input, lease, source);
    case "running":
      return runningReplica(input, lease, source);
  }
}

/**
 * In pause (patroni-behaviour.md §5 B2.2, L) a running replica is still pointed at the primary
 * (a reload), and the member that handed the lease over for an operator's request starts as its
 * replica — that demotion is the request's; nothing else is started, stopped or rewound.
 */
function pausedFollower(input: HaInput, lease: LeaseView, source: Upstream): HaDecision {
  const pg = input.pg;
  if (pg.process === "running" && pg.upstream !== source.member) {
    return decision([{ kind: "followPrimary", upstream: source }], `PAUSE: following ${source.member}`, `was following ${pg.upstream ?? "nobody"}`);
  }
  if ((pg.process === "stopped" || pg.process === "crashed") && input.memory.handedOver) return startReplica(input, lease, source);
  return decision([], `PAUSE: following ${lease.holder}; no automatic action`);
}

/** The holder, or the member named by this node's replicatefrom tag when it is a usable replica. */
function upstreamFor(input: HaInput, lease: LeaseView): Upstream | null {
  const me = member(input.view, input.me);
  const cascade: MemberName | null = me?.tags.replicatefrom ?? null;
  if (cascade !== null && cascade !== lease.holder) {
    const via = member(input.view, cascade);
    if (via !== null && !via.gone && via.role === "replica" && via.state === "streaming") return upstreamOf(input.view, cascade);
  }
  return upstreamOf(input.view, lease.holder);
}

function startReplica(input: HaInput, lease: LeaseView, source: Upstream): HaDecision {
  const { memory } = input;
  const primaryTimeline = primaryTimelineOf(input.view, lease.holder);
  const prepared = memory.preparedFrom === lease.holder;
  // Against the holder's timeline once it runs as the primary; until then the last recorded one.
  const lineage = prepared ? null : lineageAgainst(input, primaryTimeline);
  if (lineage !== null && lineage.kind !== "onHistory") {
    if (primaryTimeline === null) return decision([], `waiting for ${lease.holder} to run as the primary before rewinding against it`, lineage.why);
    return rewindOrReinit(input, upstreamOf(input.view, lease.holder) ?? source, lineage.why);
  }
  return startOrWait(input, { kind: "start", as: "replica", upstream: source }, `starting PostgreSQL as a replica of ${source.member}`);
}

/** pg_rewind against the primary; a clone when rewinding failed for good or is off. */
function rewindOrReinit(input: HaInput, holder: Upstream, why: string): HaDecision {
  const { memory, settings } = input;
  if (memory.rewindFailure !== null || !settings.usePgRewind) {
    const cannot = memory.rewindFailure ?? "use_pg_rewind is off";
    if (!settings.reinitOnRewindFailure) return decision([], "this data directory diverged from the primary and cannot be rewound: reinitialize it", `${why}; ${cannot}`);
    return decision([{ kind: "reinit", source: holder, reason: cannot }], `reinitializing from ${holder.member}: the data directory diverged and cannot be rewound`, `${why}; ${cannot}`);
  }
  return decision([{ kind: "rewind", source: holder }], `rewinding against ${holder.member} before following it`, why);
}

function runningReplica(input: HaInput, lease: LeaseView, source: Upstream): HaDecision {
  const { pg } = input;
  if (pg.upstream !== source.member) {
    return decision([{ kind: "followPrimary", upstream: source }], `following ${source.member}`, `was following ${pg.upstream ?? "nobody"}`);
  }
  const primaryTimeline = primaryTimelineOf(input.view, lease.holder);
  if (primaryTimeline !== null) {
    // A running replica whose timeline is off the primary's history cannot follow it; one in
    // doubt (past a fork on a timeline it may have left) can, unless its replay is stuck.
    const lineage = lineageAgainst(input, primaryTimeline);
    if (lineage.kind === "diverged") return decision([{ kind: "stop", mode: "fast" }], `stopping to rewind: this replica is off ${lease.holder}'s history`, lineage.why);
    const stuckMs = lineage.kind === "unknown" ? replayStuckMs(input, holderWal(member(input.view, lease.holder))) : null;
    if (stuckMs !== null && stuckMs >= REPLAY_STUCK_REWIND_MS) {
      return decision([{ kind: "stop", mode: "fast" }], `stopping to rewind: its replay has not moved for ${Math.round(stuckMs / 1000)} s while ${lease.holder} went on`, lineage.kind === "unknown" ? lineage.why : "");
    }
  }
  // A replica on the history whose WAL receiver stays away (seen in the fault-injection runs:
  // "walreceiver absent" for minutes after its primary restarted) is started again: its start
  // goes through the rejoin check, and PostgreSQL's recovery begins anew.
  const idleMs = pg.streaming ? null : replayStuckMs(input, holderWal(member(input.view, lease.holder)));
  if (idleMs !== null && idleMs >= REPLAY_STUCK_RESTART_MS) {
    return decision([{ kind: "stop", mode: "fast" }], `stopping to start again: not streaming, and its replay has not moved for ${Math.round(idleMs / 1000)} s while ${lease.holder} went on`);
  }
  // Replicas keep the members' slots too (advanced to what they replayed), so a promoted replica
  // already holds WAL for everyone (Patroni's member slots on replicas).
  const slots = pg.streaming ? slotsIfDue(input) : [];
  return decision(slots, pg.streaming ? `streaming from ${source.member}` : `following ${source.member}, not streaming yet`);
}
