/**
 * The dynamic config's `standby_cluster` section (Patroni's, patroni-behaviour.md §3.3, §3.8):
 * the whole cluster replicates from another cluster's primary. Its lease holder is the standby
 * leader — it clones and streams from the remote primary (or replays `restore_command`) and never
 * promotes; the other members cascade from it. Removing the section promotes it. Pure.
 *
 *   standby_cluster:
 *     host: 10.0.0.5            # or "db1,db2" (libpq multi-host; target_session_attrs=read-write)
 *     port: 5432
 *     primary_slot_name: dr     # a slot on the remote primary (a permanent slot there), optional
 *     restore_command: "cp /archive/%f %p"       # optional
 *     recovery_min_apply_delay: "5min"           # optional (ms as a number, or with a unit)
 *
 * Active when host, port or restore_command is set, as in Patroni. `create_replica_methods` and
 * `archive_cleanup_command` are accepted and ignored (raftgres clones with pg_basebackup).
 */
import type { JsonObject } from "./json.js";
import { isJsonObject } from "./json.js";
import type { ConfigVersion } from "./model.js";

export interface StandbyCluster {
  /** libpq's host: one host or a comma-separated list; null with restore_command only. */
  readonly host: string | null;
  readonly port: number;
  readonly primarySlotName: string | null;
  readonly restoreCommand: string | null;
  /** As PostgreSQL takes it: "5min", or a number of milliseconds. */
  readonly recoveryMinApplyDelay: string | null;
}

export const STANDBY_CLUSTER_KEY = "standby_cluster";
const DEFAULT_PORT = 5432;
const KNOWN_KEYS = ["host", "port", "primary_slot_name", "restore_command", "recovery_min_apply_delay", "create_replica_methods", "archive_cleanup_command"];
/** Host names, IPv4/IPv6 addresses, comma-separated: nothing that could break a conninfo or a comment line. */
const HOST_PATTERN = /^[A-Za-z0-9.:_\-[\]]+(,[A-Za-z0-9.:_\-[\]]+)*$/;
/** PostgreSQL's rule for slot names. */
const SLOT_PATTERN = /^[a-z0-9_]{1,63}$/;
const DELAY_PATTERN = /^\d+\s*(us|ms|s|min|h|d)?$/;

/** Why the `standby_cluster` value of `config` is not valid, or null (checked when the config is set). */
export function standbyClusterProblem(config: Readonly<Record<string, unknown>>): string | null {
  const value = config[STANDBY_CLUSTER_KEY];
  if (value === undefined || value === null) return null;
  if (!isJsonObject(value)) return `standby_cluster must be an object (host, port, primary_slot_name, restore_command …) or null, got ${JSON.stringify(value)}`;
  const unknown = Object.keys(value).filter((k) => !KNOWN_KEYS.includes(k));
  if (unknown.length > 0) return `standby_cluster: unknown key ${JSON.stringify(unknown[0])} (allowed: ${KNOWN_KEYS.join(", ")})`;
  const { host, port, primary_slot_name: slot, restore_command: restore, recovery_min_apply_delay: delay } = value;
  if (host !== undefined && host !== null && (typeof host !== "string" || !HOST_PATTERN.test(host))) return `standby_cluster.host must be a host name or address, or a comma-separated list of them, got ${JSON.stringify(host)}`;
  if (port !== undefined && port !== null && (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)) return `standby_cluster.port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`;
  if (slot !== undefined && slot !== null && (typeof slot !== "string" || !SLOT_PATTERN.test(slot))) return `standby_cluster.primary_slot_name must be a slot name (a-z, 0-9, _; at most 63), got ${JSON.stringify(slot)}`;
  if (restore !== undefined && restore !== null && (typeof restore !== "string" || restore.includes("\n"))) return `standby_cluster.restore_command must be a one-line command, got ${JSON.stringify(restore)}`;
  const delayOk = delay === undefined || delay === null || (typeof delay === "number" && Number.isInteger(delay) && delay >= 0) || (typeof delay === "string" && DELAY_PATTERN.test(delay));
  if (!delayOk) return `standby_cluster.recovery_min_apply_delay must be milliseconds or a duration such as "5min", got ${JSON.stringify(delay)}`;
  return null;
}

/** The standby cluster `config` describes, or null for a normal cluster (also for an invalid section). */
export function standbyClusterOf(config: JsonObject): StandbyCluster | null {
  const value = config[STANDBY_CLUSTER_KEY];
  if (!isJsonObject(value) || standbyClusterProblem(config) !== null) return null;
  const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
  const host = text(value["host"]);
  const restoreCommand = text(value["restore_command"]);
  const port = typeof value["port"] === "number" ? value["port"] : null;
  if (host === null && port === null && restoreCommand === null) return null;
  const delay = value["recovery_min_apply_delay"];
  return {
    host: host ?? (port === null ? null : "127.0.0.1"),
    port: port ?? DEFAULT_PORT,
    primarySlotName: text(value["primary_slot_name"]),
    restoreCommand,
    recoveryMinApplyDelay: typeof delay === "number" ? String(delay) : text(delay),
  };
}

/** The remote primary as a libpq keyword connection string; "" with restore_command only. */
export function remoteConnUrl(standby: StandbyCluster): string {
  if (standby.host === null) return "";
  const multiHost = standby.host.includes(",");
  return `host='${standby.host}' port='${standby.port}' dbname='postgres'${multiHost ? " target_session_attrs='read-write'" : ""}`;
}

/**
 * The config's standby_cluster section was removed (promote-cluster) after `sinceMs` (entry
 * times): the next primary's timeline continues the remote's history, not the one this cluster
 * recorded. After, not at: a promotion takes longer than a millisecond, and the first record
 * after it (at `sinceMs`) must end the window.
 */
export function promotedFromStandbySince(configHistory: readonly ConfigVersion[], sinceMs: number): boolean {
  return configHistory.some((c) => c.patch[STANDBY_CLUSTER_KEY] === null && c.atMs > sinceMs);
}
