/**
 * synchronous_standby_names as raftgres writes it, and back. Pure.
 * - priority (synchronous_mode: on): `FIRST n ("a", "b")`, exactly the n chosen standbys, or
 *   more when strict mode keeps unreachable ones listed;
 * - quorum: `ANY n ("a", "b", "c")`;
 * - asynchronous: ''.
 * Strict mode lists placeholders (names no standby has) so commits wait rather than go
 * unconfirmed when too few standbys exist.
 */
import { assert } from "../lib/assert.js";

export type SyncKind = "priority" | "quorum";

export interface SyncNames {
  readonly kind: SyncKind;
  /** How many of `names` confirm each commit; 0 is asynchronous. */
  readonly count: number;
  /** Member names and placeholders, in priority order (priority) or sorted (quorum). */
  readonly names: readonly string[];
}

export const ASYNC: SyncNames = { kind: "priority", count: 0, names: [] };

const PLACEHOLDER_PREFIX = "__raftgres_strict_";

export function placeholder(i: number): string {
  return `${PLACEHOLDER_PREFIX}${i}__`;
}

export function isPlaceholder(name: string): boolean {
  return name.startsWith(PLACEHOLDER_PREFIX);
}

/** The member names among `names` (without placeholders). */
export function realNames(sync: SyncNames): string[] {
  return sync.names.filter((n) => !isPlaceholder(n));
}

/**
 * How many members hold each commit acknowledged under `sync`: its count, or Infinity when
 * fewer members than that are listed (placeholders never confirm, so nothing is acknowledged).
 */
export function coverage(sync: SyncNames): number {
  return sync.count <= realNames(sync).length ? sync.count : Number.POSITIVE_INFINITY;
}

export function formatSyncNames(sync: SyncNames): string {
  if (sync.count === 0) return "";
  assert(sync.names.length >= sync.count, () => `${sync.count} synchronous standbys need as many names, got ${sync.names.join(", ")}`);
  assert(new Set(sync.names).size === sync.names.length, "no name twice");
  const list = sync.names.map((n) => `"${n.replace(/"/g, '""')}"`).join(", ");
  return `${sync.kind === "quorum" ? "ANY" : "FIRST"} ${sync.count} (${list})`;
}

const FORMAT = /^(FIRST|ANY) (\d+) \((.*)\)$/;
const QUOTED = /"((?:[^"]|"")*)"/g;

/** The value read back from PostgreSQL: ours, '' (asynchronous), or null for anything else. */
export function parseSyncNames(value: string | null): SyncNames | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (trimmed === "") return ASYNC;
  const match = FORMAT.exec(trimmed);
  if (match === null) return null;
  const names = [...match[3]!.matchAll(QUOTED)].map((m) => m[1]!.replace(/""/g, '"'));
  const count = Number.parseInt(match[2]!, 10);
  if (names.length < count || count === 0) return null;
  return { kind: match[1] === "ANY" ? "quorum" : "priority", count, names };
}

export function sameSyncNames(a: SyncNames, b: SyncNames): boolean {
  return formatSyncNames(a) === formatSyncNames(b);
}
