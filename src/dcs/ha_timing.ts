/**
 * The HA settings of the dynamic config and the rules they must keep, checked the way Patroni
 * 3.1+ validates them (patroni-behaviour.md §0.3): each within its range, and
 * loop_wait + 2 × retry_timeout ≤ ttl on the values in force (a key left out counts with its
 * default). One pure function serves every edge — PATCH/PUT /config, node.yml's bootstrap.dcs at
 * start — and the cluster-state rules, so a bad value is refused with the same sentence wherever
 * it comes from. Ranges are Patroni's, scaled for a LAN (our defaults: ttl 5, loop_wait 1,
 * retry_timeout 2; Patroni's minimums are ttl 20, loop_wait 1, retry_timeout 3).
 */
import { CONFIG_DEFAULTS } from "./model.js";

/** With the default watchdog margin (1 s) and demote lead (0.5 s), a shorter ttl leaves no time to renew. */
export const TTL_S_MIN = 3;
export const TTL_S_MAX = 3600;
export const LOOP_WAIT_S_MIN = 0.1;
export const LOOP_WAIT_S_MAX = 600;
export const RETRY_TIMEOUT_S_MIN = 0.5;
export const RETRY_TIMEOUT_S_MAX = 1800;
export const PRIMARY_START_TIMEOUT_S_MAX = 86_400;

interface Range {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly unit: string;
}

const RANGES: Readonly<Record<string, Range>> = {
  ttl: { min: TTL_S_MIN, max: TTL_S_MAX, integer: false, unit: "seconds" },
  loop_wait: { min: LOOP_WAIT_S_MIN, max: LOOP_WAIT_S_MAX, integer: false, unit: "seconds" },
  retry_timeout: { min: RETRY_TIMEOUT_S_MIN, max: RETRY_TIMEOUT_S_MAX, integer: false, unit: "seconds" },
  maximum_lag_on_failover: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, unit: "bytes" },
  primary_start_timeout: { min: 0, max: PRIMARY_START_TIMEOUT_S_MAX, integer: false, unit: "seconds" },
};

/** The HA settings this module checks, by their config key. */
export const HA_TIMING_KEYS: readonly string[] = Object.keys(RANGES);

function rangeProblem(key: string, value: unknown, range: Range): string | null {
  const ok = typeof value === "number" && Number.isFinite(value) && value >= range.min && value <= range.max && (!range.integer || Number.isInteger(value));
  if (ok) return null;
  const kind = range.integer ? "an integer" : "a number";
  return `${key} must be ${kind} of ${range.unit} from ${range.min} to ${range.max}, got ${JSON.stringify(value)?.slice(0, 60) ?? String(value)}`;
}

/**
 * Every problem of the HA settings in `config` (empty when there is none): each out of its range
 * or of the wrong type, then the timing rule on the values in force.
 */
export function haTimingProblems(config: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const [key, range] of Object.entries(RANGES)) {
    const value = config[key];
    if (value === undefined) continue;
    const problem = rangeProblem(key, value, range);
    if (problem !== null) problems.push(problem);
  }
  if (problems.length > 0) return problems;
  const inForce = (key: "ttl" | "loop_wait" | "retry_timeout"): number => (config[key] as number | undefined) ?? CONFIG_DEFAULTS[key];
  const ttl = inForce("ttl");
  const loopWait = inForce("loop_wait");
  const retryTimeout = inForce("retry_timeout");
  if (loopWait + 2 * retryTimeout > ttl) {
    problems.push(`loop_wait ${loopWait} s + 2 × retry_timeout ${retryTimeout} s = ${loopWait + 2 * retryTimeout} s exceeds ttl ${ttl} s: the rule is loop_wait + 2 × retry_timeout ≤ ttl (a key not given counts with its default)`);
  }
  return problems;
}
