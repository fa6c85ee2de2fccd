/**
 * The one check every rule that starts PostgreSQL as a replica goes through, and the one that
 * says whether a running replica is usable (issue 14): the local data directory against the
 * primary's history (lineage.ts). Pure.
 */
import type { MemberName } from "../dcs/model.js";
import type { MemberView, ScopeView } from "../dcs/views.js";
import { memberPosition } from "./facts.js";
import type { HaInput } from "./input.js";
import { type Lineage, lineageOf, lineagePastTakeover, localWal, primaryAncestry, worseLineage } from "./lineage.js";
import { promotedFromStandby, standbyClusterFor } from "./standby.js";

/**
 * Replay that has not moved for this long, while the primary has WAL it lacks and its lineage is
 * in doubt, means it cannot follow: it is stopped and rewound. Longer than several WAL receiver
 * retries (wal_retrieve_retry_interval, 1 s in our configuration) and a new primary's slot setup.
 */
export const REPLAY_STUCK_REWIND_MS = 10_000;
/** A replica on the history, not streaming, whose replay has not moved this long is started again. */
export const REPLAY_STUCK_RESTART_MS = 30_000;

/**
 * The timeline of `holder` when it runs as the primary — or, in a standby cluster, as the standby
 * leader (PostgreSQL running, so the timeline it reports is the one it replays) — else null.
 */
export function primaryTimelineOf(view: ScopeView | null, holder: MemberName | null): number | null {
  if (holder === null) return null;
  const record = view?.members.find((m) => m.name === holder) ?? null;
  if (record === null) return null;
  if (record.role === "primary") return record.timeline;
  const running = record.state === "streaming" || record.state === "running";
  return record.role === "standby_leader" && running && record.timeline > 0 ? record.timeline : null;
}

/** How far the holder's WAL goes: the primary's written WAL, the standby leader's received one. */
export function holderWal(holder: MemberView | null): bigint | null {
  if (holder === null) return null;
  return holder.role === "standby_leader" ? memberPosition(holder) : holder.walWritten;
}

/**
 * Whether this data directory may start (or go on) as a replica of the primary on
 * `primaryTimeline` (null: the last recorded primary's timeline). With no recorded history there
 * is nothing to be off. In a standby cluster, against the standby leader (standbyLineage).
 */
export function lineageAgainst(input: HaInput, primaryTimeline: number | null): Lineage {
  const view = input.view;
  if (standbyClusterFor(view, input.me, input.settings.bootstrapStandbyCluster) !== null) return standbyLineage(input, primaryTimeline);
  // Promoted from a standby cluster, no timeline recorded since: what is on record is the
  // cluster's life before demote-cluster, not the remote's history its members are on — whoever
  // takes the lease records the new line (decide_config.ts decideTimeline).
  if (view !== null && promotedFromStandby(view)) return { kind: "onHistory" };
  const history = view?.primaryHistory ?? [];
  const ancestry = primaryAncestry(history, primaryTimeline);
  if (ancestry === null) return { kind: "onHistory" };
  const local = localWal(input.pg);
  if (local === null) return { kind: "unknown", why: "where its WAL ends is not known" };
  const lineage = lineageOf(local, ancestry);
  const takeover = input.view?.takeover ?? null;
  return takeover === null || takeover.holder === input.me ? lineage : worseLineage(lineage, lineagePastTakeover(local, takeover));
}

/**
 * A standby cluster follows the remote primary's history, which the cluster state does not
 * record (what it holds, if anything, is this cluster's own life before demote-cluster), and its
 * standby leader writes nothing of its own, so a takeover point means nothing either. What the
 * standby leader's timeline (`leaderTimeline`, null while it does not run) tells:
 * - a data directory on a newer timeline is not on its history: the members of a cluster just
 *   demoted, whose standby leader was rewound onto the remote's timelines. A running replica is
 *   judged so only while it is not streaming: a streaming one follows the standby leader across
 *   a switch of the remote's timeline before the standby leader's report says so;
 * - one on an older timeline may be on it or not (where the remote's history left that
 *   timeline is not recorded): in doubt, so a stopped one is rewound before it starts (pg_rewind
 *   says "no rewind required" when it is on it) and a running one when its replay is stuck;
 * - one on the same timeline is on it, as far as the cluster state can tell.
 */
function standbyLineage(input: HaInput, leaderTimeline: number | null): Lineage {
  const local = localWal(input.pg);
  if (leaderTimeline === null || local === null || local.timeline === leaderTimeline) return { kind: "onHistory" };
  if (local.timeline > leaderTimeline) {
    if (local.running && input.pg.streaming) return { kind: "onHistory" };
    return { kind: "diverged", why: `its timeline ${local.timeline} is newer than the standby leader's ${leaderTimeline}: it is not on the remote primary's history (this cluster's own, before demote-cluster?)` };
  }
  return { kind: "unknown", why: `it is on timeline ${local.timeline}, the standby leader on ${leaderTimeline}: where the remote primary's history left timeline ${local.timeline} is not recorded` };
}

/**
 * A running replica in doubt (lineage unknown) whose replay has not moved for
 * REPLAY_STUCK_REWIND_MS while the primary reports WAL beyond it: it cannot follow the primary.
 */
export function replayStuckMs(input: HaInput, primaryWritten: bigint | null): number | null {
  const since = input.memory.replaySince;
  const replayed = input.pg.walReplayed;
  if (since === null || replayed === null || since.lsn !== replayed || primaryWritten === null || primaryWritten <= replayed) return null;
  return input.nowMs - since.sinceMs;
}

/**
 * Why this member is not usable as a replica of the current primary, or null: a stopped data
 * directory off the primary's history, or a running replica proven off it (or in doubt and
 * stuck). Reported as the member state "diverged" and by the health checks (503).
 */
export function divergence(input: HaInput): string | null {
  const { pg, view } = input;
  const lease = view?.lease ?? null;
  const holder = lease !== null && !lease.expired ? lease.holder : null;
  if (holder === input.me || pg.dataDir !== "initialized") return null;
  if (pg.process === "running" && pg.role !== "replica") return null;
  const primaryTimeline = primaryTimelineOf(view, holder);
  const lineage = lineageAgainst(input, primaryTimeline);
  if (lineage.kind === "diverged") return lineage.why;
  if (lineage.kind === "unknown" && pg.process === "running") {
    const holderRecord = view?.members.find((m) => m.name === holder) ?? null;
    const stuck = replayStuckMs(input, holderWal(holderRecord));
    if (stuck !== null && stuck >= REPLAY_STUCK_REWIND_MS) return `${lineage.why}; its replay has not moved for ${Math.round(stuck / 1000)} s while the primary went on`;
  }
  return null;
}
