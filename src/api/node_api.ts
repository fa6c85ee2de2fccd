/**
 * What the REST API needs from the node it runs in (shared/STYLE.md: "api talks to an interface it
 * defines"). The agent implements it over the HA loop, the PostgreSQL adapter and the Raft node;
 * the tests implement it over a real DcsStateMachine. Nothing here imports src/ha, src/pg or
 * src/raft: the fields the API shows are restated here as plain data.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { Command } from "../dcs/commands.js";
import type { DcsFailure, Executed } from "../dcs/client.js";
import type { Lsn, MemberName, MemberTags, Scope } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";

/** The postmaster as the agent last saw it (src/ha/observation.ts, ProcessState). */
export type ProcessState = "stopped" | "starting" | "running" | "stopping" | "crashed";

/** The role PostgreSQL runs in, or last ran in; "uninitialized" while the data directory is empty. */
export type PostgresRole = "primary" | "replica" | "standby_leader" | "uninitialized";

/** One row of pg_stat_replication on a primary (Patroni's `replication` list). */
export interface ReplicationConnection {
  readonly usename: string;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  /** pg_stat_replication.state: startup, catchup, streaming, backup, stopping. */
  readonly state: string;
  /** pg_stat_replication.sync_state: async, potential, sync, quorum. */
  readonly syncState: string;
  readonly syncPriority: number;
}

/** Raft progress of one other voter, as the Raft leader tracks it (0 and null elsewhere). */
export interface RaftPeerStatus {
  readonly id: string;
  readonly matchIndex: number;
  /** Milliseconds since the last message from the peer, or null if none yet. */
  readonly lastContactMs: number | null;
}

/** The Raft node's status (src/raft RaftNodeStatus, reduced). */
export interface RaftSummary {
  /** "leader", "follower", "candidate" or "precandidate". */
  readonly role: string;
  readonly term: number;
  /** The Raft leader's node id, or null while there is none. */
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The last index of this node's log. */
  readonly lastIndex: number;
  /** Durable (synced) writes of the Raft log since the agent started, and the entries they carried. */
  readonly storageWrites: number;
  readonly entriesWritten: number;
  /** The Raft loop's longest stall in ms (from when work fell due until it was done), since start and over the last minute. */
  readonly loopStallMaxMs: number;
  readonly loopStallRecentMaxMs: number;
  readonly peers: readonly RaftPeerStatus[];
}

/** A member of the Raft group (a node id is its member name). */
export interface RaftMember {
  readonly id: string;
  /** Where peers reach its Raft transport, host:port. */
  readonly address: string;
  readonly role: "voter" | "learner";
  readonly isLeader: boolean;
  /** The Raft leader's match index for it (its own last index for the leader); null elsewhere. */
  readonly matchIndex: number | null;
  /** Milliseconds since this node last heard from it; null for itself or when never heard. */
  readonly lastContactMs: number | null;
}

/** The Raft group as this node sees it (its latest configuration, committed or not). */
export interface RaftMembership {
  /** This node's id, and its Raft role ("leader", "follower", "candidate", "precandidate"). */
  readonly self: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly members: readonly RaftMember[];
}

/** One single-server membership change (src/raft ConfChange, restated). */
export interface MembershipChange {
  readonly kind: "addVoter" | "addLearner" | "remove";
  readonly id: string;
  /** The member's Raft address; required for additions, "" for removals. */
  readonly address: string;
}

/** A parameter that changed in the config but needs a restart to take effect. */
export interface PendingRestartParameter {
  readonly oldValue: string;
  readonly newValue: string;
}

/** Progress of a long copy (pg_basebackup, pg_rewind). */
export interface ActionProgress {
  readonly action: string;
  readonly percent: number | null;
  readonly detail: string;
}

/** A permanent replication slot of the config as this node's PostgreSQL has it (src/pg PermanentSlotState). */
export interface PermanentSlotStatus {
  readonly name: string;
  readonly type: "physical" | "logical";
  readonly database: string | null;
  readonly plugin: string | null;
  readonly present: boolean;
  readonly active: boolean;
  /** pg_replication_slots.wal_status: reserved, extended, unreserved or lost; null when absent. */
  readonly walStatus: string | null;
  readonly restartLsn: Lsn | null;
  readonly confirmedFlushLsn: Lsn | null;
  /** WAL the slot holds back on this node, in bytes. */
  readonly retainedBytes: number | null;
  /** Why it is absent or what is wrong with it; null when all is well. */
  readonly note: string | null;
}

