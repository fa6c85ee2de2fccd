/**
 * GET /cluster and GET /history in Patroni's shapes (patroni/utils.py cluster_as_json; the
 * history key's lines), built from the applied cluster state. Pure.
 *
 * Patroni drops a member whose key expired; raftgres keeps the record, so a member that has not
 * reported for a ttl is shown with the state "unknown" (and `gone`, `last_seen`) instead of the
 * last state it reported: a stopped agent is never shown "running" or "streaming".
 */
import type { PrimaryChange } from "../dcs/model.js";
import { configNumber } from "../dcs/model.js";
import { pendingRestartReport } from "../dcs/pending_restart.js";
import { syncModeOf } from "../dcs/sync_mode.js";
import type { MemberView, ScopeView } from "../dcs/views.js";
import { assert } from "../lib/assert.js";
import { isoTime } from "../lib/iso_time.js";
import { lsnText } from "../lib/lsn_text.js";
import type { PendingRestartParameter } from "./node_api.js";
import { pendingRestartJson, type ScheduledRestartView, tagsSetAsPatroni } from "./patroni_json.js";

/**
 * What the answering node knows of itself, fresher than its report or not in the cluster state:
 * its pending restart as PostgreSQL says it now (every member reports its own into the cluster
 * state, src/dcs/model.ts MemberStatus, and /cluster shows those on the other rows), and a
 * scheduled restart, which members do not report: it is shown on this node's own row only.
 */
export interface SelfFacts {
  readonly name: string;
  readonly pendingRestart: Readonly<Record<string, PendingRestartParameter>>;
  readonly scheduledRestart: ScheduledRestartView | null;
}

export interface ClusterJsonOptions {
  /**
   * The time reports and the lease are judged at: the view's own, or later when the view is
   * this node's stale copy (no member can report while it cannot reach the Raft group).
   */
  readonly nowMs: number;
  readonly self: SelfFacts | null;
}

/** host and port of a member's connection URL (postgres://host:port/db), when it has them. */
function hostPort(connUrl: string): { host?: string; port?: number } {
  try {
    const url = new URL(connUrl);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (host === "") return {};
    return url.port === "" ? { host } : { host, port: Number(url.port) };
  } catch {
    return {};
  }
}

function memberRole(view: ScopeView, member: MemberView, holder: string | null): string {
  if (member.name === holder) return member.role === "standby_leader" ? "standby_leader" : "leader";
  const sync = view.sync;
  if (holder !== null && sync.leader === holder && sync.standbys.includes(member.name)) return syncModeOf(view.config).mode === "quorum" ? "quorum_standby" : "sync_standby";
  return member.role === "witness" ? "witness" : "replica";
}

/** A member silent for longer than ttl at `nowMs` (views.ts `gone`, judged again at a later time). */
function isSilent(view: ScopeView, member: MemberView, nowMs: number): boolean {
  return member.gone || nowMs - member.lastSeenMs > configNumber(view.config, "ttl") * 1000;
}

/**
 * receive_lsn, replay_lsn and lsn as PostgreSQL writes them, each with its lag in bytes behind the
 * primary's reported WAL position (Patroni counts against /status): "unknown" when a position is
 * not known (or 0, as Patroni's `if not lsn`), a lag 0 for a position ahead of the primary's.
 */
function positions(member: MemberView, primaryLsn: bigint | null): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const put = (prefix: string, lsn: bigint | null): void => {
    if (lsn === null || lsn === 0n) {
      out[`${prefix}lsn`] = out[`${prefix}lag`] = "unknown";
      return;
    }
    out[`${prefix}lsn`] = lsnText(lsn);
    out[`${prefix}lag`] = primaryLsn === null ? "unknown" : Number(primaryLsn > lsn ? primaryLsn - lsn : 0n);
  };
  put("receive_", member.walReceived);
  put("replay_", member.walReplayed);
  put("", latest(member.walReceived, member.walReplayed) ?? member.walWritten);
  return out;
}

/** The later of two positions (Patroni's xlog_location of a replica), or null when neither is known. */
function latest(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null || b === null) return a ?? b;
  return a > b ? a : b;
}

function memberJson(view: ScopeView, member: MemberView, holder: string | null, options: ClusterJsonOptions): Record<string, unknown> {
  const silent = isSilent(view, member, options.nowMs);
  const out: Record<string, unknown> = { name: member.name, role: memberRole(view, member, holder), state: silent ? "unknown" : member.state, api_url: member.apiUrl, ...hostPort(member.connUrl), timeline: member.timeline };
  const self = options.self;
  if (self !== null && self.name === member.name) {
    Object.assign(out, pendingRestartJson(self.pendingRestart));
    if (self.scheduledRestart !== null) out["scheduled_restart"] = self.scheduledRestart;
  } else if (!silent) {
    // A silent member's last report may be stale: its PostgreSQL may have restarted since.
    Object.assign(out, pendingRestartJson(pendingRestartReport(member.pendingRestart)));
  }
  const tags = tagsSetAsPatroni(member.tags);
  if (Object.keys(tags).length > 0) out["tags"] = tags;
  if (member.name !== holder) {
    const primary = holder === null ? null : (view.members.find((m) => m.name === holder)?.walWritten ?? null);
    Object.assign(out, positions(member, primary));
  }
  if (silent) {
    out["gone"] = true;
    out["last_seen"] = isoTime(member.lastSeenMs);
  }
  if (member.maintenance) out["maintenance"] = true;
  return out;
}

/** GET /cluster: members sorted by name, the schedule of a switchover, pause. */
export function clusterJson(view: ScopeView, options: ClusterJsonOptions): Record<string, unknown> {
  assert(options.nowMs >= view.nowMs, "a view is judged at its own time or later");
  const leaseExpired = view.lease === null || view.lease.expired || view.lease.expiresAtMs <= options.nowMs;
  const holder = view.lease !== null && !leaseExpired ? view.lease.holder : null;
  const out: Record<string, unknown> = {
    members: [...view.members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((m) => memberJson(view, m, holder, options)),
    scope: view.scope,
  };
  if (view.paused) out["pause"] = true;
  const pending = view.pending;
  if (pending !== null && pending.scheduledAtMs !== null) {
    // Patroni leaves out `from` and `to` when the request did not name them.
    out["scheduled_switchover"] = { at: isoTime(pending.scheduledAtMs), ...(pending.from === null ? {} : { from: pending.from }), ...(pending.to === null ? {} : { to: pending.to }) };
  }
  out["raftgres"] = {
    lease: view.lease === null ? null : { holder: view.lease.holder, generation: view.lease.generation, expires_at: isoTime(view.lease.expiresAtMs), expired: leaseExpired },
    pending: pending === null ? null : { kind: pending.kind, from: pending.from, to: pending.to, scheduled_at: pending.scheduledAtMs === null ? null : isoTime(pending.scheduledAtMs), requested_by: pending.requestedBy },
    config_version: view.config.version,
  };
  return out;
}

/**
 * GET /history: [timeline, lsn, reason, timestamp, new_leader] per change of primary. Patroni's
 * timeline is the one that ended at `lsn` (the history file's parent timeline); the state records
 * the new one, so it is one less here, and the bootstrap (no parent) is not a line.
 */
export function historyJson(history: readonly PrimaryChange[]): unknown[][] {
  return history
    .filter((change) => change.reason !== "bootstrap" && change.timeline > 1)
    .map((change) => [change.timeline - 1, Number(change.lsn), change.reason, isoTime(change.atMs), change.newPrimary]);
}
