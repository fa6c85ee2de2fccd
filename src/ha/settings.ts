/**
 * The HA timings and switches: the dynamic ones come from the scope's config (edited once for
 * the whole cluster), the local ones from the node's YAML. Pure.
 *
 * The timing rule everything rests on (Patroni, patroni-behaviour.md §0.3):
 * loop_wait + 2 × retry_timeout ≤ ttl. A config that breaks it is adjusted the way Patroni does —
 * loop_wait first, then retry_timeout — and the adjustment is reported, never silently applied.
 */
import { assert } from "../lib/assert.js";
import { LOOP_WAIT_S_MIN, RETRY_TIMEOUT_S_MIN, TTL_S_MAX, TTL_S_MIN } from "../dcs/ha_timing.js";
import { type Config, CONFIG_DEFAULTS, configNumber } from "../dcs/model.js";
import { type DynamicSwitch, dynamicSwitch } from "../dcs/dynamic_postgresql.js";
import type { StandbyCluster } from "../dcs/standby_cluster.js";

/** What the node's YAML sets (the rest comes from the scope's config). */
export interface LocalHaSettings {
  /**
   * The watchdog fires this long before the lease deadline (measured on this node's monotonic
   * clock from when the renewal was sent). It must exceed the clock offset between nodes: the
   * Raft leader stamps entry times with its own clock.
   */
  readonly watchdogMarginMs: number;
  /** The agent stops a primary it cannot renew this long before the watchdog would fire. */
  readonly demoteLeadMs: number;
  /**
   * postgresql.use_pg_rewind and use_slots as node.yml sets them; null when it does not, and the
   * cluster's config decides (Patroni: the local file wins over the dynamic config).
   */
  readonly usePgRewind: boolean | null;
  /** When pg_rewind fails or is impossible: wipe the data directory and clone again. */
  readonly reinitOnRewindFailure: boolean;
  readonly useSlots: boolean | null;
  readonly nofailover: boolean;
  readonly failoverPriority: number;
  /** bootstrap.dcs.standby_cluster: what the member that initializes the cluster goes by (standby.ts). */
  readonly bootstrapStandbyCluster: StandbyCluster | null;
  /**
   * bootstrap.dcs.postgresql's use_pg_rewind and use_slots: in force until the cluster has a
   * config (version 0), so that the member bootstrapping it creates no slot use_slots: false forbids.
   */
  readonly bootstrapSwitches: Readonly<Record<DynamicSwitch, boolean | null>>;
}

export interface HaSettings extends Omit<LocalHaSettings, "usePgRewind" | "useSlots"> {
  /** Off: a diverged member is reinitialized (cloned again) instead of rewound. */
  readonly usePgRewind: boolean;
  /** Off: no member slots are kept, and replicas stream without one. */
  readonly useSlots: boolean;
  readonly ttlMs: number;
  readonly loopWaitMs: number;
  readonly retryTimeoutMs: number;
  readonly maximumLagOnFailoverBytes: number;
  readonly primaryStartTimeoutMs: number;
}

export const DEFAULT_LOCAL_HA_SETTINGS: LocalHaSettings = {
  watchdogMarginMs: 1000,
  demoteLeadMs: 500,
  usePgRewind: null,
  reinitOnRewindFailure: true,
  useSlots: null,
  nofailover: false,
  failoverPriority: 1,
  bootstrapStandbyCluster: null,
  bootstrapSwitches: { use_pg_rewind: null, use_slots: null },
};

/** Limits of the timing settings (seconds): src/dcs/ha_timing.ts, which the edges check too. */
export { LOOP_WAIT_S_MIN, RETRY_TIMEOUT_S_MIN, TTL_S_MAX, TTL_S_MIN } from "../dcs/ha_timing.js";

