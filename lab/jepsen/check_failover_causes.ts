/**
 * The failover-causes checker: every change of primary has a cause among the faults in force
 * (issue 14: after a partition healed, the new primary was stopped and a second failover
 * followed, with no fault on it). A change from primary P seen at time t is caused when some
 * fault affected P and t falls within [its start, its end + CAUSE_GRACE_MS], or — when the
 * cluster took longer to converge after that step's heal — before the convergence: a restart of
 * every agent, say, moves the primary only once the agents are back, well after the fault's
 * "end". A fault affects its victims (the nodes it killed, froze, cut off, skewed …) and, when a
 * victim was the Raft leader and the fault is one that reaches the lease through it (nemesis.ts
 * viaRaftLeader), also the primary of that moment, whose renewals wait for a new Raft leader. An
 * operator request the harness makes (a switchover) is recorded as a fault whose victim is the
 * primary it moves. Pure.
 */
import type { CheckResult } from "./checkers.js";
import type { ConvergenceEvent, FaultEvent } from "./history.js";
import type { PrimaryChange } from "./primary_changes.js";

/**
 * How long after a fault ends a change of primary may still be its doing: the lease's ttl (5 s:
 * the last renewal may have come just before the heal), a promotion (≈ 1 s) and the harness's
 * sampling (≈ 1 s), with room. Also the convergence bound: a heal is done within it.
 */
export const CAUSE_GRACE_MS = 10_000;

export interface FaultWindow {
  readonly name: string;
  readonly step: number;
  readonly startMs: number;
  /** Infinity: never healed. */
  readonly endMs: number;
  /** The end of the window in which a change of primary is this fault's doing. */
  readonly causesUntilMs: number;
  readonly detail: string;
  readonly victims: readonly string[];
  readonly affects: readonly string[];
}

/** The victims, plus the primary of the moment when the fault hit the Raft leader in a way that reaches the lease. */
export function affected(start: FaultEvent): string[] {
  const victims = start.victims ?? [];
  const out = new Set(victims);
  const leader = start.raftLeader ?? null;
  const primary = start.primary ?? null;
  if (start.viaRaftLeader === true && leader !== null && victims.includes(leader) && primary !== null) out.add(primary);
  return [...out].sort();
}

/** Each fault's start paired with its end (same step and name), and how long it may cause a failover. */
export function faultWindows(events: readonly FaultEvent[], convergences: readonly ConvergenceEvent[] = [], graceMs = CAUSE_GRACE_MS): FaultWindow[] {
  const ends = new Map<string, number>();
  for (const e of events) if (e.phase === "end") ends.set(`${e.step}|${e.name}`, e.atMs);
  const converged = new Map<number, number>();
  for (const c of convergences) if (c.ms !== null) converged.set(c.step, c.atMs + c.ms);
  return events.filter((e) => e.phase === "start").map((e) => {
    const endMs = ends.get(`${e.step}|${e.name}`) ?? Infinity;
    return {
      name: e.name,
      step: e.step,
      startMs: e.atMs,
      endMs,
      causesUntilMs: Math.max(endMs + graceMs, converged.get(e.step) ?? -Infinity),
      detail: e.detail,
      victims: e.victims ?? [],
      affects: affected(e),
    };
  });
}

function describeWindow(w: FaultWindow, atMs: number): string {
  const ended = w.endMs === Infinity ? "never healed" : w.endMs <= atMs ? `healed ${((atMs - w.endMs) / 1000).toFixed(1)} s before` : "still in force";
  return `${w.name} (${w.detail}; affects ${w.affects.join(",") || "nobody"}; ${w.startMs}–${w.endMs} ms, ${ended})`;
}

function describeChange(c: PrimaryChange): string {
  return `failover to timeline ${c.timeline} (${c.from ?? "?"} → ${c.to}, ${c.reason}) seen at ${c.seenMs} ms by ${c.seenBy}`;
}

export function checkFailoverCauses(changes: readonly PrimaryChange[], faults: readonly FaultEvent[], convergences: readonly ConvergenceEvent[] = [], graceMs = CAUSE_GRACE_MS): CheckResult {
  const windows = faultWindows(faults, convergences, graceMs);
  const problems: string[] = [];
  let caused = 0;
  let unplaced = 0;
  for (const change of changes) {
    if (change.seenMs === null || change.from === null) {
      unplaced++;
      continue;
    }
    const at = change.seenMs;
    const inForce = windows.filter((w) => w.startMs <= at && at <= w.causesUntilMs);
    if (inForce.some((w) => w.affects.includes(change.from!))) {
      caused++;
      continue;
    }
    const lastHeal = Math.max(-Infinity, ...windows.filter((w) => w.endMs <= at).map((w) => w.endMs));
    const since = lastHeal === -Infinity ? "no fault healed before it" : `the last heal ${((at - lastHeal) / 1000).toFixed(1)} s before`;
    const forces = inForce.length === 0 ? "no fault in force" : `faults in force: ${inForce.map((w) => describeWindow(w, at)).join("; ")}`;
    problems.push(`${describeChange(change)}: no fault affected ${change.from} (${since}); ${forces}`);
  }
  return {
    name: "failover causes",
    ok: problems.length === 0,
    figures: `failovers=${changes.length} caused=${caused} uncaused=${problems.length} unplaced=${unplaced}`,
    problems,
  };
}
