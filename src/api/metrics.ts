/**
 * GET /metrics: the Prometheus text format (version 0.0.4), with Patroni's metric names and
 * meanings (patroni/api.py do_GET_metrics) labelled {scope, name}, and raftgres's own Raft and
 * lease series. Written by hand, like Patroni's: the values are a snapshot taken per scrape, which
 * a registry of long-lived collectors (prom-client) would only copy; and the runtime packages are
 * fixed (shared/reference/stack-notes.md).
 */
import type { ScopeView } from "../dcs/views.js";
import type { LocalStatus, NodeApi, PermanentSlotStatus, PgbouncerStatus } from "./node_api.js";
import type { HaproxyPushStatus } from "./node_api.js";
import { nodeFacts, PATRONI_STATES, stateCode } from "./node_facts.js";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Readonly<Record<string, string>>;

/** Label values escaped as the text format requires (backslash, double quote, newline). */
function formatLabels(labels: Labels): string {
  const escape = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

class MetricsText {
  private readonly lines: string[] = [];
  constructor(private readonly labels: Labels) {}

  add(name: string, type: "gauge" | "counter", help: string, value: number | string, extra: readonly string[] = []): void {
    this.lines.push(`# HELP ${name} ${help}`, ...extra, `# TYPE ${name} ${type}`, `${name}${formatLabels(this.labels)} ${value}`);
  }

  /** One series per labelled value (e.g. per Raft peer) under one HELP/TYPE. */
  addFamily(name: string, help: string, series: readonly { labels: Labels; value: number }[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const s of series) this.lines.push(`${name}${formatLabels({ ...this.labels, ...s.labels })} ${s.value}`);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** "0.1.0" → "000100", Patroni's padded semver. */
function paddedVersion(version: string): string {
  return version.split(/[.-]/).slice(0, 3).map((part) => part.replace(/\D/g, "").padStart(2, "0")).join("");
}

const bit = (value: boolean): number => (value ? 1 : 0);
const seconds = (ms: number | null): number => (ms === null ? 0 : ms / 1000);

export function metricsText(node: Pick<NodeApi, "name" | "scope" | "version">, local: LocalStatus, view: ScopeView | null): string {
  const facts = nodeFacts(node, local, view);
  const m = new MetricsText({ scope: node.scope, name: node.name });
  const replica = local.role === "replica";
  m.add("patroni_version", "gauge", "Patroni semver without periods (here: the raftgres version).", paddedVersion(node.version));
  m.add("patroni_postgres_running", "gauge", "Value is 1 if Postgres is running, 0 otherwise.", bit(facts.running));
  m.add("patroni_postmaster_start_time", "gauge", "Epoch seconds since Postgres started.", seconds(local.postmasterStartMs));
  m.add("patroni_primary", "gauge", "Value is 1 if this node is the leader, 0 otherwise.", bit(facts.isPrimary));
  m.add("patroni_xlog_location", "counter", "Current location of the Postgres transaction log, 0 if this node is not the leader.", local.role === "primary" ? Number(local.walWritten ?? 0n) : 0);
  m.add("patroni_standby_leader", "gauge", "Value is 1 if this node is the standby_leader, 0 otherwise.", bit(facts.isStandbyLeader));
  m.add("patroni_replica", "gauge", "Value is 1 if this node is a replica, 0 otherwise.", bit(replica));
  m.add("patroni_sync_standby", "gauge", "Value is 1 if this node is a sync standby, 0 otherwise.", bit(facts.isSyncStandby));
  m.add("patroni_quorum_standby", "gauge", "Value is 1 if this node is a quorum standby, 0 otherwise.", bit(facts.isQuorumStandby));
  m.add("patroni_xlog_received_location", "counter", "Current location of the received Postgres transaction log, 0 if this node is not a replica.", replica ? Number(local.walReceived ?? 0n) : 0);
  m.add("patroni_xlog_replayed_location", "counter", "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.", replica ? Number(local.walReplayed ?? 0n) : 0);
  m.add("patroni_xlog_replayed_timestamp", "gauge", "Current timestamp of the replayed Postgres transaction log, 0 if null.", seconds(local.replayedAtMs));
  m.add("patroni_xlog_paused", "gauge", "Value is 1 if the Postgres xlog is paused, 0 otherwise.", bit(replica && local.replayPaused));
  m.add("patroni_postgres_streaming", "gauge", "Value is 1 if Postgres is streaming, 0 otherwise.", bit(facts.replicationState === "streaming"));
  // raftgres replicas stream; restore_command recovery is not managed, so never "in archive recovery".
  m.add("patroni_postgres_in_archive_recovery", "gauge", "Value is 1 if Postgres is replicating from archive, 0 otherwise.", 0);
  m.add("patroni_postgres_server_version", "gauge", "Version of Postgres (if running), 0 otherwise.", local.serverVersion ?? 0);
  m.add("patroni_cluster_unlocked", "gauge", "Value is 1 if the cluster is unlocked, 0 if locked.", bit(facts.clusterUnlocked));
  // No failsafe mode: the Raft majority is the only source of the lease.
  m.add("patroni_failsafe_mode_is_active", "gauge", "Value is 1 if failsafe mode is active, 0 if inactive.", 0);
  m.add("patroni_postgres_timeline", "counter", "Postgres timeline of this node (if running), 0 otherwise.", local.timeline ?? 0);
  m.add("patroni_dcs_last_seen", "gauge", "Epoch timestamp when DCS was last contacted successfully by Patroni.", local.dcsLastSeenMs === null ? 0 : Math.floor(local.dcsLastSeenMs / 1000));
  m.add("patroni_pending_restart", "gauge", "Value is 1 if the node needs a restart, 0 otherwise.", bit(Object.keys(local.pendingRestart).length > 0));
  m.add("patroni_is_paused", "gauge", "Value is 1 if auto failover is disabled, 0 otherwise.", bit(facts.paused));
  const values = `# Values: ${PATRONI_STATES.map((state, index) => `${index}=${state.replace(/ /g, "_")}`).join(", ")}`;
  m.add("patroni_postgres_state", "gauge", "Numeric representation of Postgres state.", stateCode(facts.state), [values]);
  const priority = local.tags.nofailover ? 0 : local.tags.failoverPriority;
  m.add("patroni_failover_priority", "gauge", "Value is 0 or greater if the node can become the leader, 0 when nofailover is set.", priority);
  raftgresMetrics(m, local, view);
  return m.text();
}

function raftgresMetrics(m: MetricsText, local: LocalStatus, view: ScopeView | null): void {
  const raft = local.raft;
  m.add("raftgres_raft_term", "counter", "The Raft term this node is in.", raft.term);
  m.add("raftgres_raft_commit_index", "counter", "The highest Raft log index this node knows to be committed.", raft.commitIndex);
  m.add("raftgres_raft_applied_index", "counter", "The highest Raft log index this node applied to the cluster state.", raft.appliedIndex);
  m.add("raftgres_raft_last_index", "counter", "The last index of this node's Raft log.", raft.lastIndex);
  m.add("raftgres_raft_storage_writes_total", "counter", "Synced writes of the Raft log since the agent started (each one fsync of LevelDB's log and of the acknowledged bound).", raft.storageWrites);
  m.add("raftgres_raft_entries_written_total", "counter", "Raft log entries written since the agent started.", raft.entriesWritten);
  m.add("raftgres_raft_loop_stall_max_ms", "gauge", "The Raft loop's longest stall since the agent started, in ms: from when a tick or message fell due until the loop had handled it.", raft.loopStallMaxMs);
  m.add("raftgres_raft_loop_stall_recent_max_ms", "gauge", "The Raft loop's longest stall over about the last minute, in ms.", raft.loopStallRecentMaxMs);
  m.add("raftgres_raft_is_leader", "gauge", "Value is 1 if this node is the Raft leader (not the PostgreSQL primary), 0 otherwise.", bit(raft.role === "leader"));
  m.addFamily("raftgres_raft_peer_match_index", "The highest log index known replicated on each peer (tracked on the Raft leader only).", raft.peers.map((p) => ({ labels: { peer: p.id }, value: p.matchIndex })));
  m.add("raftgres_lease_generation", "gauge", "Fencing token of the HA lease: it grows with every grant.", view?.lease?.generation ?? local.lease?.generation ?? 0);
  m.add("raftgres_lease_held", "gauge", "Value is 1 if this node holds the HA lease by its own deadline, 0 otherwise.", bit(local.lease !== null && local.lease.msLeft > 0));
  m.add("raftgres_watchdog_ok", "gauge", "Value is 1 if the watchdog process is healthy, 0 otherwise.", bit(local.watchdogOk));
  slotMetrics(m, local.permanentSlots ?? []);
  pgbouncerMetrics(m, local.pgbouncer ?? []);
  haproxyMetrics(m, local.haproxy ?? []);
}

/** One series per HAProxy admin socket of node.yml, labelled {socket}; none without the section. */
function haproxyMetrics(m: MetricsText, sockets: readonly HaproxyPushStatus[]): void {
  const series = (value: (s: HaproxyPushStatus) => number) => sockets.map((s) => ({ labels: { socket: s.socket }, value: value(s) }));
  m.addFamily("raftgres_haproxy_push_ok", "Value is 1 if the last push of a role change to this HAProxy succeeded (or none failed yet), 0 while it fails; its health checks then route alone.", series((s) => bit(s.lastError === null)));
  m.addFamily("raftgres_haproxy_pushes_total", "Role changes this HAProxy accepted through its runtime API since the agent started.", series((s) => s.pushes));
  m.addFamily("raftgres_haproxy_push_failures_total", "Pushes to this HAProxy that failed since the agent started (retried with backoff).", series((s) => s.failures));
  m.addFamily("raftgres_haproxy_push_gave_up_total", "Pushes to this HAProxy abandoned after their last attempt since the agent started.", series((s) => s.gaveUp));
  m.addFamily("raftgres_haproxy_push_pending", "Pushes to this HAProxy waiting for their next attempt.", series((s) => s.pending));
}

/** One series per pgbouncer instance of node.yml, labelled {pgbouncer}; none without the section. */
function pgbouncerMetrics(m: MetricsText, instances: readonly PgbouncerStatus[]): void {
  const series = (value: (p: PgbouncerStatus) => number) => instances.map((p) => ({ labels: { pgbouncer: p.name }, value: value(p) }));
  m.addFamily("raftgres_pgbouncer_paused", "Value is 1 while this agent holds the pgbouncer paused for a switchover, 0 otherwise.", series((p) => bit(p.paused)));
  m.addFamily("raftgres_pgbouncer_resume_failures_total", "RESUME commands that failed on the pgbouncer since the agent started (each is retried).", series((p) => p.resumeFailures));
}

/** One series per permanent slot of the config, labelled {slot, type}; none while PostgreSQL is down. */
function slotMetrics(m: MetricsText, slots: readonly PermanentSlotStatus[]): void {
  const series = (value: (slot: PermanentSlotStatus) => number) => slots.map((slot) => ({ labels: { slot: slot.name, type: slot.type }, value: value(slot) }));
  m.addFamily("raftgres_slot_present", "Value is 1 if the permanent slot exists on this node, 0 otherwise.", series((s) => bit(s.present)));
  m.addFamily("raftgres_slot_active", "Value is 1 if a consumer is connected to the permanent slot, 0 otherwise.", series((s) => bit(s.active)));
  m.addFamily("raftgres_slot_lost", "Value is 1 if the permanent slot lost WAL it needed (wal_status lost), 0 otherwise.", series((s) => bit(s.walStatus === "lost")));
  m.addFamily("raftgres_slot_unreserved", "Value is 1 if the WAL the permanent slot needs is about to be removed (wal_status unreserved), 0 otherwise.", series((s) => bit(s.walStatus === "unreserved")));
  m.addFamily("raftgres_slot_retained_bytes", "WAL the permanent slot holds back on this node, in bytes.", series((s) => s.retainedBytes ?? 0));
}
