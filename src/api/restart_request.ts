/**
 * POST /restart's body: filters that say whether this node restarts at all (Patroni's
 * restart_matches: role, an older server version, a pending restart), a timeout and a schedule.
 */
import * as E from "fp-ts/lib/Either.js";
import type { JsonObject } from "../dcs/json.js";
import { PRIMARY_START_TIMEOUT_S_MAX } from "../dcs/ha_timing.js";
import { type BodySchema, parseBool, rule, shown } from "./body.js";
import type { ApiError } from "./errors.js";
import { parseDurationMs } from "./lag.js";
import type { LocalStatus } from "./node_api.js";
import { parseSchedule } from "./schedule.js";

const RESTART_ROLES = ["primary", "standby_leader", "replica"] as const;

export interface RestartFilters {
  readonly role: (typeof RESTART_ROLES)[number] | null;
  /** Restart only if the running server_version_num is below this. */
  readonly postgresVersion: number | null;
  /** The text the operator gave, to show it back. */
  readonly postgresVersionText: string | null;
  readonly restartPending: boolean;
  readonly timeoutMs: number | null;
  /** Epoch ms, or null for now. */
  readonly scheduleMs: number | null;
}

/** "15.2" → 150002, "9.6.3" → 90603, as server_version_num counts (Patroni's postgres_version_to_int). */
export function postgresVersionNumber(text: string): number | null {
  const parts = text.trim().split(".");
  if (parts.some((p) => !/^\d{1,6}$/.test(p))) return null;
  const [major, ...rest] = parts.map(Number);
  if (major === undefined) return null;
  if (major >= 10 && rest.length <= 1) return major * 10_000 + (rest[0] ?? 0);
  if (major < 10 && rest.length >= 1 && rest.length <= 2) return major * 10_000 + rest[0]! * 100 + (rest[1] ?? 0);
  return null;
}

/** A restart may wait at most as long as a crashed primary may take to start (ha_timing.ts). */
export const RESTART_TIMEOUT_S_MAX = PRIMARY_START_TIMEOUT_S_MAX;

function timeoutMs(value: unknown): number | null {
  const ms = parseDurationMs(value);
  return ms === null || ms <= 0 || ms > RESTART_TIMEOUT_S_MAX * 1000 ? null : ms;
}

/** POST /restart's body (Patroni's keys); `schedule` is read by parseRestartRequest (400 or 422). */
export const RESTART_SCHEMA: BodySchema = {
  route: "POST /restart",
  optional: true,
  fields: {
    schedule: rule.any,
    role: (value) => (RESTART_ROLES.some((r) => r === value) ? null : `PostgreSQL role should be either primary, standby_leader, or replica, not ${shown(value)}`),
    postgres_version: (value) => (postgresVersionNumber(versionText(value)) !== null ? null : `postgres_version ${shown(value)} is not a PostgreSQL version: X.Y or X.Y.Z is accepted`),
    timeout: (value) => (timeoutMs(value) !== null ? null : `Timeout should be a positive number of seconds up to ${RESTART_TIMEOUT_S_MAX} (or 30s, 5min …), not ${shown(value)}`),
    restart_pending: rule.patroniBool,
  },
};

function versionText(value: unknown): string {
  return typeof value === "number" ? String(value) : typeof value === "string" ? value.slice(0, 40) : "";
}

/** The filters of a body that passed RESTART_SCHEMA. */
export function parseRestartRequest(body: JsonObject, nowMs: number): E.Either<ApiError, RestartFilters> {
  let scheduleMs: number | null = null;
  if (body["schedule"] !== undefined) {
    const at = parseSchedule(body["schedule"], "restart", nowMs);
    if (E.isLeft(at)) return at;
    scheduleMs = at.right;
  }
  const role = RESTART_ROLES.find((r) => r === body["role"]) ?? null;
  const version = body["postgres_version"] === undefined ? null : versionText(body["postgres_version"]);
  return E.right({
    role,
    postgresVersion: version === null ? null : postgresVersionNumber(version),
    postgresVersionText: version,
    restartPending: parseBool(body["restart_pending"] ?? false) === true,
    timeoutMs: body["timeout"] === undefined ? null : timeoutMs(body["timeout"]),
    scheduleMs,
  });
}

/** Null when this node should restart; otherwise which filter it does not match. */
export function restartMismatch(filters: RestartFilters, local: LocalStatus): string | null {
  if (filters.role !== null && local.role !== filters.role) return `role is ${local.role ?? "unknown"}, not ${filters.role}`;
  if (filters.postgresVersion !== null && local.serverVersion !== null && local.serverVersion >= filters.postgresVersion) {
    return `server_version ${local.serverVersion} is not older than ${filters.postgresVersionText ?? filters.postgresVersion}`;
  }
  if (filters.restartPending && Object.keys(local.pendingRestart).length === 0) return "no restart is pending";
  return null;
}
