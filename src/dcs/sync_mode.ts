/**
 * Synchronous replication: the settings of the dynamic config and the promotion guarantee the
 * synchronous state carries. Pure.
 *
 * The SyncState (leader L, standbys S, quorum k) the primary records is a claim about every
 * commit PostgreSQL has acknowledged on L's timeline: it is on L and on at least k members of S.
 * With k = 0 nothing is claimed (asynchronous). The primary keeps the claim true by the order in
 * which it changes synchronous_standby_names and the state (src/ha/sync_planner.ts).
 *
 * From the claim follows who may be promoted without losing an acknowledged commit: any k of S
 * hold it, so any |S| − k + 1 members of S include one that holds it, and a candidate whose WAL
 * reaches at least as far as each of |S| − k + 1 members of S (itself counted when it is one)
 * holds every acknowledged commit. Positions must be fresh (reported after the primary stopped).
 */
import type { Config, MemberName, SyncState } from "./model.js";
import { standbyClusterOf } from "./standby_cluster.js";

export type SyncModeName = "off" | "on" | "quorum";

export interface SyncMode {
  readonly mode: SyncModeName;
  /** Never fall back to asynchronous: commits wait rather than lose the guarantee. */
  readonly strict: boolean;
  /** How many standbys confirm each commit (priority: the synchronous standbys; quorum: ANY n). */
  readonly nodeCount: number;
  /** Strict mode: commits wait unless at least this many standbys confirm them (≥ 1). */
  readonly minimum: number;
}

export const SYNC_MODE_OFF: SyncMode = { mode: "off", strict: false, nodeCount: 1, minimum: 0 };

/** The raw value of synchronous_mode as Patroni accepts it: a bool, "on"/"off", "quorum". */
function modeName(value: unknown): SyncModeName | null {
  if (value === undefined || value === null || value === false || value === "off" || value === "false") return "off";
  if (value === true || value === "on" || value === "true") return "on";
  if (value === "quorum") return "quorum";
  return null;
}

function positiveInteger(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : null;
}

/** Why the synchronous settings of `config` are not valid, or null (checked when the config is set). */
export function syncModeProblem(config: Readonly<Record<string, unknown>>): string | null {
  if (modeName(config["synchronous_mode"]) === null) return `synchronous_mode must be off, on or quorum, got ${JSON.stringify(config["synchronous_mode"])}`;
  const strict = config["synchronous_mode_strict"];
  if (strict !== undefined && typeof strict !== "boolean") return `synchronous_mode_strict must be true or false, got ${JSON.stringify(strict)}`;
  for (const key of ["synchronous_node_count", "minimum_synchronous_nodes"]) {
    const value = config[key];
    if (value !== undefined && positiveInteger(value) === null) return `${key} must be an integer of at least 1, got ${JSON.stringify(value)}`;
  }
  return null;
}

/** The synchronous mode in force: off in a standby cluster, whatever it says (Patroni does the same). */
export function syncModeOf(config: Config): SyncMode {
  const value = config.value;
  if (standbyClusterOf(value) !== null) return SYNC_MODE_OFF;
  const mode = modeName(value["synchronous_mode"]) ?? "off";
  if (mode === "off") return SYNC_MODE_OFF;
  const strict = value["synchronous_mode_strict"] === true;
  const nodeCount = positiveInteger(value["synchronous_node_count"]) ?? 1;
  const minimum = strict ? Math.min(nodeCount, positiveInteger(value["minimum_synchronous_nodes"]) ?? 1) : 0;
  return { mode, strict, nodeCount, minimum };
}

/** A member's reported WAL position as the guarantee check needs it. */
export interface ReportedPosition {
  readonly name: MemberName;
  /** How far its WAL goes (received, else replayed), or null when unknown. */
  readonly position: bigint | null;
  /** The report is recent enough to be its final position (made after the primary stopped). */
  readonly fresh: boolean;
}

/**
 * Why `candidate` (whose WAL reaches `position`) might lack an acknowledged commit, or null when
 * it holds every one the synchronous state vouches for. A state with a leader recorded and
 * nothing claimed (k = 0: it ran asynchronously, in non-strict mode, with no standby streaming)
 * holds back everyone but that leader: its last commits may be on no other member. Patroni's
 * guarantee in both modes: no automatic failover to a member that may lack an acknowledged
 * commit; strict mode only adds that the primary never runs asynchronously.
 */
export function syncPromotionProblem(sync: SyncState, strict: boolean, candidate: MemberName, position: bigint, others: readonly ReportedPosition[]): string | null {
  if (sync.leader === null || sync.leader === candidate) return null;
  const k = sync.quorum;
  if (k === 0) {
    return strict
      ? `synchronous_mode_strict: no standby of ${sync.leader} is known to hold its last commits`
      : `${sync.leader} last ran without a synchronous standby, so its last acknowledged commits may be on no other member`;
  }
  const needed = sync.standbys.length - k + 1;
  if (needed <= 0) return null; // more confirmations than standbys: no commit was ever acknowledged
  const behind: MemberName[] = [];
  let covered = 0;
  for (const name of sync.standbys) {
    if (name === candidate) {
      covered += 1;
      continue;
    }
    const other = others.find((o) => o.name === name);
    if (other !== undefined && other.fresh && other.position !== null && other.position <= position) covered += 1;
    else behind.push(name);
  }
  if (covered >= needed) return null;
  const listed = sync.standbys.includes(candidate) ? "" : `${candidate} is not a synchronous standby; `;
  return `${listed}${needed} of the synchronous standbys ${sync.standbys.join(", ")} must be known to be no further than ${candidate} (${k} confirm each commit), only ${covered} are (not: ${behind.join(", ")})`;
}

/** The state claims a guarantee (some standby confirms every commit). */
export function syncActive(sync: SyncState): boolean {
  return sync.leader !== null && sync.quorum > 0;
}
