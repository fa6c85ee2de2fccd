/**
 * This node holds the lease: renew it once per loop_wait, make PostgreSQL the primary (promote a
 * replica, start a stopped primary in place within primary_start_timeout), record the new
 * timeline, keep the members' replication slots. patroni-behaviour.md §5 B2.1, D, J.
 */
import type { Lsn } from "../../dcs/model.js";
import type { StandbyCluster } from "../../dcs/standby_cluster.js";
import { assertNever } from "../../lib/assert.js";
import type { Action, Upstream } from "../actions.js";
import { dcs, decision, holdsLease, renewalDue, safeTimeLeftMs, slotsIfDue, validLease } from "../facts.js";
import type { HaDecision, HaInput } from "../input.js";
import { promotedFromStandby, remoteUpstream, standbyClusterFor } from "../standby.js";
import { startOrWait } from "../start_backoff.js";
import { prePromoteSyncActions, syncActions } from "../sync_planner.js";

export function holderRule(input: HaInput): HaDecision | null {
  const lease = validLease(input.view);
  if (lease === null || lease.holder !== input.me) return null;
  if (!holdsLease(input)) {
    // The log says this member holds the lease but this agent has no deadline for it (it just
    // restarted): renew to learn one, and do nothing to PostgreSQL until then.
    if (input.lease !== null && input.lease.generation === lease.generation) return null;
    return decision([dcs({ kind: "renewLease", member: input.me, ttlMs: input.settings.ttlMs, generation: lease.generation })], "renewing the lease this member held before the agent restarted", `generation ${lease.generation}`);
  }
  const renewal = dcs({ kind: "renewLease", member: input.me, ttlMs: input.settings.ttlMs, generation: lease.generation });
  // Every cycle may run (one runs on every applied entry); a renewal goes out when it is due.
  const renew: readonly Action[] = renewalDue(input) ? [renewal] : [];
  if (safeTimeLeftMs(input) <= 0) {
    // Renewals have not succeeded for too long: stop before the watchdog fires and long before
    // anyone else may take the lease — and start nothing until a renewal succeeds again.
    if (input.pg.process === "stopped" || input.pg.process === "crashed") return decision([renewal], "PostgreSQL stays stopped: the lease could not be renewed in time", `generation ${lease.generation}`);
    return decision([{ kind: "stop", mode: "immediate" }, renewal], "stopping PostgreSQL: the lease could not be renewed and its deadline is near", `generation ${lease.generation}`);
  }
  if (input.busy !== null) return decision(renew, `holding the lease during ${input.busy}`);
  const handover = handoverRule(input, renew);
  if (handover !== null) return handover;
  const standby = standbyClusterFor(input.view, input.me, input.settings.bootstrapStandbyCluster);
  const pg = input.pg;
  // In pause a replica takes the lease only as the candidate of an operator's switchover or
  // failover (race.ts): it is promoted, which the request asked for.
  const requestedPromotion = standby === null && pg.process === "running" && pg.role === "replica" && input.memory.tookLeaseFor !== null;
  if (input.view?.paused === true && !requestedPromotion) {
    // Synchronous replication is still kept up: a dead standby must not stop the writes; a new
    // timeline is still recorded.
    const keep = pg.process === "running" && pg.role === "primary" ? [...timelineRecord(input), ...syncActions(input)] : [];
    const recording = keep.some((a) => a.kind === "dcs" && a.command.kind === "recordTimeline");
    return decision([...(recording ? [renewal] : renew), ...keep], "PAUSE: holding the lease; no automatic action");
  }
  if (standby !== null) return standbyLeaderRule(input, renew, standby);
  switch (pg.process) {
    case "starting":
    case "stopping":
      return decision(renew, `holding the lease while PostgreSQL is ${pg.process}`);
    case "crashed":
    case "stopped":
      return restartInPlace(input, renew);
    case "running":
      break;
  }
  if (pg.role === "replica") {
    const prepare = prePromoteSyncActions(input);
    if (prepare !== null) return decision([...renew, ...prepare], "preparing synchronous replication before promoting", `generation ${lease.generation}`);
    // A promotion goes with a renewal: the new primary starts with a whole ttl ahead of it.
    return decision([renewal, { kind: "promote" }], "promoting PostgreSQL: this member holds the lease", `generation ${lease.generation}`);
  }
  const housekeeping = primaryHousekeeping(input);
  const recording = housekeeping.some((a) => a.kind === "dcs" && a.command.kind === "recordTimeline");
  return decision([...(recording ? [renewal] : renew), ...housekeeping], renew.length > 0 ? "renewed the lease as the primary" : "holding the lease as the primary", `generation ${lease.generation}, timeline ${pg.timeline ?? "?"}`);
}

