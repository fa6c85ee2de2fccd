/**
 * Before there is a cluster to follow: the initialization race (exactly one member runs initdb),
 * the winner's bootstrap, the others' clone, and data that belongs to another cluster.
 * patroni-behaviour.md §5 H.
 */
import type { StandbyCluster } from "../../dcs/standby_cluster.js";
import type { HaDecision, HaInput } from "../input.js";
import { dcs, decision, upstreamOf, validLease } from "../facts.js";
import { remoteUpstream, standbyClusterFor } from "../standby.js";
import { startOrWait } from "../start_backoff.js";

/** A decision when the node is not yet part of an initialized cluster, or null to go on. */
export function bootstrapRule(input: HaInput): HaDecision | null {
  const { view, pg, me } = input;
  const init = view?.initialization ?? null;
  // Before the race too: a member that cannot reach its data directory must not win it and then
  // wait forever for a primary it cannot start.
  if (pg.dataDir === "inaccessible" && input.busy === null) return decision([], "the data directory is not accessible", pg.problem ?? "");
  if (init === null) {
    if (input.settings.nofailover) return decision([], "waiting for a member that may become primary to bootstrap the cluster", "this member is tagged nofailover");
    if (pg.dataDir === "initialized" && pg.systemId !== null) {
      return decision([dcs({ kind: "initializeCluster", member: me, systemId: pg.systemId })], "claiming the cluster for the existing data directory", `system id ${pg.systemId}`);
    }
    return decision([dcs({ kind: "initializeCluster", member: me, systemId: "" })], "racing to initialize the cluster");
  }
  if (init.by === me && init.systemId === "") return ownBootstrap(input);
  if (init.systemId === "") return decision([], `waiting for ${init.by} to bootstrap the cluster`);
  // While a clone (or reinit) fills the data directory, it looks neither empty nor initialized.
  if (input.busy !== null && pg.dataDir !== "initialized") return decision([], `${input.busy} in progress`);
  if (pg.dataDir === "inaccessible") return decision([], "the data directory is not accessible", pg.problem ?? "");
  if (pg.dataDir === "empty") {
    const lease = validLease(view);
    // A running replica tagged clonefrom takes the base backup's load off the primary (Patroni).
    const clonefrom = lease === null ? undefined : view?.members.find((m) => m.name !== me && m.name !== lease.holder && m.tags.clonefrom && !m.gone && m.state === "streaming" && m.connUrl !== "");
    const source = lease === null ? null : upstreamOf(view, clonefrom?.name ?? lease.holder);
    if (source === null) return decision([], "waiting for a primary to clone from");
    return decision([{ kind: "clone", source }], `creating a replica of ${source.member} with pg_basebackup`, clonefrom === undefined ? "" : `${clonefrom.name} is tagged clonefrom`);
  }
  if (pg.systemId !== null && pg.systemId !== init.systemId) {
    return decision([], "the data directory belongs to another cluster: reinitialize this member", `local system id ${pg.systemId}, cluster ${init.systemId} (initialized by ${init.by})`);
  }
  return null;
}

function ownBootstrap(input: HaInput): HaDecision {
  const { pg, me } = input;
  if (input.busy !== null) return decision([], `${input.busy} in progress`);
  const standby = standbyClusterFor(input.view, me, input.settings.bootstrapStandbyCluster);
  if (standby !== null) return standbyBootstrap(input, standby);
  if (pg.dataDir === "empty") return decision([{ kind: "bootstrap" }], "initializing a new cluster (this member won the initialization race)");
  if (pg.process === "running" && pg.role === "primary" && pg.systemId !== null) {
    return decision([dcs({ kind: "initializeCluster", member: me, systemId: pg.systemId })], "recording the system id of the new cluster", `system id ${pg.systemId}`);
  }
  if (pg.process !== "running" && pg.dataDir === "initialized") return startOrWait(input, { kind: "start", as: "primary", upstream: null }, "starting the new cluster's primary");
  return decision([], "waiting for the new cluster's primary", `process ${pg.process}, role ${pg.role ?? "none"}`);
}

/**
 * A standby cluster's bootstrap: instead of initdb, a clone of the remote primary started as its
 * standby; the system id recorded is the remote's. This member then takes the lease in the race
 * and is the standby leader (holder.ts). patroni-behaviour.md §5 H.1.
 */
function standbyBootstrap(input: HaInput, standby: StandbyCluster): HaDecision {
  const { pg, me } = input;
  const remote = remoteUpstream(standby);
  if (pg.dataDir === "empty") {
    if (standby.host === null) return decision([], "waiting: standby_cluster names no host to clone the remote primary from", "raftgres creates the standby leader with pg_basebackup; set standby_cluster.host");
    return decision([{ kind: "clone", source: remote }], `creating the standby leader: a clone of the remote primary (${remote.member}) with pg_basebackup`);
  }
  if (pg.process === "running" && pg.systemId !== null) {
    return decision([dcs({ kind: "initializeCluster", member: me, systemId: pg.systemId })], "recording the system id of the remote cluster", `system id ${pg.systemId}`);
  }
  if (pg.process !== "running" && pg.dataDir === "initialized") return startOrWait(input, { kind: "start", as: "replica", upstream: remote }, `starting the standby leader as a standby of ${remote.member}`);
  return decision([], "waiting for the standby leader to start", `process ${pg.process}, role ${pg.role ?? "none"}`);
}
