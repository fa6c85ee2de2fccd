/**
 * What decide() asks the executor to do. PostgreSQL actions are carried out by src/pg (through
 * the PostgresPort in ports.ts); cluster-state actions are DCS commands. At most one long action
 * (bootstrap, clone, rewind, reinit, start, stop, promote) runs at a time.
 */
import type { Command } from "../dcs/commands.js";
import type { MemberName } from "../dcs/model.js";
import type { PermanentSlotsPlan } from "../dcs/permanent_slots.js";

/** A PostgreSQL server to stream from, clone from or rewind from. */
export interface Upstream {
  /**
   * The member; for the remote primary of a standby cluster, a label such as
   * "remote 10.0.0.5:5432" (standby.ts) that no member can be named (it has a space). It names
   * the upstream in raftgres.conf, in what observe() reports and in the operators' sentences.
   */
  readonly member: MemberName;
  /** libpq connection string of that member as it published it (its connUrl). */
  readonly connUrl: string;
  /** Only for the remote primary of a standby cluster: how the standby leader recovers from it. */
  readonly remote?: RemoteRecovery;
}

/** The standby_cluster settings a standby leader's recovery takes (src/dcs/standby_cluster.ts). */
export interface RemoteRecovery {
  /** primary_slot_name on the remote primary; null: no slot (a member uses its own slot name). */
  readonly slotName: string | null;
  readonly restoreCommand: string | null;
  readonly recoveryMinApplyDelay: string | null;
}

export type StopMode = "fast" | "immediate";

export type PostgresAction =
  /** initdb, configuration, start as a primary, roles: the winner of the initialization race. */
  | { readonly kind: "bootstrap" }
  /** pg_basebackup from `source` into the empty data directory, then configure as its replica. */
  | { readonly kind: "clone"; readonly source: Upstream }
  /** Start the postmaster; a replica streams from `upstream` (null: no upstream yet). */
  | { readonly kind: "start"; readonly as: "primary" | "replica"; readonly upstream: Upstream | null }
  | { readonly kind: "stop"; readonly mode: StopMode }
  /** pg_promote() and wait until it leaves recovery. */
  | { readonly kind: "promote" }
  /** Point primary_conninfo and the slot at `upstream` and reload (PostgreSQL 15 needs no restart). */
  | { readonly kind: "followPrimary"; readonly upstream: Upstream }
  /** pg_rewind from `source` (stopped data directory), then configure as its replica. */
  | { readonly kind: "rewind"; readonly source: Upstream }
  /** Wipe the data directory and clone again from `source`. */
  | { readonly kind: "reinit"; readonly source: Upstream; readonly reason: string }
  /**
   * synchronous_standby_names as raftgres manages it (sync_planner.ts): written to its own file,
   * reloaded, and confirmed with SHOW; null gives the setting back to the user's parameters.
   */
  | { readonly kind: "setSyncStandbyNames"; readonly value: string | null }
  /**
   * Keep a physical slot for each of `members` and drop the other member slots; keep the
   * permanent slots of the config (src/dcs/permanent_slots.ts) and drop the retired ones.
   */
  | { readonly kind: "syncSlots"; readonly members: readonly MemberName[]; readonly permanent: PermanentSlotsPlan };

export type Action = PostgresAction | { readonly kind: "dcs"; readonly command: Command };

export type PostgresActionKind = PostgresAction["kind"];

/** The long actions: while one runs, decide() is asked again only about the lease. */
export const LONG_ACTIONS: ReadonlySet<PostgresActionKind> = new Set(["bootstrap", "clone", "start", "stop", "promote", "rewind", "reinit"]);
