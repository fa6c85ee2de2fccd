/**
 * `?lag=` of the health checks: a number of bytes, or a size with PostgreSQL's memory units
 * (16kB, 64MB, 1GB; factors of 1024), as Patroni's parse_int(value, 'B') reads it. Patroni
 * silently ignores a value it cannot read, which turns a typo ("?lag=1 MiB") into "any lag is
 * fine"; here it is refused, so a load balancer sees the check fail instead of passing.
 */

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
};

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/;

/** Bytes, or a sentence saying why `text` is not a size. */
export function parseLagBytes(text: string): { ok: true; bytes: number } | { ok: false; reason: string } {
  const match = SIZE.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  const factor = unit === "" ? 1 : Object.hasOwn(UNIT_BYTES, unit) ? UNIT_BYTES[unit] : undefined;
  if (match === null || factor === undefined) {
    return { ok: false, reason: `lag=${JSON.stringify(text)} is not a size: give bytes or a number with B, kB, MB, GB or TB (e.g. 16MB)` };
  }
  const bytes = Math.floor(Number(match[1]) * factor);
  if (!Number.isSafeInteger(bytes)) return { ok: false, reason: `lag=${JSON.stringify(text)} is too large` };
  return { ok: true, bytes };
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86_400 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/;

/** A duration in milliseconds from a number of seconds or a number with a unit (30s, 5min). */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? Math.round(value * 1000) : null;
  if (typeof value !== "string") return null;
  const match = DURATION.exec(value);
  if (match === null) return null;
  return Math.round(Number(match[1]) * (SECONDS_PER_UNIT[match[2] ?? "s"] ?? 1) * 1000);
}
