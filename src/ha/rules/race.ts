/**
 * Nobody holds the lease: a primary without it stops (it could have been fenced or partitioned
 * away), the node that just bootstrapped takes it, and replicas race for it only if they are
 * healthy and no other candidate is better (further WAL, then higher failover_priority, then
 * the name, so two equal candidates do not both try). patroni-behaviour.md §5 C.
 */
import type { MemberName } from "../../dcs/model.js";
import { lsnText } from "../../lib/lsn_text.js";
import type { MemberView, ScopeView } from "../../dcs/views.js";
import type { Action } from "../actions.js";
import { dcs, decision, localPosition, memberPosition, validLease, walPosition } from "../facts.js";
import type { HaDecision, HaInput } from "../input.js";
import { lineageAgainst } from "../rejoin_check.js";
import { standbyClusterFor } from "../standby.js";
import { startOrWait } from "../start_backoff.js";
import { type ReportedPosition, syncActive, syncModeOf, syncPromotionProblem } from "../../dcs/sync_mode.js";

/**
 * Candidates publish their position as soon as they see the lease gone; a candidate whose last
 * report is older than this (entry time) may be further along than it says: wait for it.
 */
export const RACE_REPORT_FRESHNESS_MS = 700;

export function raceRule(input: HaInput): HaDecision | null {
  if (validLease(input.view) !== null) return null;
  const { pg, view, me } = input;
  if (pg.process === "running" && pg.role === "primary") {
    const init = view?.initialization ?? null;
    const justBootstrapped = input.lease === null && init?.by === me && (view?.primaryHistory.length ?? 0) === 0;
    if (justBootstrapped && view?.lease === null) return decision([acquire(input)], "taking the lease for the cluster this member bootstrapped");
    if (view?.paused === true) return pausedPrimary(input);
    return decision([{ kind: "stop", mode: "immediate" }], "stopping PostgreSQL: this primary does not hold the lease", view?.lease === null ? "the lease was released" : "the lease expired");
  }
  if (input.busy !== null) return decision([], `${input.busy} in progress; not racing for the lease`);
  // In pause only an operator's unscheduled switchover or failover names who may take the lease
  // (patroni-behaviour.md §5 I2, L); that candidate races if it runs — nothing is started.
  const named = view?.pending !== null && view?.pending !== undefined && view.pending.to === me && view.pending.scheduledAtMs === null;
  if (view?.paused === true && !(named && pg.process === "running")) return decision([], named ? `PAUSE: PostgreSQL is ${pg.process}; the ${view.pending!.kind} to this member waits for it to run` : "PAUSE: no member holds the lease; no automatic failover");
  if (!input.memory.viewConfirmed) return decision([], "waiting for this node's cluster state to catch up with the cluster's before starting or racing", "no lease in the replayed log may only mean it is behind");
  if (pg.process === "stopped" || pg.process === "crashed") {
    const unrecorded = unrecordedPromotion(input);
    if (unrecorded !== null) return unrecorded;
    // Only a data directory on the last primary's history starts (rejoin_check.ts): one that went
    // past a fork would serve reads the cluster never had, and race with them.
    const lineage = lineageAgainst(input, null);
    const forced = view?.pending?.kind === "failover" && view.pending.to === me && view.pending.allowDataLoss;
    if (lineage.kind !== "onHistory" && !forced) {
      return decision([], "not starting PostgreSQL: this data directory is not on the last primary's history; it is rewound once a primary runs", lineage.why);
    }
    return startOrWait(input, { kind: "start", as: "replica", upstream: null }, "starting PostgreSQL read-only: no member holds the lease", forced && lineage.kind !== "onHistory" ? `a failover to it allowing data loss was requested: ${lineage.why}` : "");
  }
  if (pg.process !== "running") return decision([], `PostgreSQL is ${pg.process}; not racing for the lease`);
  const refusal = raceRefusal(input);
  if (refusal !== null) return { ...decision([], `not racing for the lease: ${refusal.why}`), ...(refusal.recheckMs === undefined ? {} : { recheckMs: refusal.recheckMs }) };
  return decision([acquire(input)], "racing for the lease: this member is the best candidate", `position ${localPosition(pg) ?? "unknown"}`);
}

/**
 * The last lease holder promoted, but lost the Raft majority before its new timeline's record
 * committed: its data directory is on a timeline the history does not know, whose parent is
 * where the history ends and where it took over. That timeline is the cluster's newest history,
 * not a divergence: it records it now (which also ends its takeover point), so that it and the
 * members that followed it are judged against it, and a former primary that kept writing on the
 * parent is rewound. Null when that is not the case.
 */