/**
 * A synchronous snapshot of this node: the last observation of the local PostgreSQL and what the
 * HA loop, the Raft node and the watchdog last reported. Cheap: the health checks call it for
 * every HAProxy probe.
 */
export interface LocalStatus {
  /** The postmaster; null before the first observation. */
  readonly process: ProcessState | null;
  /** The long action in flight (src/ha PostgresActionKind: bootstrap, clone, rewind …), or null. */
  readonly busy: string | null;
  readonly progress: ActionProgress | null;
  readonly role: PostgresRole | null;
  readonly timeline: number | null;
  /** Primary: pg_current_wal_lsn. */
  readonly walWritten: Lsn | null;
  /** Replica: pg_last_wal_receive_lsn (or the WAL receiver's latest_end_lsn, whichever is later). */
  readonly walReceived: Lsn | null;
  /** Replica: pg_last_wal_replay_lsn. */
  readonly walReplayed: Lsn | null;
  /** Replica: epoch ms of pg_last_xact_replay_timestamp(), or null. */
  readonly replayedAtMs: number | null;
  /** Replica: pg_is_wal_replay_paused(). */
  readonly replayPaused: boolean;
  /** Replica: the WAL receiver is streaming. */
  readonly streaming: boolean;
  /** The data directory's system identifier (pg_controldata), or null. */
  readonly systemId: string | null;
  /** server_version_num, e.g. 150018; null when PostgreSQL was never reached. */
  readonly serverVersion: number | null;
  /** Epoch ms of pg_postmaster_start_time(), or null when not running. */
  readonly postmasterStartMs: number | null;
  /** Parameters changed but waiting for a restart, by name (empty when none). */
  readonly pendingRestart: Readonly<Record<string, PendingRestartParameter>>;
  readonly tags: MemberTags;
  /** This node's own hold of the HA lease (its local deadline not passed), or null. */
  readonly lease: { readonly generation: number; readonly msLeft: number } | null;
  /** The last HA cycle's sentence for operators and its details, or null before the first. */
  readonly decision: { readonly reason: string; readonly detail: string } | null;
  /** Milliseconds since the HA loop last finished a cycle (since it started, before the first). */
  readonly haLoopAgeMs: number;
  /** Epoch ms of the last successful exchange with the Raft group, or null if never. */
  readonly dcsLastSeenMs: number | null;
  readonly raft: RaftSummary;
  /** The watchdog process is alive and armed when it must be. */
  readonly watchdogOk: boolean;
  /** Primary: pg_stat_replication (empty elsewhere). */
  readonly replication: readonly ReplicationConnection[];
  /** Why the last observation failed (query timeout, refused …), or null. */
  readonly problem: string | null;
  /** The last starts of PostgreSQL failed and none succeeded since: PostgreSQL's reason, how often, when the next start is. */
  readonly startFailure?: { readonly reason: string; readonly failures: number; readonly nextStartInMs: number } | null;
  /** What PostgreSQL refuses in its configuration (parameters left out, lines pg_file_settings refuses). */
  readonly configurationProblems?: readonly string[];
  /** Why this member is off the primary's history (a forked timeline, WAL past the fork), or null. */
  readonly diverged?: string | null;
  /** The config's permanent replication slots on this node, while PostgreSQL runs (absent otherwise). */
  readonly permanentSlots?: readonly PermanentSlotStatus[];
  /** The pgbouncer instances paused through a switchover (absent without a pgbouncer section). */
  readonly pgbouncer?: readonly PgbouncerStatus[];
  /** The pushes to each HAProxy admin socket (absent without a haproxy section). */
  readonly haproxy?: readonly HaproxyPushStatus[];
}

