/**
 * Is a data directory on the primary's history? PostgreSQL's timelines form a tree: a member may
 * run as a replica of the primary only if its timeline is the primary's or one of its ancestors,
 * and its WAL does not go past the point where the primary's history left that timeline (the
 * fork). Otherwise it holds WAL the primary never had — a former primary that kept writing, say —
 * and must be rewound before it starts (issue 14; Patroni's rewind check, patroni-behaviour.md K).
 *
 * The primary's ancestry comes from the cluster's record of timelines, each recorded by the
 * member that promoted with its parent timeline and switch point (from the new timeline's
 * .history file); the local side from pg_controldata or, running, from PostgreSQL. These are facts
 * that do not flap, unlike the WAL receiver's state. Pure.
 */
import { lsnText } from "../lib/lsn_text.js";
import type { Lsn, PrimaryChange, Takeover } from "../dcs/model.js";
import type { LocalPostgres } from "./observation.js";

/** Where the primary's history left `timeline`: it went on on a child timeline from `leftAt`. */
export interface Ancestor {
  readonly timeline: number;
  readonly leftAt: Lsn;
}

export interface Ancestry {
  /** The primary's timeline. */
  readonly timeline: number;
  /** Its ancestors, nearest first. */
  readonly ancestors: readonly Ancestor[];
  /** Whether the walk reached the cluster's first timeline; if not, older timelines are unknown. */
  readonly complete: boolean;
}

/**
 * The ancestry of `timeline` by the recorded history: follow the parents back from it. The walk
 * ends at a bootstrap entry or timeline 1 (complete), or at a timeline recorded without its
 * parent or not recorded at all, or past promote-cluster's record (incomplete). After
 * demote-cluster and promote-cluster a timeline number may be recorded twice: the later record
 * is the current history's.
 */
export function ancestryOf(history: readonly PrimaryChange[], timeline: number): Ancestry {
  const byTimeline = new Map(history.map((change) => [change.timeline, change]));
  const ancestors: Ancestor[] = [];
  let current = timeline;
  for (;;) {
    if (current === 1) return { timeline, ancestors, complete: true };
    const change = byTimeline.get(current);
    if (change === undefined || change.parent === undefined) return { timeline, ancestors, complete: change?.reason === "bootstrap" };
    if (change.reason === "bootstrap") return { timeline, ancestors, complete: true };
    // A parent comes before its child (decide_config.ts), so the walk ends; the assertion-free
    // bound keeps a damaged history from looping.
    if (change.parent >= current || ancestors.length >= history.length) return { timeline, ancestors, complete: false };
    ancestors.push({ timeline: change.parent, leftAt: change.lsn });
    // promote-cluster: the parent is the remote primary's timeline, whose own history this
    // cluster never recorded — a record of the same number before it is of this cluster's life
    // before demote-cluster, not an ancestor. Timeline 1 is every copy's common root.
    if (change.reason === "manual") return { timeline, ancestors, complete: change.parent === 1 };
    current = change.parent;
  }
}

/**
 * What the local data directory holds, as far as the lineage goes:
 * - `timeline`: the timeline its WAL ends on (a lower bound while a replica runs: the
 *   restartpoint's and the minimum recovery point's lag behind a switch it made);
 * - `end`: where its WAL ends, or a lower bound of it when `exact` is false;
 * - `recordStart`: true when `end` is where the last record (a shutdown checkpoint) starts;
 * - `timelineKnown`: a running replica's timeline was read after `end` (its replay timeline):
 *   `end` is on it or on an earlier one, so WAL past a fork on it is proven diverged.
 */
export interface LocalWal {
  readonly timeline: number;
  readonly end: Lsn;
  readonly exact: boolean;
  readonly recordStart: boolean;
  readonly running: boolean;
  readonly timelineKnown: boolean;
}

