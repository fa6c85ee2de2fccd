/**
 * What this member publishes about itself each cycle (Patroni's member key), derived from the
 * local observation: role, state, timeline, WAL positions, tags.
 */
import type { MemberName, MemberState, MemberStatus, MemberTags } from "../dcs/model.js";
import { fitPendingRestart, type PendingRestartReport } from "../dcs/pending_restart.js";
import type { PostgresActionKind } from "./actions.js";
import type { LocalPostgres } from "./observation.js";

export interface Identity {
  readonly name: MemberName;
  readonly apiUrl: string;
  readonly connUrl: string;
  readonly tags: MemberTags;
  readonly agentVersion: string;
}

const BUSY_STATES: Readonly<Record<PostgresActionKind, MemberState | null>> = {
  bootstrap: "initializing new cluster",
  clone: "creating replica",
  reinit: "creating replica",
  rewind: "rewinding",
  start: "starting",
  stop: "stopping",
  promote: null,
  followPrimary: null,
  syncSlots: null,
  setSyncStandbyNames: null,
};

function state(pg: LocalPostgres, busy: PostgresActionKind | null, startFailed: boolean, diverged: boolean): MemberState {
  const busyState = busy === null ? null : BUSY_STATES[busy];
  if (busyState !== null) return busyState;
  if (diverged) return "diverged";
  // Until a start succeeds: never "stopped" or "crashed" alone, and never what it was before.
  if (startFailed && pg.process !== "running") return "start failed";
  switch (pg.process) {
    case "running":
      if (pg.role === "replica") return pg.streaming ? "streaming" : "running";
      return pg.role === "primary" ? "running" : "unknown";
    case "starting":
      return "starting";
    case "stopping":
      return "stopping";
    case "stopped":
      return "stopped";
    case "crashed":
      return "crashed";
  }
}

/** The role this member reports; `standbyLeader`: it holds the lease of a standby cluster. */
export function memberRole(pg: LocalPostgres, standbyLeader: boolean): "uninitialized" | "primary" | "standby_leader" | "replica" {
  if (pg.dataDir !== "initialized") return "uninitialized";
  if (pg.process === "running" && pg.role === "primary") return "primary";
  return standbyLeader ? "standby_leader" : "replica";
}

/**
 * `startFailed`: the last starts of PostgreSQL failed and none has succeeded since
 * (start_backoff.ts); the state is "start failed" until one does. `pendingRestart`: the
 * parameters waiting for a restart (PostgresPort.pendingRestart), fitted into the report's
 * bounds; reported only while PostgreSQL runs (a stopped server applies them when it starts).
 */
export function memberStatus(identity: Identity, pg: LocalPostgres, busy: PostgresActionKind | null, standbyLeader = false, startFailed = false, diverged = false, pendingRestart: PendingRestartReport = {}): MemberStatus {
  const running = pg.process === "running";
  const status: MemberStatus = {
    name: identity.name,
    apiUrl: identity.apiUrl,
    connUrl: identity.connUrl,
    role: memberRole(pg, standbyLeader),
    state: state(pg, busy, startFailed, diverged),
    timeline: pg.timeline ?? 0,
    // A primary shut down cleanly reports where its WAL ends (its shutdown checkpoint): the
    // candidate of a switchover promotes only once it has received that far.
    walWritten: running && pg.role === "primary" ? pg.walWritten : pg.process === "stopped" && pg.controlState === "shut down" ? pg.checkpointLsn : null,
    walReceived: pg.walReceived,
    walReplayed: pg.walReplayed,
    tags: identity.tags,
    agentVersion: identity.agentVersion,
  };
  const pending = running ? fitPendingRestart(pendingRestart) : [];
  return pending.length === 0 ? status : { ...status, pendingRestart: pending };
}
