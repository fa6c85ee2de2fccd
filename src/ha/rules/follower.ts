/**
 * Another member holds the lease: this node is a replica of it. A running primary stops at once
 * (it lost the lease); a stopped data directory that may have diverged is rewound (or, failing
 * that, cloned again) before it starts; a running replica points primary_conninfo at the holder.
 * patroni-behaviour.md §5 B2.2, D.4, K.
 */
import type { MemberName } from "../../dcs/model.js";
import type { LeaseView } from "../../dcs/views.js";
import type { Upstream } from "../actions.js";
import { decision, member, slotsIfDue, upstreamOf, validLease, wasPrimary } from "../facts.js";
import type { HaDecision, HaInput } from "../input.js";
import { startOrWait } from "../start_backoff.js";

/**
 * A replica not streaming for this long while the primary is on a newer timeline is stopped and
 * rewound. Longer than several walreceiver retries (wal_retrieve_retry_interval, 1 s in our
 * configuration) and than a new primary needs to create the members' slots; and the timeline of
 * a replica that is not streaming comes from its last restartpoint, which lags behind.
 */
export const NOT_STREAMING_REWIND_MS = 10_000;

export function followerRule(input: HaInput): HaDecision | null {
  const lease = validLease(input.view);
  if (lease === null || lease.holder === input.me) return null;
  const pg = input.pg;
  if (pg.process === "running" && pg.role === "primary") {
    return decision([{ kind: "stop", mode: "immediate" }], `stopping PostgreSQL: ${lease.holder} holds the lease and this node is still a primary`, `lease generation ${lease.generation}`);
  }
  if (input.busy !== null) return decision([], `${input.busy} in progress`);
  if (input.view?.paused === true) return decision([], `PAUSE: following ${lease.holder}; no automatic action`);
  if (member(input.view, input.me)?.maintenance === true) return decision([], "MAINTENANCE: this member is taken out of the cluster; PostgreSQL is left alone");
  const source = upstreamFor(input, lease);
  if (source === null) return decision([], `waiting for ${lease.holder} to publish how to reach it`);
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

function holderTimeline(input: HaInput, lease: LeaseView): number | null {
  const holder = member(input.view, lease.holder);
  return holder === null || holder.role !== "primary" ? null : holder.timeline;
}

function startReplica(input: HaInput, lease: LeaseView, source: Upstream): HaDecision {
  const { pg, memory, settings } = input;
  const primaryTimeline = holderTimeline(input, lease);
  const prepared = memory.preparedFrom === lease.holder;
  const behind = pg.timeline !== null && primaryTimeline !== null && pg.timeline < primaryTimeline;
  if (!prepared && (wasPrimary(pg) || behind)) {
    if (primaryTimeline === null) return decision([], `waiting for ${lease.holder} to run as the primary before rewinding against it`);
    const holder: Upstream = upstreamOf(input.view, lease.holder) ?? source;
    if (memory.rewindFailure !== null || !settings.usePgRewind) {
      const why = memory.rewindFailure ?? "use_pg_rewind is off";
      if (!settings.reinitOnRewindFailure) return decision([], "this data directory diverged from the primary and cannot be rewound: reinitialize it", why);
      return decision([{ kind: "reinit", source: holder, reason: why }], `reinitializing from ${holder.member}: the data directory diverged and cannot be rewound`, why);
    }
    const why = wasPrimary(pg) ? "it was a primary" : `its timeline ${pg.timeline} is behind the primary's ${primaryTimeline}`;
    return decision([{ kind: "rewind", source: holder }], `rewinding against ${holder.member} before following it`, why);
  }
  return startOrWait(input, { kind: "start", as: "replica", upstream: source }, `starting PostgreSQL as a replica of ${source.member}`);
}

function runningReplica(input: HaInput, lease: LeaseView, source: Upstream): HaDecision {
  const { pg, memory, nowMs } = input;
  if (pg.upstream !== source.member) {
    return decision([{ kind: "followPrimary", upstream: source }], `following ${source.member}`, `was following ${pg.upstream ?? "nobody"}`);
  }
  const primaryTimeline = holderTimeline(input, lease);
  const stalledMs = memory.notStreamingSinceMs === null ? 0 : nowMs - memory.notStreamingSinceMs;
  if (!pg.streaming && primaryTimeline !== null && pg.timeline !== null && pg.timeline < primaryTimeline && stalledMs >= NOT_STREAMING_REWIND_MS) {
    return decision([{ kind: "stop", mode: "fast" }], `stopping to rewind: not streaming from ${source.member} for ${Math.round(stalledMs / 1000)} s and its timeline ${primaryTimeline} is newer than ours (${pg.timeline})`);
  }
  // Replicas keep the members' slots too (advanced to what they replayed), so a promoted replica
  // already holds WAL for everyone (Patroni's member slots on replicas).
  const slots = input.settings.useSlots && pg.streaming ? slotsIfDue(input) : [];
  return decision(slots, pg.streaming ? `streaming from ${source.member}` : `following ${source.member}, not streaming yet`);
}
