/**
 * The vocabulary of the cluster state: members, the leader lease, the dynamic configuration and
 * the histories, per scope (one PostgreSQL cluster). Plain data; commands and events in
 * commands.ts and events.ts, the rules in decide.ts, the fold in evolve.ts.
 *
 * Words follow shared/STYLE.md: primary/replica/timeline/LSN are PostgreSQL's; "lease holder" is
 * the member holding the HA lease; "member" is a member record.
 */
import type { JsonObject } from "./json.js";

export type Scope = string & { readonly __brand: "Scope" };
export type MemberName = string & { readonly __brand: "MemberName" };
/** A PostgreSQL WAL position (pg_lsn) as a 64-bit number. */
export type Lsn = bigint & { readonly __brand: "Lsn" };

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value);
}

export const MEMBER_ROLES = ["primary", "replica", "standby_leader", "witness", "uninitialized"] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/** Patroni's states (patroni-behaviour.md), and ours where it has none ("rewinding"). */
export const MEMBER_STATES = [
  "running",
  "streaming",
  "in archive recovery",
  "starting",
  "stopping",
  "stopped",
  "crashed",
  "restarting",
  "creating replica",
  "rewinding",
  "initializing new cluster",
  "bootstrap failed",
  "unknown",
  // Appended, never inserted: the wire form is the index (commands.ts).
  "start failed",
  // Off the primary's history (a forked timeline, or WAL past the fork): not usable (issue 14).
  "diverged",
] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

export interface MemberTags {
  readonly nofailover: boolean;
  /** Higher wins among equally good candidates; 0 means never promote (like nofailover). */
  readonly failoverPriority: number;
  readonly nosync: boolean;
  readonly noloadbalance: boolean;
  readonly clonefrom: boolean;
  /** Cascading replication: the member to stream from instead of the primary. */
  readonly replicatefrom: MemberName | null;
}

export const DEFAULT_TAGS: MemberTags = {
  nofailover: false,
  failoverPriority: 1,
  nosync: false,
  noloadbalance: false,
  clonefrom: false,
  replicatefrom: null,
};

/**
 * A parameter whose new value waits for a restart (pg_settings.pending_restart): Patroni's
 * pending_restart_reason entry, {name: {old_value, new_value}}. Bounded (command_bounds.ts);
 * the reporting member fits what PostgreSQL says into the bounds (pending_restart.ts).
 */
export interface PendingRestartParameter {
  readonly name: string;
  readonly oldValue: string;
  readonly newValue: string;
}

/** What a member reports about itself (Patroni's members/<name> key). */
export interface MemberStatus {
  readonly name: MemberName;
  readonly apiUrl: string;
  readonly connUrl: string;
  readonly role: MemberRole;
  readonly state: MemberState;
  readonly timeline: number;
  /** Primary: WAL written. Replicas: null. */
  readonly walWritten: Lsn | null;
  readonly walReceived: Lsn | null;
  readonly walReplayed: Lsn | null;
  readonly tags: MemberTags;
  readonly agentVersion: string;
  /**
   * The parameters waiting for a restart, sorted by name: present (never empty) only while a
   * restart is pending. Absent in reports of older versions, which knew no such field.
   */
  readonly pendingRestart?: readonly PendingRestartParameter[];
}

export interface MemberRecord extends MemberStatus {
  /** Entry time of the last update: a member not heard from for `ttl` is shown as gone. */
  readonly lastSeenMs: number;
}

export interface Lease {
  readonly holder: MemberName;
  readonly acquiredAtMs: number;
  readonly renewedAtMs: number;
  readonly ttlMs: number;
  readonly expiresAtMs: number;
  /** The fencing token: it grows with every grant, so a stale holder can be told apart. */
  readonly generation: number;
}

export interface ConfigVersion {
  readonly version: number;
  readonly author: string;
  readonly atMs: number;
  /** The change as a merge patch (null deletes a key). */
  readonly patch: JsonObject;
}

export interface Config {
  readonly version: number;
  readonly value: JsonObject;
}

export const TIMELINE_REASONS = ["bootstrap", "failover", "switchover", "manual"] as const;
export type TimelineReason = (typeof TIMELINE_REASONS)[number];

/** One change of primary (Patroni's history key). */
export interface PrimaryChange {
  readonly timeline: number;
  /**
   * The timeline this one branched off, from the new primary's .history file: with `lsn`, where
   * the cluster's history left the parent (lineage.ts). Absent when not known (entries recorded
   * by older versions, timeline 1).
   */
  readonly parent?: number;
  readonly lsn: Lsn;
  readonly atMs: number;
  readonly reason: TimelineReason;
  readonly newPrimary: MemberName;
}