/** The local WAL as pg_controldata (stopped) or PostgreSQL (running replica) tells it, or null when unknown. */
export function localWal(pg: LocalPostgres): LocalWal | null {
  if (pg.dataDir !== "initialized") return null;
  if (pg.process === "running") {
    if (pg.role !== "replica" || pg.timeline === null || pg.walReplayed === null) return null;
    if (pg.replayTimeline !== null) return { timeline: pg.replayTimeline, end: pg.walReplayed, exact: true, recordStart: false, running: true, timelineKnown: true };
    return { timeline: Math.max(pg.timeline, pg.minRecoveryTimeline ?? 0), end: pg.walReplayed, exact: true, recordStart: false, running: true, timelineKnown: false };
  }
  if (pg.process !== "stopped" && pg.process !== "crashed") return null;
  const checkpointTimeline = pg.timeline;
  if (checkpointTimeline === null) return null;
  const checkpoint = pg.checkpointLsn;
  // Without the checkpoint's position only the timeline is known: enough when it is the primary's.
  if (checkpoint === null) return { timeline: checkpointTimeline, end: 0n as Lsn, exact: false, recordStart: false, running: false, timelineKnown: true };
  switch (pg.controlState) {
    case "shut down":
      // A primary shut down cleanly: its last record is the shutdown checkpoint.
      return { timeline: checkpointTimeline, end: checkpoint, exact: true, recordStart: true, running: false, timelineKnown: true };
    case "shut down in recovery":
    case "in archive recovery": {
      // A replica: replayed at least to its minimum recovery point (which names its timeline).
      const recovery = pg.minRecoveryLsn !== null && pg.minRecoveryTimeline !== null && pg.minRecoveryTimeline >= checkpointTimeline && pg.minRecoveryLsn > checkpoint;
      return recovery
        ? { timeline: pg.minRecoveryTimeline!, end: pg.minRecoveryLsn!, exact: pg.controlState === "shut down in recovery", recordStart: false, running: false, timelineKnown: true }
        : { timeline: checkpointTimeline, end: checkpoint, exact: false, recordStart: false, running: false, timelineKnown: true };
    }
    default:
      // A primary that crashed: its WAL goes on past the last checkpoint, how far is not known.
      return { timeline: checkpointTimeline, end: checkpoint, exact: false, recordStart: true, running: false, timelineKnown: true };
  }
}

export type Lineage =
  | { readonly kind: "onHistory" }
  | { readonly kind: "diverged"; readonly why: string }
  | { readonly kind: "unknown"; readonly why: string };

const ON_HISTORY: Lineage = { kind: "onHistory" };


/** Whether `local` is on the history `ancestry` describes. */
export function lineageOf(local: LocalWal, ancestry: Ancestry): Lineage {
  const primary = ancestry.timeline;
  if (local.timeline === primary) return ON_HISTORY;
  if (local.timeline > primary) return { kind: "diverged", why: `its timeline ${local.timeline} is newer than the primary's ${primary}: it is not on the primary's history` };
  const ancestor = ancestry.ancestors.find((a) => a.timeline === local.timeline);
  if (ancestor === undefined) {
    const chain = [primary, ...ancestry.ancestors.map((a) => a.timeline)].join(" ← ");
    return ancestry.complete
      ? { kind: "diverged", why: `its timeline ${local.timeline} is not on the primary's history (${chain})` }
      : { kind: "unknown", why: `the primary's history (${chain}) is not recorded back to timeline ${local.timeline}` };
  }
  const where = `the primary's history left timeline ${local.timeline} at ${lsnText(ancestor.leftAt)}`;
  // A last record that starts before the fork ends at it or before (the fork is a record boundary).
  const past = local.recordStart ? local.end >= ancestor.leftAt : local.end > ancestor.leftAt;
  if (past) {
    // A running replica's timeline may be a lower bound: past the fork it may have switched already.
    if (local.running && !local.timelineKnown) return { kind: "unknown", why: `${where} and it replayed to ${lsnText(local.end)}, on that timeline or a later one` };
    return { kind: "diverged", why: `${where} and its WAL goes on to ${lsnText(local.end)} on that timeline` };
  }
  if (!local.exact) return { kind: "unknown", why: `${where}; its WAL goes on past ${lsnText(local.end)}, how far is not known` };
  return ON_HISTORY;
}

/**
 * Whether `local` went past the point where the last lease holder took over (dcs/model.ts
 * Takeover): that holder's history, if it promoted, left the takeover's timeline there — even
 * when its new timeline was never recorded. Only WAL on that timeline can be past it.
 */
export function lineagePastTakeover(local: LocalWal, takeover: Takeover): Lineage {
  if (local.timeline !== takeover.timeline) return ON_HISTORY;
  const where = `${takeover.holder} took over at ${lsnText(takeover.lsn)} on timeline ${takeover.timeline} (it may have promoted there)`;
  const past = local.recordStart ? local.end >= takeover.lsn : local.end > takeover.lsn;
  if (past) {
    if (local.running && !local.timelineKnown) return { kind: "unknown", why: `${where} and it replayed to ${lsnText(local.end)}, on that timeline or a later one` };
    return { kind: "diverged", why: `its WAL goes on to ${lsnText(local.end)} on timeline ${local.timeline}, past where ${where}` };
  }
  if (!local.exact) return { kind: "unknown", why: `${where}; its WAL goes on past ${lsnText(local.end)}, how far is not known` };
  return ON_HISTORY;
}

/** The worse of two verdicts: diverged over unknown over on the history. */
export function worseLineage(a: Lineage, b: Lineage): Lineage {
  if (a.kind === "diverged") return a;
  if (b.kind === "diverged") return b;
  return a.kind === "unknown" ? a : b;
}

/** The primary's timeline to compare with: the holder's report while it runs as the primary, else the last recorded one. */
export function primaryAncestry(history: readonly PrimaryChange[], holderTimeline: number | null): Ancestry | null {
  const timeline = holderTimeline ?? history[history.length - 1]?.timeline ?? null;
  return timeline === null ? null : ancestryOf(history, timeline);
}