/** The lease goes back when PostgreSQL has been down longer than primary_start_timeout, else null. */
function giveUpAfterCrash(input: HaInput): HaDecision | null {
  const { memory, settings, nowMs } = input;
  const crashedForMs = memory.crashedAtMs === null ? 0 : nowMs - memory.crashedAtMs;
  if (crashedForMs <= settings.primaryStartTimeoutMs) return null;
  const lease = validLease(input.view)!;
  return decision([dcs({ kind: "releaseLease", member: input.me, generation: lease.generation })], "releasing the lease: PostgreSQL did not start within primary_start_timeout", `down for ${Math.round(crashedForMs / 1000)} s`);
}

function restartInPlace(input: HaInput, renew: readonly Action[]): HaDecision {
  const { pg } = input;
  const gaveUp = giveUpAfterCrash(input);
  if (gaveUp !== null) return gaveUp;
  // A data directory last run as a replica comes back as one and is promoted: starting it
  // without standby.signal would make it a primary without a new timeline.
  const as = pg.controlState === "shut down in recovery" || pg.controlState === "in archive recovery" ? "replica" : "primary";
  return startOrWait(input, { kind: "start", as, upstream: null }, `starting PostgreSQL in place as ${as === "primary" ? "the primary" : "a replica to promote"} (this member holds the lease)`, `state ${pg.controlState}`, renew);
}

/** The primary's timeline, when the history does not have it yet. */
function timelineRecord(input: HaInput): Action[] {
  const { view, pg, me } = input;
  const history = view?.primaryHistory ?? [];
  const last = history[history.length - 1];
  // After promote-cluster the timeline continues the remote's history, whose numbers need not
  // follow the ones on record (demote-cluster rewound this cluster onto it): recorded anyway.
  const promoted = view !== null && promotedFromStandby(view);
  if (pg.timeline === null || (last !== undefined && last.timeline >= pg.timeline && !promoted)) return [];
  const reason = promoted ? "manual" : last === undefined ? "bootstrap" : (input.memory.tookLeaseFor ?? "failover");
  const parent = pg.timelineParent === null ? {} : { parent: pg.timelineParent };
  return [dcs({ kind: "recordTimeline", timeline: pg.timeline, ...parent, lsn: pg.timelineSwitchLsn ?? pg.walWritten ?? (0n as Lsn), reason, newPrimary: me })];
}

function primaryHousekeeping(input: HaInput): Action[] {
  const { view } = input;
  const actions: Action[] = timelineRecord(input);
  if (view !== null) actions.push(...slotsIfDue(input));
  actions.push(...syncActions(input));
  return actions;
}

/**
 * A switchover (or a failover requested while this member is healthy) away from this member,
 * once due: stop PostgreSQL cleanly — a fast shutdown first sends every WAL record, its shutdown
 * checkpoint included, to the connected replicas, so the candidate loses nothing — then release
 * the lease for the candidate. Patroni's graceful demote (§5 I1). In pause only an unscheduled
 * request is carried out.
 */
function handoverRule(input: HaInput, renew: readonly Action[]): HaDecision | null {
  const pending = input.view?.pending ?? null;
  if (pending === null || (pending.from !== null && pending.from !== input.me) || pending.to === input.me) return null;
  if (pending.scheduledAtMs !== null && (input.view!.paused || pending.scheduledAtMs > input.view!.nowMs)) return null;
  const target = pending.to ?? "the best candidate";
  const pg = input.pg;
  if (pg.process === "running" || pg.process === "starting") {
    return decision([...renew, { kind: "stop", mode: "fast" }], `stopping PostgreSQL for the ${pending.kind} to ${target}`, `requested by ${pending.requestedBy}`);
  }
  if (pg.process === "stopping") return decision(renew, `waiting for PostgreSQL to stop for the ${pending.kind} to ${target}`);
  const lease = validLease(input.view)!;
  return decision([dcs({ kind: "releaseLease", member: input.me, generation: lease.generation })], `releasing the lease for the ${pending.kind} to ${target}`, `PostgreSQL is ${pg.process}`);
}

/**
 * The lease holder of a standby cluster is its standby leader: PostgreSQL runs as a standby of
 * the remote primary (primary_conninfo, the configured slot, restore_command) and is never
 * promoted here — removing standby_cluster from the config makes this member a normal holder,
 * which promotes it. The other members stream from it (they keep their slots on it). No
 * synchronous replication (syncModeOf is off in a standby cluster). patroni-behaviour.md §5 B2.1.
 *
 * After demote-cluster (src/dcs/demote_cluster.ts) the holder is still the primary: it stops it
 * (fast: its replicas receive all of its WAL) and keeps the lease all along — no other member
 * may take it, so there is never a second writable primary and no failover race — then rewinds
 * the former primary against the remote (formerPrimaryRule) and starts it as the standby leader.
 */
