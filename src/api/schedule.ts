/**
 * `scheduled_at` of a switchover and `schedule` of a restart: an ISO 8601 time with a time zone
 * (Patroni's parse_schedule: no zone → 400, unparsable or past → 422).
 */
import * as E from "fp-ts/lib/Either.js";
import { apiError, type ApiError } from "./errors.js";

const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch milliseconds of `value`, which must name a future time with its zone. */
export function parseSchedule(value: unknown, action: "switchover" | "restart", nowMs: number): E.Either<ApiError, number> {
  const text = typeof value === "string" ? value.trim() : "";
  const match = ISO_TIME.exec(text);
  if (match === null) {
    return E.left(apiError("badSchedule", `Unable to parse scheduled timestamp ${JSON.stringify(value)}. It should be in an unambiguous format, e.g. ISO 8601 (2026-05-01T10:00:00+00:00)`));
  }
  const zone = match[3];
  if (zone === undefined) return E.left(apiError("badRequest", `Timezone information is mandatory for the scheduled ${action}: ${text} has none (add Z or +HH:MM)`));
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.length === 3 ? `${zone}:00` : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const seconds = match[2]!.length === 5 ? `${match[2]}:00` : match[2]!;
  const atMs = Date.parse(`${match[1]}T${seconds.replace(/(\.\d{3})\d+$/, "$1")}${offset}`);
  if (!Number.isFinite(atMs)) return E.left(apiError("badSchedule", `Unable to parse scheduled timestamp ${JSON.stringify(text)}: it is not a valid date`));
  if (atMs <= nowMs) return E.left(apiError("badSchedule", `Cannot schedule ${action} in the past: ${text} is before now (${new Date(nowMs).toISOString()})`));
  return E.right(atMs);
}
