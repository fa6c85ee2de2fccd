/**
 * POST /restart's body: filters that say whether this node restarts at all (Patroni's
 * restart_matches: role, an older server version, a pending restart), a timeout and a schedule.
 */
import { either as E } from "fp-ts";
import type { JsonObject } from "../dcs/json.js";
import { parseBool } from "./body.js";
import { apiError, type ApiError } from "./errors.js";
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
  if (parts.some((p) => !/^\d+$/.test(p))) return null;
  const [major, ...rest] = parts.map(Number);
  if (major === undefined) return null;
  if (major >= 10 && rest.length <= 1) return major * 10_000 + (rest[0] ?? 0);
  if (major < 10 && rest.length >= 1 && rest.length <= 2) return major * 10_000 + rest[0]! * 100 + (rest[1] ?? 0);
  return null;
}

export function parseRestartRequest(body: JsonObject, nowMs: number): E.Either<ApiError, RestartFilters> {
  let filters: RestartFilters = { role: null, postgresVersion: null, postgresVersionText: null, restartPending: false, timeoutMs: null, scheduleMs: null };
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case "schedule": {
        const at = parseSchedule(value, "restart", nowMs);
        if (E.isLeft(at)) return at;
        filters = { ...filters, scheduleMs: at.right };
        break;
      }
      case "role": {
        const role = RESTART_ROLES.find((r) => r === value);
        if (role === undefined) return E.left(apiError("badRequest", `PostgreSQL role should be either primary, standby_leader, or replica, not ${JSON.stringify(value)}`));
        filters = { ...filters, role };
        break;
      }
      case "postgres_version": {
        const text = typeof value === "number" ? String(value) : typeof value === "string" ? value : "";
        const version = postgresVersionNumber(text);
        if (version === null) return E.left(apiError("badRequest", `postgres_version ${JSON.stringify(value)} is not a PostgreSQL version: X.Y or X.Y.Z is accepted`));
        filters = { ...filters, postgresVersion: version, postgresVersionText: text };
        break;
      }
      case "timeout": {
        const timeoutMs = parseDurationMs(value);
        if (timeoutMs === null || timeoutMs <= 0) return E.left(apiError("badRequest", `Timeout should be a positive number of seconds, not ${JSON.stringify(value)}`));
        filters = { ...filters, timeoutMs };
        break;
      }
      case "restart_pending": {
        const pending = parseBool(value);
        if (pending === null) return E.left(apiError("badRequest", `restart_pending should be true or false, not ${JSON.stringify(value)}`));
        filters = { ...filters, restartPending: pending };
        break;
      }
      default:
        return E.left(apiError("badRequest", `Unknown filter for the scheduled restart: ${key} (known: schedule, role, postgres_version, timeout, restart_pending)`));
    }
  }
  return E.right(filters);
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
