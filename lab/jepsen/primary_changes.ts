/**
 * The changes of primary in a run, each with the node it went from and to and when the harness
 * first saw it: a new timeline in the final primary's /history, or one seen only by the harness
 * (a member out of recovery on it, or writes acknowledged on it). The time is the first sighting
 * on the run's clock — a member sampled out of recovery on the timeline, or the first write
 * acknowledged on it — never the agents' wall clocks, which the clock faults skew and drift.
 * Pure.
 */
import type { TimelineRecord } from "./checkers.js";
import type { MemberSample, WriteEvent } from "./history.js";

export interface PrimaryChange {
  readonly timeline: number;
  /** The primary before (null: unknown). */
  readonly from: string | null;
  readonly to: string;
  /** The history's reason ("failover", "switchover" …), or "unrecorded". */
  readonly reason: string;
  /** First sighting on the run's clock; null: the harness never saw this primary. */
  readonly seenMs: number | null;
  readonly seenBy: "postgres" | "writes" | null;
}

interface Sighting {
  readonly node: string;
  readonly atMs: number;
  readonly by: "postgres" | "writes";
}

function earlier(a: Sighting | undefined, b: Sighting): Sighting {
  return a === undefined || b.atMs < a.atMs ? b : a;
}

/** Per timeline, the first time the harness saw a node acting as primary on it. */
export function sightings(samples: readonly MemberSample[], writes: readonly WriteEvent[]): Map<number, Sighting> {
  const out = new Map<number, Sighting>();
  for (const s of samples) {
    if (s.facts === null || s.facts.inRecovery) continue;
    out.set(s.facts.timeline, earlier(out.get(s.facts.timeline), { node: s.node, atMs: s.atMs, by: "postgres" }));
  }
  for (const w of writes) {
    if (w.outcome !== "ok" || w.node === null || w.timeline === null) continue;
    out.set(w.timeline, earlier(out.get(w.timeline), { node: w.node, atMs: w.endMs, by: "writes" }));
  }
  return out;
}

/**
 * Every timeline after the first record's (the bootstrap, whose newPrimary names the first
 * primary), in order, from the records and the sightings together.
 */
export function primaryChanges(records: readonly TimelineRecord[], samples: readonly MemberSample[], writes: readonly WriteEvent[]): PrimaryChange[] {
  const first = records[0];
  if (first === undefined) return [];
  const seen = sightings(samples, writes);
  const recorded = new Map(records.slice(1).map((r) => [r.timeline, r] as const));
  const timelines = [...new Set([...recorded.keys(), ...seen.keys()])].filter((t) => t > first.timeline).sort((a, b) => a - b);
  const changes: PrimaryChange[] = [];
  let previous: string | null = first.newPrimary === "" ? null : first.newPrimary;
  for (const timeline of timelines) {
    const record = recorded.get(timeline);
    const sighting = seen.get(timeline);
    const to = record?.newPrimary ?? sighting!.node;
    changes.push({ timeline, from: previous, to, reason: record?.reason ?? "unrecorded", seenMs: sighting?.atMs ?? null, seenBy: sighting?.by ?? null });
    previous = to;
  }
  return changes;
}
