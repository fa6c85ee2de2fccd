/**
 * Which applied changes run a cycle (issue 13). Every entry applied to the scope used to run a
 * cycle on every agent — observe PostgreSQL, decide — though most entries at rest change nothing
 * a decision reads: a renewal of a lease by the same holder, a report that only says a member is
 * still there. The digest is what decisions read of the view, without the times that move with
 * every entry (the DCS's now, a renewal's time, a member's last-seen time); a change of digest
 * runs a cycle at once, anything else waits for the next tick (one loop_wait at most).
 *
 * While no member holds a valid lease every change counts (null): candidates compare how fresh
 * each other's reports are (race.ts), so a report that says nothing new still matters.
 */
import type { ScopeView } from "../dcs/views.js";

export function viewDigest(view: ScopeView): string | null {
  const lease = view.lease;
  if (lease === null || lease.expired) return null;
  return JSON.stringify({
    lease: [lease.holder, lease.generation, lease.ttlMs],
    members: view.members.map((m) => [m.name, m.role, m.state, m.timeline, String(m.walWritten), String(m.walReceived), String(m.walReplayed), m.tags, m.gone, m.maintenance, m.apiUrl, m.connUrl]),
    config: view.config.version,
    initialization: view.initialization,
    history: view.primaryHistory.length === 0 ? null : view.primaryHistory[view.primaryHistory.length - 1],
    pending: view.pending,
    sync: view.sync,
    paused: view.paused,
  }, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
}
