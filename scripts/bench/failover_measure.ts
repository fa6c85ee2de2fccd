/**
 * What the failover benchmark computes from the recorded writes (pure functions of the log):
 * - write downtime of one client: the longest interval without an acknowledgement between the
 *   fault and the end of the run, its start clipped to the fault (a gap that began before the
 *   fault counts only from it);
 * - dual primary: per node and timeline, the interval from its first to its last acknowledged
 *   write (a tenure); two tenures of different nodes that overlap are an interval in which two
 *   nodes both acknowledged writes. The overlaps are summed;
 * - lost acknowledged writes: acknowledged, yet missing on the primary at the end of the run.
 *   Each is classified by the primary's timeline history file: a write whose WAL position right after it lies
 *   beyond the switch point at which its timeline ended was in the old primary's unreplicated
 *   tail (asynchronous replication may lose those, bounded by maximum_lag_on_failover); one at
 *   or before the switch point, or on a timeline that never ended, should have survived; one whose
 *   flush position could not be read after its acknowledgement is counted apart (unplaced).
 */
import type { WriteRecord } from "../../lab/jepsen/writers.js";
export { dualPrimary, type DualPrimary } from "../../lab/jepsen/checkers.js";

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { min: NaN, median: NaN, max: NaN };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median: Math.round(median), max: sorted[sorted.length - 1]! };
}

export function formatSpread(s: Spread): string {
  return `min ${s.min} / median ${s.median} / max ${s.max} ms`;
}

export interface Downtime {
  /** The longest interval without an acknowledged write, in ms (rounded). */
  readonly ms: number;
  /** false when no write was acknowledged between the fault and the end: `ms` is then a lower bound. */
  readonly recovered: boolean;
  readonly failedAttempts: number;
}

export function downtime(writes: readonly WriteRecord[], writer: string, faultMs: number, endMs: number): Downtime {
  const acks = writes.filter((w) => w.writer === writer && w.outcome === "ok").map((w) => w.endMs).sort((a, b) => a - b);
  const failedAttempts = writes.filter((w) => w.writer === writer && w.outcome !== "ok" && w.startMs >= faultMs && w.endMs <= endMs).length;
  let previous = faultMs;
  let longest = 0;
  let recovered = false;
  for (const at of acks) {
    if (at <= faultMs) continue;
    if (at > endMs) break;
    longest = Math.max(longest, at - previous);
    previous = at;
    recovered = true;
  }
  if (!recovered) longest = endMs - faultMs;
  return { ms: Math.round(longest), recovered, failedAttempts };
}

/** Timeline `timeline` ended at `switchLsn`: a line of the new timeline's history file. */
export interface TimelineEnd {
  readonly timeline: number;
  readonly switchLsn: bigint;
}

/**
 * A timeline history file (pg_wal/<timeline>.history: "parentTLI<TAB>switchpoint<TAB>reason"
 * per line, every ancestor of the timeline) as timeline ends.
 */
export function timelineEnds(historyFile: string): TimelineEnd[] {
  return historyFile.split("\n").flatMap((line) => {
    const match = /^(\d+)\t([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)/.exec(line.trim());
    return match === null ? [] : [{ timeline: Number(match[1]), switchLsn: (BigInt(`0x${match[2]}`) << 32n) + BigInt(`0x${match[3]}`) }];
  });
}

export interface Lost {
  /** Acknowledged writes missing on the final primary. */
  readonly total: number;
  /** Of those, beyond the switch point of their timeline (asynchronous replication's tail). */
  readonly tail: number;
  /** Of those, at or before it, or on a timeline that did not end: these should have survived. */
  readonly durable: number;
  /** Of those, without a flush position (the connection failed right after the acknowledgement). */
  readonly unplaced: number;
  /** Some of the lost writes, those that should have survived first. */
  readonly examples: readonly string[];
}

const EXAMPLES_MAX = 5;

export function lostWrites(acked: readonly WriteRecord[], present: ReadonlySet<number>, ends: readonly TimelineEnd[]): Lost {
  const classes = { tail: [] as string[], durable: [] as string[], unplaced: [] as string[] };
  for (const w of acked) {
    if (w.outcome !== "ok" || present.has(w.id)) continue;
    const end = ends.find((e) => e.timeline === w.timeline);
    const kind = w.lsn === null ? "unplaced" : end !== undefined && w.lsn > end.switchLsn ? "tail" : "durable";
    const where = end === undefined ? "its timeline did not end" : `switch point ${end.switchLsn}`;
    classes[kind].push(`${kind}: ${w.id} (${w.writer} → ${w.node}, timeline ${w.timeline}, flush lsn ${w.lsn ?? "unknown"}, ${where}, at ${w.endMs} ms)`);
  }
  const { tail, durable, unplaced } = classes;
  const examples = [...durable, ...unplaced, ...tail].slice(0, EXAMPLES_MAX);
  return { total: tail.length + durable.length + unplaced.length, tail: tail.length, durable: durable.length, unplaced: unplaced.length, examples };
}
