/**
 * demote-cluster (patronictl 4.1, patroni-behaviour.md §2, §3.8, §5 "Demote modes"): a cluster
 * that runs a primary becomes a standby cluster of another one. Its lease holder stops the
 * primary, keeps the lease, is rewound against the remote primary when its WAL went past the
 * remote's history, and runs on as the standby leader (src/ha/rules/holder.ts); the other members
 * follow it (src/ha/rejoin_check.ts). What the cluster wrote that the remote never had is gone.
 *
 * Because of that last sentence the transition is an explicit operation, not a side effect of a
 * config edit: the change that adds `standby_cluster` to a cluster that has run a primary must
 * carry `"demote_cluster": "<the lease holder>"`, which names the primary the operator means to
 * demote (a failover in between makes the change fail instead of demoting another member). The
 * directive is taken off before the config is stored. `raftgres demote-cluster` sends it; a plain
 * PATCH /config or edit-config is refused with a sentence that points there. Removing
 * `standby_cluster` (promote-cluster) needs nothing of the kind: it loses nothing. Pure.
 */
import type { JsonObject } from "./json.js";
import { isValidName, type ScopeState } from "./model.js";
import { type Rejection, rejection } from "./rejection.js";
import { standbyClusterOf } from "./standby_cluster.js";

export const DEMOTE_CLUSTER_KEY = "demote_cluster";

/** A config change without its demote directive, and the directive's value (undefined: none). */
export interface SplitChange {
  readonly change: JsonObject;
  readonly demote: unknown;
}

export function splitDemoteDirective(value: JsonObject): SplitChange {
  if (!Object.hasOwn(value, DEMOTE_CLUSTER_KEY)) return { change: value, demote: undefined };
  const { [DEMOTE_CLUSTER_KEY]: demote, ...change } = value;
  return { change, demote };
}

/** Why `value` is not a demote directive (the name of a member), or null. */
export function demoteDirectiveProblem(value: unknown): string | null {
  if (typeof value === "string" && isValidName(value)) return null;
  return `${DEMOTE_CLUSTER_KEY} must be the name of the lease holder, the primary to demote, got ${JSON.stringify(value)?.slice(0, 80) ?? "undefined"}`;
}

/** The scope has run a primary: one is on record, or a member reports itself one now. */
function hasRunPrimary(scope: ScopeState): boolean {
  return scope.primaryHistory.length > 0 || [...scope.members.values()].some((m) => m.role === "primary");
}

/**
 * Why the change from `current` to `next` may not be made, as far as demote-cluster goes, or
 * null. `demote` is the change's directive (undefined: none); `nowMs` the entry time.
 */
export function demotionProblem(scope: ScopeState, nowMs: number, current: JsonObject, next: JsonObject, demote: unknown): Rejection | null {
  const becomesStandby = standbyClusterOf(next) !== null && standbyClusterOf(current) === null;
  if (demote === undefined) {
    if (!becomesStandby || !hasRunPrimary(scope)) return null;
    const holder = scope.lease !== null && scope.lease.expiresAtMs > nowMs ? ` (${scope.lease.holder} holds the lease)` : "";
    return rejection("invalid", `${scope.scope} has run a primary${holder}: adding standby_cluster demotes it and drops what it wrote that the source does not have; use raftgres demote-cluster, which sends the change with "${DEMOTE_CLUSTER_KEY}": "<the lease holder>"`);
  }
  const shape = demoteDirectiveProblem(demote);
  if (shape !== null) return rejection("invalid", shape);
  if (standbyClusterOf(current) !== null) return rejection("invalid", `${scope.scope} is a standby cluster already: change its standby_cluster section without ${DEMOTE_CLUSTER_KEY}`);
  if (!becomesStandby) return rejection("invalid", `${DEMOTE_CLUSTER_KEY} goes with a standby_cluster section naming the source (host, port or restore_command) in the same change`);
  if (scope.paused) return rejection("invalid", `${scope.scope} is paused: in pause the lease holder takes no action, so its primary would go on taking writes in a standby cluster; resume first`);
  const pending = scope.pending;
  if (pending !== null) return rejection("switchoverPending", `a ${pending.kind}${pending.to === null ? "" : ` to ${pending.to}`} is pending: let it finish or cancel it (raftgres flush switchover) before demote-cluster`);
  const lease = scope.lease;
  if (lease === null || lease.expiresAtMs <= nowMs) return rejection("noPrimary", `no member holds the lease of ${scope.scope}: demote-cluster stops the running primary, and there is none; start the cluster first`);
  if (lease.holder !== demote) return rejection("notLeaseHolder", `${DEMOTE_CLUSTER_KEY} names ${demote}, but ${lease.holder} holds the lease of ${scope.scope}: read the cluster again and name its primary`);
  return null;
}
