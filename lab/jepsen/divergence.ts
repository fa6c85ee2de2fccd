/**
 * Whether a member's data diverged from the primary's, judged from PostgreSQL's own facts only:
 * the member's timeline and WAL position against the primary's timeline history. The agent's
 * opinion is never asked. PostgreSQL's rule ("new timeline N forked off current database system
 * timeline M before current recovery point", xlogrecovery.c rescanLatestTimeLine) is the
 * definition: a member is diverged when its timeline is not on the primary's history, or its WAL
 * goes past the point where that history left its timeline; then only pg_rewind (or a new clone)
 * brings it back.
 * Pure: no I/O, no clock.
 */
import { assert } from "../../src/lib/assert.js";
import type { MemberFacts } from "./history.js";

/** A line of a `<timeline>.history` file: the lineage left `timeline` at `switchpoint`. */
export interface HistoryEntry {
  readonly timeline: number;
  readonly switchpoint: bigint;
}

/** "0/5A000A0" → 94372000n. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (match === null) throw new Error(`not an LSN: "${text}"`);
  return (BigInt(`0x${match[1]!}`) << 32n) + BigInt(`0x${match[2]!}`);
}

/** "0/5A000A0" for 94372000n, as PostgreSQL prints it. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * A timeline history file (PostgreSQL's timeline.c readTimeLineHistory): one line per earlier
 * timeline, `parent<TAB>switchpoint<TAB>reason`; blank lines and `#` comments are skipped.
 * Timelines must go up, as PostgreSQL insists.
 */
export function parseTimelineHistory(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [timeline, switchpoint] = line.split(/\s+/);
    const tli = Number(timeline);
    if (!Number.isInteger(tli) || tli < 1 || switchpoint === undefined) throw new Error(`not a timeline history line: "${line}"`);
    const previous = entries[entries.length - 1];
    if (previous !== undefined && tli <= previous.timeline) throw new Error(`timeline history goes from ${previous.timeline} to ${tli}`);
    entries.push({ timeline: tli, switchpoint: parseLsn(switchpoint) });
  }
  return entries;
}

/** What a round knows of one member: its name and its facts (null: not asked successfully). */
export interface MemberState {
  readonly node: string;
  readonly facts: MemberFacts | null;
}

/**
 * The primary by PostgreSQL's facts: the one member not in recovery on the highest timeline. None
 * when two members are not in recovery on that timeline, or when some member is on a higher
 * timeline (the real primary could not be asked; judging against an older one would call its
 * followers diverged).
 */
export function referencePrimary(members: readonly MemberState[]): { node: string; timeline: number } | null {
  const known = members.flatMap((m) => (m.facts === null ? [] : [{ node: m.node, facts: m.facts }]));
  const highest = Math.max(0, ...known.map((m) => m.facts.timeline));
  const primaries = known.filter((m) => !m.facts.inRecovery && m.facts.timeline === highest);
  if (primaries.length !== 1) return null;
  return { node: primaries[0]!.node, timeline: highest };
}

export type Divergence =
  | { readonly diverged: false }
  | { readonly diverged: true; readonly why: string };

/**
 * Judges a member (not the primary) against the primary on `primaryTimeline` whose history is
 * `history`; null when the facts cannot say (the member is on a newer timeline than the primary).
 */
export function divergence(member: MemberFacts, primaryTimeline: number, history: readonly HistoryEntry[]): Divergence | null {
  assert(primaryTimeline >= 1, "a primary's timeline is at least 1");
  assert(history.every((e) => e.timeline < primaryTimeline), "a timeline history lists only earlier timelines");
  const lsn = BigInt(member.lsn);
  const at = `${member.inRecovery ? "replayed" : "written"} to ${formatLsn(lsn)}`;
  if (member.timeline > primaryTimeline) return null;
  if (member.timeline === primaryTimeline) {
    if (!member.inRecovery) return { diverged: true, why: `a second primary on timeline ${primaryTimeline} (${at})` };
    return { diverged: false };
  }
  const entry = history.find((e) => e.timeline === member.timeline);
  if (entry === undefined) {
    const lineage = history.map((e) => e.timeline).join(", ") || "none";
    return { diverged: true, why: `timeline ${member.timeline} (${at}) is not on the primary's history (timelines ${lineage}, then ${primaryTimeline})` };
  }
  if (lsn > entry.switchpoint) {
    return { diverged: true, why: `on timeline ${member.timeline} ${at}, past ${formatLsn(entry.switchpoint)} where the primary's history left it` };
  }
  return { diverged: false };
}
