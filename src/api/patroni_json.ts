/**
 * The node status document of GET /patroni and of every health check's GET body, with Patroni's
 * field names (patroni/api.py get_postgresql_status and _write_status_response) so its tools and
 * dashboards read it, plus raftgres's own facts under `raftgres`.
 *
 * WAL positions are JSON numbers, as in Patroni: exact up to 2^53 bytes (8 PiB) of WAL.
 */
import { DEFAULT_TAGS, type MemberTags } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { isoTime } from "../lib/iso_time.js";
import type { LocalStatus, NodeApi, PendingRestartParameter, PermanentSlotStatus } from "./node_api.js";
import type { HaproxyPushStatus } from "./node_api.js";
import { nodeFacts, type NodeFacts } from "./node_facts.js";

/** A scheduled restart as GET /patroni shows it (Patroni's `scheduled_restart`). */
export interface ScheduledRestartView {
  readonly schedule: string;
  readonly role?: string;
  readonly postgres_version?: string;
  readonly restart_pending?: boolean;
  readonly timeout?: number;
}

export type TagValue = boolean | number | string;

/** Tags with Patroni's names (failover_priority, …); replicatefrom only when set. */
export function tagsAsPatroni(tags: MemberTags): Record<string, TagValue> {
  const out: Record<string, TagValue> = {
    nofailover: tags.nofailover,
    failover_priority: tags.failoverPriority,
    nosync: tags.nosync,
    noloadbalance: tags.noloadbalance,
    clonefrom: tags.clonefrom,
  };
  if (tags.replicatefrom !== null) out["replicatefrom"] = tags.replicatefrom;
  return out;
}

/**
 * The tags an operator set, as a member publishes them in Patroni (patroni/tags.py _filter_tags):
 * a tag at its default says nothing and is left out, so a member with none has none.
 */
export function tagsSetAsPatroni(tags: MemberTags): Record<string, TagValue> {
  const defaults = tagsAsPatroni(DEFAULT_TAGS);
  return Object.fromEntries(Object.entries(tagsAsPatroni(tags)).filter(([key, value]) => defaults[key] !== value));
}

/** `pending_restart` and `pending_restart_reason` ({param: {old_value, new_value}}), or nothing. */
export function pendingRestartJson(pending: Readonly<Record<string, PendingRestartParameter>>): Record<string, unknown> {
  const entries = Object.entries(pending);
  if (entries.length === 0) return {};
  return { pending_restart: true, pending_restart_reason: Object.fromEntries(entries.map(([name, p]) => [name, { old_value: p.oldValue, new_value: p.newValue }])) };
}

function xlog(local: LocalStatus): Record<string, unknown> | undefined {
  if (local.role === "primary") return local.walWritten === null ? undefined : { location: Number(local.walWritten) };
  if (local.walReceived === null && local.walReplayed === null) return undefined;
  return {
    received_location: Number(local.walReceived ?? local.walReplayed ?? 0n),
    replayed_location: Number(local.walReplayed ?? 0n),
    replayed_timestamp: local.replayedAtMs === null ? null : isoTime(local.replayedAtMs),
    paused: local.replayPaused,
  };
}

/** The config's permanent slots by name, WAL positions as numbers (Patroni's /status `slots` is keyed the same way). */
function permanentSlots(slots: readonly PermanentSlotStatus[]): Record<string, unknown> {
  return Object.fromEntries(slots.map((slot) => [slot.name, {
    type: slot.type,
    ...(slot.type === "logical" ? { database: slot.database, plugin: slot.plugin } : {}),
    present: slot.present,
    active: slot.active,
    wal_status: slot.walStatus,
    restart_lsn: slot.restartLsn === null ? null : Number(slot.restartLsn),
    ...(slot.type === "logical" ? { confirmed_flush_lsn: slot.confirmedFlushLsn === null ? null : Number(slot.confirmedFlushLsn) } : {}),
    retained_bytes: slot.retainedBytes,
    ...(slot.note === null ? {} : { note: slot.note }),
  }]));
}

