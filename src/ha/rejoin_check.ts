/**
 * The one check every rule that starts PostgreSQL as a replica goes through, and the one that
 * says whether a running replica is usable (issue 14): the local data directory against the
 * primary's history (lineage.ts). Pure.
 */
import type { MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import type { HaInput } from "./input.js";
import { type Lineage, lineageOf, lineagePastTakeover, localWal, primaryAncestry, worseLineage } from "./lineage.js";

/**
 * Replay that has not moved for this long, while the primary has WAL it lacks and its lineage is
 * in doubt, means it cannot follow: it is stopped and rewound. Longer than several WAL receiver
 * retries (wal_retrieve_retry_interval, 1 s in our configuration) and a new primary's slot setup.
 */
export const REPLAY_STUCK_REWIND_MS = 10_000;
/** A replica on the history, not streaming, whose replay has not moved this long is started again. */
export const REPLAY_STUCK_RESTART_MS = 30_000;

/** The timeline of `holder` when it runs as the primary, else null. */
export function primaryTimelineOf(view: ScopeView | null, holder: MemberName | null): number | null {
  if (holder === null) return null;
  const record = view?.members.find((m) => m.name === holder) ?? null;
  return record === null || record.role !== "primary" ? null : record.timeline;
}

/**
 * Whether this data directory may start (or go on) as a replica of the primary on
 * `primaryTimeline` (null: the last recorded primary's timeline). With no recorded history there
 * is nothing to be off.
 */
export function lineageAgainst(input: HaInput, primaryTimeline: number | null): Lineage {
  const history = input.view?.primaryHistory ?? [];
  const ancestry = primaryAncestry(history, primaryTimeline);
  if (ancestry === null) return { kind: "onHistory" };
  const local = localWal(input.pg);
  if (local === null) return { kind: "unknown", why: "where its WAL ends is not known" };
  const lineage = lineageOf(local, ancestry);
  const takeover = input.view?.takeover ?? null;
  return takeover === null || takeover.holder === input.me ? lineage : worseLineage(lineage, lineagePastTakeover(local, takeover));
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
    const stuck = replayStuckMs(input, holderRecord?.walWritten ?? null);
    if (stuck !== null && stuck >= REPLAY_STUCK_REWIND_MS) return `${lineage.why}; its replay has not moved for ${Math.round(stuck / 1000)} s while the primary went on`;
  }
  return null;
}