function unrecordedPromotion(input: HaInput): HaDecision | null {
  const { pg, view, me } = input;
  const takeover = view?.takeover ?? null;
  if (view === null || takeover === null || takeover.holder !== me) return null;
  if (pg.timeline === null || pg.timelineParent === null || pg.timelineSwitchLsn === null) return null;
  const last = view.primaryHistory[view.primaryHistory.length - 1];
  const recordedTimeline = last?.timeline ?? 1;
  if (pg.timeline <= recordedTimeline || pg.timelineParent !== takeover.timeline || takeover.timeline !== recordedTimeline) return null;
  const record = dcs({ kind: "recordTimeline", timeline: pg.timeline, parent: pg.timelineParent, lsn: pg.timelineSwitchLsn, reason: "failover", newPrimary: me });
  return decision([record], `recording timeline ${pg.timeline}: this member promoted to it as the last lease holder before its record reached the cluster state`, `it branched off timeline ${pg.timelineParent} at ${lsnText(pg.timelineSwitchLsn)}, where it took over`);
}

/**
 * A running primary without the lease in pause is left running and takes the lease back when its
 * data directory is the cluster's (Patroni: "continue to run as primary"); nothing stops it.
 */
function pausedPrimary(input: HaInput): HaDecision {
  const init = input.view?.initialization ?? null;
  if (input.busy !== null) return decision([], `PAUSE: ${input.busy} in progress`);
  if (init === null || input.pg.systemId !== init.systemId) {
    return decision([], "PAUSE: this primary does not hold the lease and its data directory is not the cluster's; no automatic action", `system id ${input.pg.systemId ?? "unknown"}, the cluster's ${init?.systemId ?? "not recorded"}`);
  }
  return decision([acquire(input)], "PAUSE: taking the lease for this running primary; no automatic action stops it");
}

/**
 * The lease request, with where this member's WAL stands when that is known (facts.ts walPosition)
 * and it will promote there: a standby cluster's leader stays a replica of the remote primary and
 * forks nothing, so its grant is no takeover point (its replicas go on past where it stood).
 */
function acquire(input: HaInput): Action {
  const standby = standbyClusterFor(input.view, input.me, input.settings.bootstrapStandbyCluster) !== null;
  const position = standby ? undefined : walPosition(input.pg);
  return dcs({ kind: "acquireLease", member: input.me, ttlMs: input.settings.ttlMs, ...(position === undefined ? {} : { position }) });
}

/** Why this node should not try to take the lease now; `recheckMs`: look again this soon. */
interface Refusal {
  readonly why: string;
  readonly recheckMs?: number;
}

function refuse(why: string, recheckMs?: number): Refusal {
  return recheckMs === undefined ? { why } : { why, recheckMs };
}

/**
 * A switchover's candidate waiting for its own WAL receiver: nothing in the cluster state changes
 * when it has received enough, so the next look would otherwise wait for a loop_wait (issue 13
 * runs cycles only on changes a decision reads).
 */
export const RECEIVE_RECHECK_MS = 50;

