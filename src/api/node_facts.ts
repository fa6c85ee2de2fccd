/**
 * The node as Patroni's API describes it, worked out once per request from the local snapshot and
 * the applied cluster state: the PostgreSQL state word and its metric code, the role, whether this
 * node holds the lease, is a synchronous or quorum standby, and the primary's WAL position.
 * Pure; shared by the health checks, GET /patroni and GET /metrics.
 */
import type { ScopeView } from "../dcs/views.js";
import type { LocalStatus, NodeApi } from "./node_api.js";
import { syncModeOf } from "../dcs/sync_mode.js";

/**
 * Patroni's PostgreSQL states in the order of their metric codes (patroni/postgresql/misc.py,
 * PostgresqlState), then raftgres's own ("rewinding", "diverged"), which have code -1.
 */
export const PATRONI_STATES = [
  "initializing new cluster",
  "initdb failed",
  "running custom bootstrap script",
  "custom bootstrap failed",
  "creating replica",
  "running",
  "starting",
  "starting after custom bootstrap",
  "start failed",
  "restarting",
  "restart failed",
  "stopping",
  "stopped",
  "stop failed",
  "crashed",
] as const;

export type PostgresStateWord = (typeof PATRONI_STATES)[number] | "rewinding" | "diverged" | "unknown";

/** What a long action in flight shows as the state, when it decides it. */
const BUSY_STATES: Readonly<Record<string, PostgresStateWord>> = {
  bootstrap: "initializing new cluster",
  clone: "creating replica",
  reinit: "creating replica",
  rewind: "rewinding",
  restart: "restarting",
  start: "starting",
  stop: "stopping",
};

export function postgresState(local: LocalStatus): PostgresStateWord {
  const busy = local.busy === null ? undefined : BUSY_STATES[local.busy];
  if (busy !== undefined) return busy;
  if (local.startFailure != null && local.process !== "running") return "start failed";
  // Off the primary's history: it runs, but is not "running" for any health check (503).
  if (local.diverged != null) return "diverged";
  return local.process ?? "unknown";
}

/** The metric code of a state (patroni_postgres_state); -1 for a state Patroni has no code for. */
export function stateCode(state: PostgresStateWord): number {
  return (PATRONI_STATES as readonly string[]).indexOf(state);
}

export interface NodeFacts {
  readonly state: PostgresStateWord;
  readonly running: boolean;
  readonly role: LocalStatus["role"];
  /** This node holds the HA lease (by its own deadline). */
  readonly holdsLease: boolean;
  /** Holds the lease and runs as a primary. */
  readonly isPrimary: boolean;
  readonly isStandbyLeader: boolean;
  /** Listed in the scope's synchronous state by the current primary (priority mode). */
  readonly isSyncStandby: boolean;
  /** Listed as a quorum voter (synchronous_mode: quorum). */
  readonly isQuorumStandby: boolean;
  /** "streaming" when the WAL receiver streams; null on a primary or when not streaming. */
  readonly replicationState: "streaming" | null;
  /** The primary's WAL position: max(the primary's report in the cluster state, our received WAL). */
  readonly primaryLsn: bigint | null;
  readonly clusterUnlocked: boolean;
  readonly paused: boolean;
}

export function nodeFacts(node: Pick<NodeApi, "name">, local: LocalStatus, view: ScopeView | null): NodeFacts {
  const state = postgresState(local);
  const running = state === "running";
  const holdsLease = local.lease !== null && local.lease.msLeft > 0;
  const lease = view?.lease ?? null;
  const liveHolder = lease !== null && !lease.expired ? lease.holder : null;
  const sync = view?.sync ?? null;
  const listed = sync !== null && sync.leader !== null && sync.leader === liveHolder && sync.standbys.includes(node.name);
  const isReplica = local.role === "replica";
  const quorumMode = view === null ? null : syncModeOf(view.config).mode === "quorum";
  const reported = liveHolder === null ? null : (view?.members.find((m) => m.name === liveHolder)?.walWritten ?? null);
  const candidates = [reported, local.walReceived].filter((v): v is NonNullable<typeof v> => v !== null);
  return {
    state,
    running,
    role: local.role,
    holdsLease,
    isPrimary: holdsLease && running && local.role === "primary",
    isStandbyLeader: holdsLease && running && local.role === "standby_leader",
    isSyncStandby: listed && isReplica && quorumMode === false,
    isQuorumStandby: listed && isReplica && quorumMode === true,
    replicationState: isReplica && running && local.streaming ? "streaming" : null,
    primaryLsn: candidates.length === 0 ? null : candidates.reduce((a, b) => (a > b ? a : b)),
    clusterUnlocked: liveHolder === null,
    paused: view?.paused ?? false,
  };
}
