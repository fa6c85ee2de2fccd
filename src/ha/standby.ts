/**
 * The standby cluster as the HA rules see it (src/dcs/standby_cluster.ts has the config): which
 * standby_cluster section is in force for this member, and the remote primary as an upstream.
 * Pure. patroni-behaviour.md §3.8, §5 B2, C, H.
 */
import type { MemberName } from "../dcs/model.js";
import { promotedFromStandbySince, remoteConnUrl, type StandbyCluster, standbyClusterOf } from "../dcs/standby_cluster.js";
import type { ScopeView } from "../dcs/views.js";
import type { Upstream } from "./actions.js";

/**
 * The standby_cluster section in force: the cluster's config once it was written; before that,
 * for the member that initializes the cluster (or races to), its own bootstrap.dcs section — the
 * config is written from it only once the lease is taken, and the winner must know before that
 * whether to run initdb or to clone the remote primary (Patroni reads its local bootstrap.dcs too).
 */
export function standbyClusterFor(view: ScopeView | null, me: MemberName, bootstrap: StandbyCluster | null): StandbyCluster | null {
  if (view !== null && view.config.version > 0) return standbyClusterOf(view.config.value);
  const init = view?.initialization ?? null;
  return init === null || init.by === me ? bootstrap : null;
}

/** The remote primary as an upstream: its label names host, port and slot, so a change re-points. */
export function remoteUpstream(standby: StandbyCluster): Upstream {
  const where = standby.host === null ? "archive" : `${standby.host}:${standby.port}`;
  const label = `remote ${where}${standby.primarySlotName === null ? "" : ` slot ${standby.primarySlotName}`}`;
  return {
    member: label as MemberName,
    connUrl: remoteConnUrl(standby),
    remote: { slotName: standby.primarySlotName, restoreCommand: standby.restoreCommand, recoveryMinApplyDelay: standby.recoveryMinApplyDelay },
  };
}

/**
 * The standby cluster was promoted (its standby_cluster section removed) after the last change of
 * primary on record: the first timeline of the promoted cluster is recorded as "manual", an
 * operator's promotion that is neither a switchover (no primary stepped down) nor a failover.
 */
export function promotedFromStandby(view: ScopeView): boolean {
  const last = view.primaryHistory[view.primaryHistory.length - 1];
  return promotedFromStandbySince(view.configHistory, last?.atMs ?? Number.NEGATIVE_INFINITY);
}