export interface PendingSwitchover {
  readonly kind: "switchover" | "failover";
  /** The primary expected to step down (switchover), or null. */
  readonly from: MemberName | null;
  /** The chosen candidate, or null for "the best one". */
  readonly to: MemberName | null;
  readonly scheduledAtMs: number | null;
  /** A failover to a target that may lack acknowledged commits, allowed explicitly. */
  readonly allowDataLoss?: boolean;
  readonly requestedBy: string;
  readonly atMs: number;
}

export interface SyncState {
  readonly version: number;
  readonly leader: MemberName | null;
  readonly standbys: readonly MemberName[];
  /**
   * How many of `standbys` hold every commit `leader` acknowledged (priority mode: all of them;
   * quorum mode: ANY k); 0 claims nothing (asynchronous). See sync_mode.ts.
   */
  readonly quorum: number;
}

export interface Initialization {
  readonly by: MemberName;
  /** PostgreSQL's system identifier; "" while the bootstrap (initdb) is running. */
  readonly systemId: string;
  readonly atMs: number;
}

/** Everything known about one scope (one PostgreSQL cluster). */
/**
 * Where the last lease holder's WAL stood when it was granted the lease: the point its history
 * leaves its timeline if it promotes. A member whose WAL goes on past it on that timeline holds
 * writes that holder never had (issue 14): it may not take the lease after it.
 */
export interface Takeover {
  readonly holder: MemberName;
  readonly generation: number;
  readonly timeline: number;
  readonly lsn: Lsn;
}

/** A candidate's WAL as it asks for the lease: its timeline (known exactly) and where its WAL ends. */
export interface WalPosition {
  readonly timeline: number;
  readonly lsn: Lsn;
}

export interface ScopeState {
  readonly scope: Scope;
  initialization: Initialization | null;
  lease: Lease | null;
  /** The last grant's takeover point, when its holder said where its WAL stood (null otherwise). */
  takeover: Takeover | null;
  /** Highest lease generation granted so far (survives releases). */
  leaseGeneration: number;
  readonly members: Map<MemberName, MemberRecord>;
  config: Config;
  configHistory: ConfigVersion[];
  primaryHistory: PrimaryChange[];
  pending: PendingSwitchover | null;
  sync: SyncState;
  paused: boolean;
  readonly maintenance: Set<MemberName>;
}

export interface DcsState {
  readonly scopes: Map<Scope, ScopeState>;
  /** Time of the last applied command (entry time): the DCS's notion of now. */
  nowMs: number;
  /** Log index of the last applied command. */
  appliedIndex: number;
  readonly limits: DcsLimits;
}

export interface DcsLimits {
  /** Entries kept in each scope's config history and primary history (older ones are dropped). */
  readonly historyMax: number;
  readonly scopesMax: number;
  readonly membersPerScopeMax: number;
  readonly configBytesMax: number;
}

/** The most members any scope may have, whatever the limits say (commands are bounded by it). */
export const MEMBERS_PER_SCOPE_MAX = 64;

export const DEFAULT_LIMITS: DcsLimits = {
  historyMax: 1000,
  scopesMax: 10_000,
  membersPerScopeMax: MEMBERS_PER_SCOPE_MAX,
  configBytesMax: 256 * 1024,
};

/**
 * The dynamic settings read from the scope's config, with their defaults: Patroni's names and
 * meanings, our LAN defaults for the timings (Patroni: ttl 30, loop_wait 10, retry_timeout 10).
 */
export const CONFIG_DEFAULTS = {
  /** Seconds: the lease's time to live; a member silent for longer is shown as gone. */
  ttl: 5,
  /** Seconds between two HA cycles; the holder renews its lease once per loop_wait. */
  loop_wait: 1,
  /** Seconds a cluster-state or PostgreSQL call may take before it counts as failed. */
  retry_timeout: 2,
  /** Bytes: a replica further behind may not be chosen for a switchover or failover. */
  maximum_lag_on_failover: 1024 * 1024,
  /** Seconds a crashed primary may take to start again in place before it gives up the lease. */
  primary_start_timeout: 300,
} as const;

export function emptyScope(scope: Scope): ScopeState {
  return {
    scope,
    initialization: null,
    lease: null,
    takeover: null,
    leaseGeneration: 0,
    members: new Map(),
    config: { version: 0, value: {} },
    configHistory: [],
    primaryHistory: [],
    pending: null,
    sync: { version: 0, leader: null, standbys: [], quorum: 0 },
    paused: false,
    maintenance: new Set(),
  };
}

export function emptyState(limits: DcsLimits = DEFAULT_LIMITS): DcsState {
  return { scopes: new Map(), nowMs: 0, appliedIndex: 0, limits };
}

/** A number from the scope's dynamic config, or the default when absent or not a number. */
export function configNumber(config: Config, key: keyof typeof CONFIG_DEFAULTS): number {
  const value = config.value[key];
  return typeof value === "number" && Number.isFinite(value) ? value : CONFIG_DEFAULTS[key];
}
