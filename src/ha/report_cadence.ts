/**
 * When a member's report goes into the log (issue 13: an idle cluster is quiet). Every report is
 * an entry synced on every node, and one runs a cycle on every agent, so a report goes out:
 * - at once when what it says changed (role, state, timeline, tags, addresses, version, and
 *   whether the lease is held);
 * - with new WAL positions at most once per loop_wait;
 * - while no member holds the lease, once per loop_wait (candidates compare fresh positions);
 * - otherwise once per ttl/3, so that a member is seen for what it is — alive — and is shown as
 *   gone only when it has not reported for a ttl.
 * Pure: the HA loop keeps the last report and asks.
 */
import type { MemberStatus } from "../dcs/model.js";

export interface ReportSent {
  /** Everything but the WAL positions. */
  readonly key: string;
  readonly wal: string;
  /** Local monotonic time it was sent. */
  readonly atMs: number;
}

/** Keepalives per ttl: a member silent for a ttl is gone, so three chances to be heard. */
export const KEEPALIVES_PER_TTL = 3;

export function reportKey(status: MemberStatus, leaseMarker: string): { key: string; wal: string } {
  const { walWritten, walReceived, walReplayed, ...rest } = status;
  return {
    key: `${JSON.stringify(rest)}|${leaseMarker}`,
    wal: `${walWritten ?? ""}|${walReceived ?? ""}|${walReplayed ?? ""}`,
  };
}

export function reportDue(last: ReportSent | null, next: { key: string; wal: string }, nowMs: number, timing: { loopWaitMs: number; ttlMs: number }, leaseGone: boolean): boolean {
  if (last === null || last.key !== next.key) return true;
  const sinceMs = nowMs - last.atMs;
  if (sinceMs >= timing.ttlMs / KEEPALIVES_PER_TTL) return true;
  if (sinceMs < timing.loopWaitMs) return false;
  return leaseGone || last.wal !== next.wal;
}
