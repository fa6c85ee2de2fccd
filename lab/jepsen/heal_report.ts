/**
 * The heal report: per heal (the end of a step's last fault), the time to convergence, when the
 * step's victims were back (rejoin), the failovers after the heal — a second failover when the
 * step already had one, issue 14's "the heal knocks over the new primary" — the restarts of a
 * primary after it and the longest Raft loop stall the agents reported around it; then
 * min/median/max over the run. Pure.
 */
import type { ConvergenceEvent, FaultEvent, MemberSample } from "./history.js";
import type { PrimaryChange } from "./primary_changes.js";

export interface HealRow {
  readonly step: number;
  readonly afterFault: string;
  readonly healMs: number;
  readonly convergedMs: number | null;
  /** The slowest victim's return (null: one never came back within the wait; undefined: no victims). */
  readonly rejoinMs: number | null | undefined;
  readonly failoversBefore: number;
  readonly failoversAfter: number;
  readonly secondFailover: boolean;
  readonly primaryRestarts: number;
  /** See ConvergenceEvent.raftStallMs (undefined: not measured). */
  readonly raftStallMs: number | null | undefined;
}

/** The value of an unlabelled-or-labelled series `name` in Prometheus text (the first), or null. */
export function metricValue(text: string, name: string): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !/^[{ ]/.test(line.slice(name.length))) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    return Number.isFinite(value) ? value : null;
  }
  return null;
}

/** Restarts of a primary: a node whose own samples as the primary show a new postmaster start time. */
export function primaryRestarts(samples: readonly MemberSample[]): number {
  const started = new Map<string, number>();
  let restarts = 0;
  for (const s of samples) {
    if (s.facts === null || s.node !== s.primary) continue;
    const before = started.get(s.node);
    if (before !== undefined && s.facts.postmasterStartMs > before) restarts++;
    started.set(s.node, s.facts.postmasterStartMs);
  }
  return restarts;
}

function stepStarts(faults: readonly FaultEvent[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of faults) if (f.phase === "start") out.set(f.step, Math.min(out.get(f.step) ?? Infinity, f.atMs));
  return out;
}

export function healRows(convergences: readonly ConvergenceEvent[], changes: readonly PrimaryChange[], faults: readonly FaultEvent[], samples: readonly MemberSample[]): HealRow[] {
  const starts = stepStarts(faults);
  return convergences.map((c) => {
    const stepStart = starts.get(c.step) ?? c.atMs;
    const next = Math.min(Infinity, ...[...starts.values()].filter((s) => s > c.atMs));
    const within = (from: number, to: number) => changes.filter((ch) => ch.seenMs !== null && ch.seenMs >= from && ch.seenMs < to).length;
    const before = within(stepStart, c.atMs);
    const after = within(c.atMs, next);
    const returning = c.returning ?? [];
    const rejoinMs = returning.length === 0 ? undefined : returning.some((r) => r.ms === null) ? null : Math.max(...returning.map((r) => r.ms!));
    const windowSamples = samples.filter((s) => s.atMs >= c.atMs && s.atMs < next);
    return { step: c.step, afterFault: c.afterFault, healMs: c.atMs, convergedMs: c.ms, rejoinMs, failoversBefore: before, failoversAfter: after, secondFailover: after > 0 && before + after >= 2, primaryRestarts: primaryRestarts(windowSamples), raftStallMs: c.raftStallMs };
  });
}

/** "min/median/max" of the values (the upper median), or "-". */
export function minMedianMax(values: readonly number[]): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  return `${sorted[0]}/${sorted[Math.floor(sorted.length / 2)]}/${sorted[sorted.length - 1]}`;
}

/** The heal report: a line per heal and a summary with min/median/max. */
export function healReport(rows: readonly HealRow[]): { lines: string[]; summary: string } {
  const ms = (v: number | null | undefined): string => (v === undefined ? "-" : v === null ? "never" : String(v));
  const lines = rows.map((r) => `step ${r.step} ${r.afterFault.padEnd(28)} healed at ${r.healMs} ms: converged ${ms(r.convergedMs)} ms, rejoin ${ms(r.rejoinMs)} ms, failovers before/after ${r.failoversBefore}/${r.failoversAfter}${r.secondFailover ? " (SECOND FAILOVER)" : ""}, primary restarts ${r.primaryRestarts}, Raft stall ${ms(r.raftStallMs)} ms`);
  const converged = rows.flatMap((r) => (r.convergedMs === null ? [] : [r.convergedMs]));
  const rejoins = rows.flatMap((r) => (typeof r.rejoinMs === "number" ? [r.rejoinMs] : []));
  const second = rows.filter((r) => r.secondFailover);
  const stalls = rows.flatMap((r) => (typeof r.raftStallMs === "number" ? [r.raftStallMs] : []));
  const summary = [
    `heals=${rows.length}`,
    `second_failovers=${second.length}${second.length > 0 ? ` (steps ${second.map((r) => r.step).join(",")})` : ""}`,
    `failovers_after_heal=${rows.reduce((n, r) => n + r.failoversAfter, 0)}`,
    `primary_restarts_after_heal=${rows.reduce((n, r) => n + r.primaryRestarts, 0)}`,
    `rejoin_ms=${minMedianMax(rejoins)}${rows.some((r) => r.rejoinMs === null) ? ` never=${rows.filter((r) => r.rejoinMs === null).length}` : ""}`,
    `convergence_ms=${minMedianMax(converged)}${converged.length < rows.length ? ` never=${rows.length - converged.length}` : ""}`,
    `raft_stall_ms=${minMedianMax(stalls)}`,
  ].join(" ");
  return { lines, summary };
}
