/**
 * What the HA loop knows about the local PostgreSQL: observed by src/pg (process state, SQL,
 * pg_controldata), handed to decide() as plain data. Nothing here does I/O.
 */
import type { Lsn, MemberName } from "../dcs/model.js";

/** What the data directory holds. */
export type DataDirState = "empty" | "initialized" | "inaccessible";

/**
 * The postmaster as the agent sees it:
 * - stopped: no postmaster (cleanly stopped, or never started);
 * - starting: started, not yet accepting connections;
 * - running: accepting connections;
 * - stopping: a stop was asked and is in progress;
 * - crashed: it exited without being asked to.
 */
export type ProcessState = "stopped" | "starting" | "running" | "stopping" | "crashed";

/** "Database cluster state" of pg_controldata, reduced to what the rules need. */
export type ControlState = "shut down" | "shut down in recovery" | "in production" | "in archive recovery" | "in crash recovery" | "shutting down" | "unknown";

/** One row of pg_stat_replication: a standby connected to this server. */
export interface WalSender {
  /** application_name: the member name for the members' own walreceivers. */
  readonly name: string;
  /** startup, catchup, streaming, backup, stopping. */
  readonly state: string;
  /** The WAL the standby has flushed to its disk, or null before it said. */
  readonly flushLsn: Lsn | null;
}

export interface LocalPostgres {
  readonly dataDir: DataDirState;
  /** The system identifier of the data directory (pg_controldata), or null when none. */
  readonly systemId: string | null;
  readonly process: ProcessState;
  /** When running: whether it is in recovery (a replica) or not (a primary). */
  readonly role: "primary" | "replica" | null;
  /** The current timeline (running), or the latest checkpoint's timeline (stopped). */
  readonly timeline: number | null;
  /**
   * A running replica: the timeline it replays, read after walReplayed (IDENTIFY_SYSTEM over a
   * replication session; PostgreSQL 15 has no SQL function for it) — that position's timeline or
   * a later one, never an earlier one. Null when not a running replica or not known.
   */
  readonly replayTimeline: number | null;
  /** pg_controldata's state when stopped; "unknown" when it could not be read. */
  readonly controlState: ControlState;
  /** Stopped: where the last checkpoint record starts (pg_controldata); null when running or unknown. */
  readonly checkpointLsn: Lsn | null;
  /**
   * A running primary, or a stopped data directory, on a timeline after the first: where that
   * timeline branched off its parent (its .history file).
   */
  readonly timelineSwitchLsn: Lsn | null;
  /** The same: the timeline it branched off. */
  readonly timelineParent: number | null;
  /**
   * pg_controldata's minimum recovery point and its timeline (stopped), or pg_control_recovery()'s
   * (running replica): a replica replayed at least this far; null when zero or unknown.
   */
  readonly minRecoveryLsn: Lsn | null;
  readonly minRecoveryTimeline: number | null;
  /** Primary: pg_current_wal_lsn (written). */
  readonly walWritten: Lsn | null;
  /** Replica: pg_last_wal_receive_lsn / pg_last_wal_replay_lsn. */
  readonly walReceived: Lsn | null;
  readonly walReplayed: Lsn | null;
  /** Replica: the WAL receiver is streaming (pg_stat_wal_receiver status = streaming). */
  readonly streaming: boolean;
  /** The member primary_conninfo points at (written by us), or null for none. */
  readonly upstream: MemberName | null;
  /** The synchronous_standby_names PostgreSQL runs with (SHOW), or null when not running. */
  readonly syncStandbyNames: string | null;
  /** The standbys streaming from this server (pg_stat_replication), by application_name. */
  readonly senders: readonly WalSender[];
  /** A message for operators when the last observation failed (query timeout, refused …). */
  readonly problem: string | null;
}