export interface Resolved {
  readonly settings: HaSettings;
  /** Sentences for operators about values that were out of range or adjusted. */
  readonly adjustments: readonly string[];
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/**
 * A switch as node.yml sets it, else as the cluster's config does, else on. raftgres defaults
 * use_pg_rewind on where Patroni has it off: initdb runs with data checksums, so a rewind is
 * possible, and it is much cheaper than a clone.
 */
export function resolveSwitch(config: Config, local: boolean | null, key: DynamicSwitch, bootstrap: boolean | null = null): boolean {
  return local ?? (config.version === 0 ? bootstrap : dynamicSwitch(config.value, key)) ?? true;
}

export function resolveHaSettings(config: Config, local: LocalHaSettings): Resolved {
  const adjustments: string[] = [];
  const ttl = clamp(configNumber(config, "ttl"), TTL_S_MIN, TTL_S_MAX);
  if (ttl !== configNumber(config, "ttl")) adjustments.push(`ttl ${configNumber(config, "ttl")} s is outside ${TTL_S_MIN}–${TTL_S_MAX} s; using ${ttl} s`);
  let loopWait = Math.max(LOOP_WAIT_S_MIN, configNumber(config, "loop_wait"));
  let retryTimeout = Math.max(RETRY_TIMEOUT_S_MIN, configNumber(config, "retry_timeout"));
  if (loopWait + 2 * retryTimeout > ttl) {
    const before = `loop_wait ${loopWait} s + 2 × retry_timeout ${retryTimeout} s exceeds ttl ${ttl} s`;
    loopWait = Math.max(LOOP_WAIT_S_MIN, ttl - 2 * retryTimeout);
    if (loopWait + 2 * retryTimeout > ttl) retryTimeout = (ttl - loopWait) / 2;
    adjustments.push(`${before}; using loop_wait ${loopWait} s and retry_timeout ${retryTimeout} s`);
  }
  // The holder renews every loop_wait and must still have time left before it demotes itself.
  const renewWindowS = ttl - (local.watchdogMarginMs + local.demoteLeadMs + 500) / 1000;
  if (loopWait > renewWindowS) {
    adjustments.push(`loop_wait ${loopWait} s leaves no time to renew the lease before the watchdog margin (${local.watchdogMarginMs} ms) and demote lead (${local.demoteLeadMs} ms) within ttl ${ttl} s; using loop_wait ${Math.max(LOOP_WAIT_S_MIN, renewWindowS)} s`);
    loopWait = Math.max(LOOP_WAIT_S_MIN, renewWindowS);
  }
  const settings: HaSettings = {
    ttlMs: Math.round(ttl * 1000),
    loopWaitMs: Math.round(loopWait * 1000),
    retryTimeoutMs: Math.round(retryTimeout * 1000),
    maximumLagOnFailoverBytes: configNumber(config, "maximum_lag_on_failover"),
    primaryStartTimeoutMs: Math.max(0, configNumber(config, "primary_start_timeout")) * 1000,
    ...local,
    usePgRewind: resolveSwitch(config, local.usePgRewind, "use_pg_rewind", local.bootstrapSwitches.use_pg_rewind),
    useSlots: resolveSwitch(config, local.useSlots, "use_slots", local.bootstrapSwitches.use_slots),
  };
  checkSettings(settings);
  return { settings, adjustments };
}

/** The relations the lease arithmetic relies on. */
export function checkSettings(s: HaSettings): void {
  assert(s.loopWaitMs + 2 * s.retryTimeoutMs <= s.ttlMs, () => `loop_wait ${s.loopWaitMs} + 2 × retry_timeout ${s.retryTimeoutMs} > ttl ${s.ttlMs}`);
  assert(s.watchdogMarginMs > 0 && s.demoteLeadMs > 0, "the watchdog margin and the demote lead are positive");
  assert(s.watchdogMarginMs + s.demoteLeadMs < s.ttlMs - s.loopWaitMs, () => `the watchdog margin ${s.watchdogMarginMs} ms and demote lead ${s.demoteLeadMs} ms leave no time to renew within ttl ${s.ttlMs} ms`);
}

export const DEFAULT_CONFIG_TIMINGS = { ttl: CONFIG_DEFAULTS.ttl, loop_wait: CONFIG_DEFAULTS.loop_wait, retry_timeout: CONFIG_DEFAULTS.retry_timeout } as const;
