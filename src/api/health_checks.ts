/**
 * The health checks of load balancers and orchestrators, as pure predicates over the node's facts
 * (Patroni's RestApiHandler.do_GET, do_GET_liveness, _readiness; patroni-behaviour.md §1.2).
 * 200 when the predicate holds, 503 otherwise; the routes only translate.
 */
import * as E from "fp-ts/lib/Either.js";
import { CONFIG_DEFAULTS, configNumber } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { apiError, type ApiError } from "./errors.js";
import { parseLagBytes } from "./lag.js";
import type { LocalStatus } from "./node_api.js";
import type { NodeFacts } from "./node_facts.js";
import { tagsAsPatroni } from "./patroni_json.js";

export type HealthCheck =
  | "primary"
  | "standbyLeader"
  | "leader"
  | "replica"
  | "readOnly"
  | "sync"
  | "async"
  | "quorum"
  | "readOnlySync"
  | "readOnlyQuorum"
  | "health";

export interface HealthQuery {
  /** `?lag=`: the most replay lag in bytes a replica may have; null for no limit. */
  readonly lagBytesMax: number | null;
  /** `?replication_state=`: the replica's replication state must be this. */
  readonly replicationState: string | null;
  /** `?tag_<key>=<value>`: every one must equal the node's tag, written as Patroni writes it. */
  readonly tags: ReadonlyMap<string, string>;
  /** `?mode=` of /readiness: lag of the received (write) or replayed (apply, default) WAL. */
  readonly mode: "apply" | "write";
}

function first(value: unknown): string | null {
  if (Array.isArray(value)) return first(value[0]);
  return typeof value === "string" ? value : null;
}

export function parseHealthQuery(query: Readonly<Record<string, unknown>>): E.Either<ApiError, HealthQuery> {
  let lagBytesMax: number | null = null;
  const lag = first(query["lag"]);
  if (lag !== null) {
    const parsed = parseLagBytes(lag);
    if (!parsed.ok) return E.left(apiError("badRequest", parsed.reason));
    lagBytesMax = parsed.bytes;
  }
  const mode = first(query["mode"]) ?? "apply";
  if (mode !== "apply" && mode !== "write") return E.left(apiError("badRequest", `mode=${JSON.stringify(mode)} is neither "apply" nor "write"`));
  const tags = new Map<string, string>();
  for (const [key, value] of Object.entries(query)) {
    const text = first(value);
    if (key.startsWith("tag_") && text !== null) tags.set(key.slice("tag_".length), text);
  }
  return E.right({ lagBytesMax, replicationState: first(query["replication_state"]), tags, mode });
}

/** A replica that can serve reads: running, not tagged noloadbalance, within the lag, in the asked state. */
function replicaHealthy(facts: NodeFacts, local: LocalStatus, query: HealthQuery): boolean {
  if (local.tags.noloadbalance || facts.role !== "replica" || !facts.running) return false;
  if (query.replicationState !== null && query.replicationState !== facts.replicationState) return false;
  if (query.lagBytesMax === null || facts.primaryLsn === null) return true;
  const replayed = local.walReplayed ?? 0n;
  return facts.primaryLsn <= replayed + BigInt(query.lagBytesMax);
}

function tagsMatch(local: LocalStatus, query: HealthQuery): boolean {
  const tags = tagsAsPatroni(local.tags);
  for (const [key, wanted] of query.tags) {
    const value = tags[key];
    if (value === undefined) return false;
    const text = typeof value === "string" ? value : String(value).toLowerCase();
    if (text !== wanted) return false;
  }
  return true;
}

function statusOf(check: HealthCheck, facts: NodeFacts, local: LocalStatus, hasView: boolean, query: HealthQuery): boolean {
  const leading = facts.isPrimary || facts.isStandbyLeader;
  const replica = replicaHealthy(facts, local, query);
  switch (check) {
    case "primary":
      return facts.isPrimary;
    case "standbyLeader":
      return facts.isStandbyLeader;
    case "leader":
      return leading;
    case "replica":
      return replica;
    case "readOnly":
      return leading || replica;
    case "health":
      return facts.running;
    // The rest need the cluster state (which standbys are synchronous).
    case "sync":
      return hasView && facts.isSyncStandby && replica;
    case "quorum":
      return hasView && facts.isQuorumStandby && replica;
    case "async":
      return hasView && !facts.isSyncStandby && !facts.isQuorumStandby && replica;
    case "readOnlySync":
      return hasView && (leading || (facts.isSyncStandby && replica));
    case "readOnlyQuorum":
      return hasView && (leading || (facts.isQuorumStandby && replica));
  }
}

/** Whether `check` passes. Tag filters apply to every check but the primary/leader ones. */
export function healthCheck(check: HealthCheck, facts: NodeFacts, local: LocalStatus, hasView: boolean, query: HealthQuery): boolean {
  const passes = statusOf(check, facts, local, hasView, query);
  const ignoresTags = check === "primary" || check === "leader" || check === "standbyLeader";
  return passes && (ignoresTags || tagsMatch(local, query));
}

/**
 * The HA loop is alive: its last cycle ended within `ttl` (primary) or twice that (replica);
 * always alive in pause, where a stuck loop harms nobody (Patroni's do_GET_liveness).
 */
export function liveness(facts: NodeFacts, local: LocalStatus, view: ScopeView | null): boolean {
  if (facts.paused) return true;
  const ttlMs = (view === null ? CONFIG_DEFAULTS.ttl : configNumber(view.config, "ttl")) * 1000;
  const thresholdMs = facts.role === "primary" && facts.running ? ttlMs : 2 * ttlMs;
  return local.haLoopAgeMs < thresholdMs;
}

/** Null when ready to take traffic; otherwise why not (Patroni's _readiness). */
export function readiness(facts: NodeFacts, local: LocalStatus, view: ScopeView | null, query: HealthQuery): string | null {
  if (facts.holdsLease) return null;
  if (!facts.running) return `PostgreSQL is not running (state: ${facts.state})`;
  if (facts.replicationState !== "streaming") return "PostgreSQL replication state is not streaming";
  if (view === null && local.walReceived === null) return "the cluster state is not accessible";
  const position = query.mode === "write" ? local.walReceived : local.walReplayed;
  const lag = facts.primaryLsn === null ? 0n : facts.primaryLsn - (position ?? 0n);
  const maximum = query.lagBytesMax ?? (view === null ? CONFIG_DEFAULTS.maximum_lag_on_failover : configNumber(view.config, "maximum_lag_on_failover"));
  if (lag > BigInt(maximum)) return `replication ${query.mode} lag ${lag} exceeds the maximum allowed ${maximum}`;
  return null;
}