/** The role changes pushed to one HAProxy (src/ha/io/haproxy_push.ts HaproxySocketStatus, restated). */
export interface HaproxyPushStatus {
  readonly socket: string;
  /** Pushes HAProxy accepted. */
  readonly pushes: number;
  /** Attempts that failed, retried or not. */
  readonly failures: number;
  /** Pushes abandoned after their last attempt: HAProxy's checks route those servers. */
  readonly gaveUp: number;
  /** Pushes waiting for their next attempt. */
  readonly pending: number;
  /** The last push accepted, e.g. "primary/pg2 up", and when (the agent's monotonic clock). */
  readonly lastPush: string | null;
  readonly lastPushAtMs: number | null;
  /** The last failure while no push succeeded since; null when the socket works. */
  readonly lastError: string | null;
}

/** One pgbouncer instance (src/agent/pgbouncer_switchover.ts PgbouncerInstanceStatus, restated). */
export interface PgbouncerStatus {
  readonly name: string;
  /** Paused by this agent for a switchover and not resumed yet. */
  readonly paused: boolean;
  readonly pausedForMs: number | null;
  /** RESUME commands that failed since the agent started (each is retried). */
  readonly resumeFailures: number;
  readonly lastError: string | null;
  /** The member its databases file points at, or null (no file, or not written yet). */
  readonly pointsAt: string | null;
}

export interface RestartRequest {
  /** Overrides primary_start_timeout for this restart (Patroni's `timeout`). */
  readonly timeoutMs: number | null;
}

export interface ReinitializeRequest {
  /** Cancel the long action in flight first. */
  readonly force: boolean;
  /** Take the base backup from the primary rather than from a member tagged clonefrom. */
  readonly fromLeader: boolean;
  /** Take the base backup from this member (raftgres's own; Patroni has only from_leader). */
  readonly from: string | null;
}

/** Why the node would not, or could not, do what was asked: a code and a sentence naming the state. */
export interface NodeFailure {
  readonly code: "busy" | "refused" | "failed" | "unavailable";
  readonly message: string;
}

export interface NodeApi {
  readonly scope: Scope;
  readonly name: MemberName;
  /** The raftgres version (shown where Patroni shows its own: `patroni.version`). */
  readonly version: string;
  /** A snapshot of this node; synchronous and cheap. */
  local(): LocalStatus;
  /** The scope as this node has applied it (may lag the cluster); null before it exists. */
  view(): ScopeView | null;
  /** A linearizable read of the scope (a Raft ReadIndex first). */
  readView(): Promise<E.Either<{ readonly message: string }, ScopeView | null>>;
  /** Runs a command through the Raft log, resolving once this node applied it. `author`: "api:<user>" or "api". */
  execute(command: Command, author: string): Promise<E.Either<DcsFailure, Executed>>;
  /**
   * The same for another scope the Raft log serves (one Raft group may serve many clusters):
   * only `raftgres remove` acts on a scope that is not this node's.
   */
  executeIn(scope: Scope, command: Command, author: string): Promise<E.Either<DcsFailure, Executed>>;
  /** Restarts PostgreSQL now; resolves when it runs again, with a sentence for the operator. */
  restart(request: RestartRequest): Promise<E.Either<NodeFailure, string>>;
  /** Re-reads the local configuration and reloads PostgreSQL (Patroni's SIGHUP). */
  reload(): Promise<E.Either<NodeFailure, string>>;
  /** Starts rebuilding this replica's data directory; resolves once it started, not when it ends. */
  reinitialize(request: ReinitializeRequest): Promise<E.Either<NodeFailure, string>>;
  /** Runs an HA cycle now (after a config change or a switchover request). */
  wake(): void;
  /**
   * Why these PostgreSQL parameters (names and values, as `postgresql.parameters` of the dynamic
   * config gives them) would not be accepted by the server this node runs: one sentence each,
   * empty when all pass. Checked before a config change is written (PostgreSQL 15's rules).
   */
  postgresParameterProblems(parameters: Readonly<Record<string, unknown>>): readonly string[];
  /** The Raft group as this node sees it; synchronous and cheap. */
  raftMembers(): RaftMembership;
  /**
   * Proposes a membership change on this node, which must be the Raft leader; resolves once it
   * committed and was applied here (code "unavailable" when this node is not the leader, "busy"
   * while another change is in progress, "refused" when the change is not valid).
   */
  changeMembership(change: MembershipChange, timeoutMs: number): Promise<E.Either<NodeFailure, string>>;
  /** Asks the Raft leader (through Raft, from any node) to hand its leadership to `to`; does not wait. */
  transferLeadership(to: string): E.Either<NodeFailure, string>;
}