/** Why this node should not try to take the lease now, or null if it should. */
function raceRefusal(input: HaInput): Refusal | null {
  const { settings, view, me, pg } = input;
  if (settings.nofailover || settings.failoverPriority <= 0) return refuse("this member is tagged nofailover");
  const blockedUntil = input.memory.promotionBlockedUntilMs;
  if (blockedUntil !== null && blockedUntil > input.nowMs) return refuse(`its pre_promote hook failed; it stays out of the race for ${Math.ceil((blockedUntil - input.nowMs) / 1000)} s more`);
  if (view === null) return refuse("the cluster state is not known yet");
  const pending = view.pending;
  // A request not carried out within two ttl no longer holds the others back.
  const fresh = pending !== null && view.nowMs - pending.atMs < 2 * settings.ttlMs;
  if (fresh && pending.to !== null && pending.to !== me) {
    const target = view.members.find((m) => m.name === pending.to);
    if (target !== undefined && !target.gone) return refuse(`a ${pending.kind} to ${pending.to} is pending`);
  }
  // Handing over, the old primary stays out of the race — but not forever: if no candidate took
  // the lease within two ttl, it may take it back rather than leave the cluster without a primary.
  const handingOver = fresh && pending.from === me;
  if (handingOver) return refuse(`this member is handing over (a ${pending.kind} away from it is pending)`);
  if (view.members.find((m) => m.name === me)?.maintenance === true) return refuse("this member is in maintenance");
  const mine = localPosition(pg);
  if (mine === null) return refuse("this member's WAL position is unknown");
  // A member whose WAL went past a fork of the primary's history holds writes the cluster never
  // had: as the primary it would bring them back and drop the others (issue 14).
  const lineage = lineageAgainst(input, null);
  if (lineage.kind === "diverged") return refuse(`this data directory is not on the last primary's history: ${lineage.why}`);
  // The named target of a request races without waiting for the others (for a failover, lag
  // does not disqualify it either; for a switchover the DCS checked its lag at request time).
  const forced = pending !== null && pending.to === me;
  // A switchover's candidate that received the stopped primary's WAL to its end holds every
  // commit, whatever the synchronous state says; so does a failover allowed to lose data.
  const shutdownEnd = forced && pending.kind === "switchover" ? stoppedPrimaryEnd(view, pending.from) : null;
  // Zero loss: the old primary reported where its WAL ends once it stopped; promote only with all of it.
  if (shutdownEnd !== null && mine <= shutdownEnd) return refuse(`waiting to receive ${pending!.from}'s WAL up to its shutdown checkpoint at ${shutdownEnd} (received up to ${mine})`, RECEIVE_RECHECK_MS);
  const exempt = (forced && pending.kind === "failover" && pending.allowDataLoss === true) || shutdownEnd !== null;
  const syncProblem = syncRefusal(input, mine, exempt);
  if (syncProblem !== null) return refuse(syncProblem);
  // A candidate the synchronous state vouches for holds every acknowledged commit: the primary's
  // last reported position (commits waiting for a standby, say) does not count against it.
  const vouched = syncModeOf(view.config).mode !== "off" && syncActive(view.sync);
  const lastPrimary = view.primaryHistory[view.primaryHistory.length - 1]?.newPrimary;
  const previous = lastPrimary === undefined ? undefined : view.members.find((m) => m.name === lastPrimary);
  const primaryPosition = previous?.walWritten ?? null;
  if (!forced && !vouched && primaryPosition !== null && primaryPosition - mine > BigInt(settings.maximumLagOnFailoverBytes)) {
    return refuse(`${primaryPosition - mine} bytes behind the last primary's reported position (maximum_lag_on_failover ${settings.maximumLagOnFailoverBytes})`);
  }
  if (forced) return null;
  for (const other of view.members) {
    if (other.name === me || other.name === lastPrimary || !isCandidate(other)) continue;
    if (view.nowMs - other.lastSeenMs > RACE_REPORT_FRESHNESS_MS) return refuse(`waiting for ${other.name} to report its position`);
    const theirs = memberPosition(other);
    if (theirs === null) continue;
    // A member the synchronous state holds back will not race: deferring to it would leave the
    // cluster without a primary (the last leader, back after running without a synchronous
    // standby, waited for a member that waited for it).
    if (syncHoldsBack(view, other.name, theirs)) continue;
    if (theirs > mine) return refuse(`${other.name} has more WAL (${theirs} > ${mine})`);
    if (theirs === mine && other.tags.failoverPriority > settings.failoverPriority) return refuse(`${other.name} has the same WAL and a higher failover_priority`);
    if (theirs === mine && other.tags.failoverPriority === settings.failoverPriority && other.name < me) return refuse(`${other.name} has the same WAL and priority, and goes first by name`);
  }
  return null;
}

/** Where the WAL of a switchover's old primary ends, once it reported that it stopped; else null. */
function stoppedPrimaryEnd(view: ScopeView, from: MemberName | null): bigint | null {
  const member = from === null ? undefined : view.members.find((m) => m.name === from);
  return member !== undefined && member.state === "stopped" ? member.walWritten : null;
}

/** In a synchronous mode: why this member may lack an acknowledged commit, or null. */
function syncRefusal(input: HaInput, mine: bigint, exempt: boolean): string | null {
  const view = input.view!;
  const mode = syncModeOf(view.config);
  if (mode.mode === "off" || exempt) return null;
  const problem = syncPromotionProblem(view.sync, mode.strict, input.me, mine, reportedPositions(view));
  return problem === null ? null : `synchronous_mode ${mode.mode}${mode.strict ? " (strict)" : ""}: ${problem}`;
}

/** The synchronous state keeps `name` (whose WAL reaches `position`) from promoting on its own. */
function syncHoldsBack(view: ScopeView, name: MemberName, position: bigint): boolean {
  const mode = syncModeOf(view.config);
  return mode.mode !== "off" && syncPromotionProblem(view.sync, mode.strict, name, position, reportedPositions(view)) !== null;
}

function reportedPositions(view: ScopeView): ReportedPosition[] {
  return view.members.map((m) => ({ name: m.name, position: memberPosition(m), fresh: view.nowMs - m.lastSeenMs <= RACE_REPORT_FRESHNESS_MS }));
}

function isCandidate(m: MemberView): boolean {
  return !m.gone && !m.maintenance && m.role === "replica" && (m.state === "streaming" || m.state === "running") && !m.tags.nofailover && m.tags.failoverPriority > 0;
}