function standbyLeaderRule(input: HaInput, renew: readonly Action[], standby: StandbyCluster): HaDecision {
  const { pg } = input;
  const remote = remoteUpstream(standby);
  switch (pg.process) {
    case "starting":
    case "stopping":
      return decision(renew, `holding the lease as the standby leader while PostgreSQL is ${pg.process}`);
    case "crashed":
    case "stopped":
      return giveUpAfterCrash(input) ?? formerPrimaryRule(input, renew, remote) ?? startOrWait(input, { kind: "start", as: "replica", upstream: remote }, `starting PostgreSQL as the standby leader, a standby of ${remote.member}`, `state ${pg.controlState}`, renew);
    case "running":
      break;
  }
  if (pg.role === "primary") {
    // demote-cluster, or a data directory claimed at bootstrap: Patroni's demote "demote-cluster"
    // mode (patroni-behaviour.md §5, Demote modes) — a fast stop that keeps the lease.
    return decision([...renew, { kind: "stop", mode: "fast" }], `demoting: stopping the primary to run as the standby leader, a standby of ${remote.member} (this is a standby cluster now)`, `generation ${validLease(input.view)!.generation}, timeline ${pg.timeline ?? "?"}`);
  }
  if (pg.upstream !== remote.member) {
    return decision([...renew, { kind: "followPrimary", upstream: remote }], `following the remote primary as the standby leader (${remote.member})`, `was following ${pg.upstream ?? "nobody"}`);
  }
  const slots = input.view !== null ? slotsIfDue(input) : [];
  const streaming = pg.streaming ? `streaming from ${remote.member}` : `not streaming from ${remote.member} yet`;
  return decision([...renew, ...slots], `${renew.length > 0 ? "renewed" : "holding"} the lease as the standby leader, ${streaming}`, `generation ${validLease(input.view)!.generation}, timeline ${pg.timeline ?? "?"}`);
}

/**
 * A stopped data directory that last ran as a primary (the control file says so) may hold WAL
 * the remote primary never had — all this cluster wrote after it parted from the remote — and
 * then could never stream from it. pg_rewind against the remote finds out: it takes the data
 * directory back to the remote's history, or says "no rewind required" when it is on it (the
 * remote received this primary's WAL to its end, as in a planned swap of roles). Null when there
 * is nothing to do. The directory is never wiped here: the usual reason a rewind cannot work is
 * a source that is not a copy of this cluster (a wrong standby_cluster host), and this former
 * primary holds the cluster's own writes; the operator decides (fix the section, or
 * promote-cluster to undo).
 */
function formerPrimaryRule(input: HaInput, renew: readonly Action[], remote: Upstream): HaDecision | null {
  const { pg, memory, settings } = input;
  if (!ranAsPrimary(pg) || memory.preparedFrom === remote.member) return null;
  // With restore_command only there is no server to rewind against; PostgreSQL's recovery
  // checks the archive's timeline history itself and refuses to start off it.
  if (remote.connUrl === "") return null;
  const why = `this data directory last ran as a primary (${pg.controlState}, timeline ${pg.timeline ?? "?"}): WAL it wrote that ${remote.member} never had must go before it can follow it`;
  // A failure against another source (standby_cluster was corrected since) does not count.
  const failure = memory.rewindFailedAgainst === remote.member ? memory.rewindFailure : null;
  if (failure === null && settings.usePgRewind) return decision([...renew, { kind: "rewind", source: remote }], `rewinding against ${remote.member} before following it as the standby leader`, why);
  const cannot = failure ?? "postgresql.use_pg_rewind is off";
  return decision(renew, `cannot follow ${remote.member} as the standby leader: this former primary cannot be rewound against it (${cannot.split("\n", 1)[0]}); the data directory is kept: correct standby_cluster, or undo with raftgres promote-cluster`, why);
}

/** The control file of a stopped data directory says it last ran as a primary (not in recovery). */
function ranAsPrimary(pg: HaInput["pg"]): boolean {
  switch (pg.controlState) {
    case "shut down":
    case "in production":
    case "in crash recovery":
    case "shutting down":
      return true;
    case "shut down in recovery":
    case "in archive recovery":
    case "unknown":
      return false;
    default:
      return assertNever(pg.controlState, "control state");
  }
}