/** One HAProxy admin socket's pushes; `ok` is false while its last push failed. */
function haproxyJson(socket: HaproxyPushStatus): Record<string, unknown> {
  return {
    socket: socket.socket,
    ok: socket.lastError === null,
    pushes: socket.pushes,
    failures: socket.failures,
    gave_up: socket.gaveUp,
    pending: socket.pending,
    last_push: socket.lastPush,
    last_error: socket.lastError,
  };
}

function raftgresExtras(local: LocalStatus, view: ScopeView | null): Record<string, unknown> {
  return {
    ...(local.permanentSlots === undefined ? {} : { slots: permanentSlots(local.permanentSlots) }),
    lease: local.lease === null ? null : { generation: local.lease.generation, ms_left: local.lease.msLeft },
    lease_holder: view?.lease?.expired === false ? view.lease.holder : null,
    reason: local.decision?.reason ?? null,
    detail: local.decision?.detail ?? null,
    busy: local.busy,
    progress: local.progress,
    problem: local.problem,
    start_failure: local.startFailure == null ? null : { reason: local.startFailure.reason, failures: local.startFailure.failures, next_start_in_ms: local.startFailure.nextStartInMs },
    configuration_problems: local.configurationProblems ?? [],
    watchdog_ok: local.watchdogOk,
    ...(local.pgbouncer === undefined ? {} : {
      pgbouncer: local.pgbouncer.map((p) => ({ name: p.name, paused: p.paused, paused_for_ms: p.pausedForMs, resume_failures: p.resumeFailures, last_error: p.lastError, points_at: p.pointsAt })),
    }),
    ...(local.haproxy === undefined ? {} : { haproxy: local.haproxy.map(haproxyJson) }),
    raft: {
      role: local.raft.role,
      term: local.raft.term,
      leader: local.raft.leader,
      commit_index: local.raft.commitIndex,
      applied_index: local.raft.appliedIndex,
      peers: local.raft.peers.map((p) => ({ id: p.id, match_index: p.matchIndex, last_contact_ms: p.lastContactMs })),
    },
  };
}

function postgresFields(local: LocalStatus, facts: NodeFacts): Record<string, unknown> {
  const out: Record<string, unknown> = { state: facts.state };
  if (local.postmasterStartMs !== null) out["postmaster_start_time"] = isoTime(local.postmasterStartMs);
  if (local.role !== null) out["role"] = local.role;
  if (local.serverVersion !== null) out["server_version"] = local.serverVersion;
  const wal = xlog(local);
  if (wal !== undefined) out["xlog"] = wal;
  if (facts.isSyncStandby) out["sync_standby"] = true;
  if (facts.isQuorumStandby) out["quorum_standby"] = true;
  if (local.timeline !== null) out["timeline"] = local.timeline;
  if (facts.replicationState !== null) out["replication_state"] = facts.replicationState;
  if (local.replication.length > 0) {
    out["replication"] = local.replication.map((r) => ({
      usename: r.usename,
      application_name: r.applicationName,
      client_addr: r.clientAddr,
      state: r.state,
      sync_state: r.syncState,
      sync_priority: r.syncPriority,
    }));
  }
  return out;
}

/** GET /patroni: always 200; the body of every health check's GET too. */
export function patroniStatus(node: Pick<NodeApi, "name" | "scope" | "version">, local: LocalStatus, view: ScopeView | null, scheduledRestart: ScheduledRestartView | null): Record<string, unknown> {
  const facts = nodeFacts(node, local, view);
  const out = postgresFields(local, facts);
  if (facts.paused) out["pause"] = true;
  if (facts.clusterUnlocked) out["cluster_unlocked"] = true;
  out["dcs_last_seen"] = local.dcsLastSeenMs === null ? 0 : Math.floor(local.dcsLastSeenMs / 1000);
  out["tags"] = tagsAsPatroni(local.tags);
  if (local.systemId !== null) out["database_system_identifier"] = local.systemId;
  Object.assign(out, pendingRestartJson(local.pendingRestart));
  if (scheduledRestart !== null) out["scheduled_restart"] = scheduledRestart;
  if (!local.watchdogOk) out["watchdog_failed"] = true;
  out["patroni"] = { version: node.version, scope: node.scope, name: node.name };
  out["raftgres"] = raftgresExtras(local, view);
  return out;
}
