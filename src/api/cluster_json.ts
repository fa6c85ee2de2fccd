/**
 * GET /cluster and GET /history in Patroni's shapes (patroni/utils.py cluster_as_json; the
 * history key's lines), built from the applied cluster state. Pure.
 */
import type { PrimaryChange } from "../dcs/model.js";
import type { MemberView, ScopeView } from "../dcs/views.js";
import { isoTime } from "../lib/iso_time.js";
import { tagsAsPatroni } from "./patroni_json.js";
import { syncModeOf } from "../dcs/sync_mode.js";

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

function memberJson(view: ScopeView, member: MemberView, holder: string | null): Record<string, unknown> {
  const role = memberRole(view, member, holder);
  const out: Record<string, unknown> = { name: member.name, role, state: member.state, api_url: member.apiUrl, ...hostPort(member.connUrl), timeline: member.timeline, tags: tagsAsPatroni(member.tags) };
  if (member.name !== holder) {
    // Lag is counted against the primary's reported WAL position, as Patroni counts it against /status.
    const primary = holder === null ? null : (view.members.find((m) => m.name === holder)?.walWritten ?? null);
    const lagOf = (lsn: bigint | null): number | "unknown" => (primary === null || lsn === null ? "unknown" : Number(primary > lsn ? primary - lsn : 0n));
    const lsn = member.walReceived ?? member.walReplayed;
    out["receive_lsn"] = member.walReceived === null ? "unknown" : Number(member.walReceived);
    out["receive_lag"] = lagOf(member.walReceived);
    out["replay_lsn"] = member.walReplayed === null ? "unknown" : Number(member.walReplayed);
    out["replay_lag"] = lagOf(member.walReplayed);
    out["lsn"] = lsn === null ? "unknown" : Number(lsn);
    out["lag"] = lagOf(lsn);
  }
  if (member.gone) out["gone"] = true;
  if (member.maintenance) out["maintenance"] = true;
  return out;
}

/** GET /cluster: members sorted by name, the schedule of a switchover, pause. */
export function clusterJson(view: ScopeView): Record<string, unknown> {
  const holder = view.lease !== null && !view.lease.expired ? view.lease.holder : null;
  const out: Record<string, unknown> = {
    members: [...view.members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((m) => memberJson(view, m, holder)),
    scope: view.scope,
  };
  if (view.paused) out["pause"] = true;
  const pending = view.pending;
  if (pending !== null && pending.scheduledAtMs !== null) {
    out["scheduled_switchover"] = { at: isoTime(pending.scheduledAtMs), from: pending.from, to: pending.to };
  }
  out["raftgres"] = {
    lease: view.lease === null ? null : { holder: view.lease.holder, generation: view.lease.generation, expires_at: isoTime(view.lease.expiresAtMs), expired: view.lease.expired },
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
