/**
 * PATCH and PUT /config: the config a change would leave, checked at the edge before anything is
 * written, every problem in one answer (Patroni 3.1+ validates its dynamic config the same way).
 * Each known key has its rule: the HA timings by src/dcs/ha_timing.ts, the synchronous settings,
 * standby_cluster and the permanent slots by their DCS modules (whose rules check them again,
 * one problem at a time), `postgresql.parameters` by the node's PostgreSQL check (names and
 * values of the server's version), the rest by type and range here.
 *
 * Keys of its own are the user's to add, as in Patroni (the JSON bounds leave room for them; the
 * fault-injection harness keeps a token in one), but a key that is a near miss of a known one
 * ("loop_wiat", "TTL") is refused naming it: a typo must not be stored and silently ignored.
 * Inside `postgresql` only the known keys are accepted.
 *
 * A PATCH is held only to what it touches, so a mistake stored earlier does not block every other
 * edit (a timing key brings the timing rule, which relates them all, into play); a PUT is the
 * whole config and is held to all of it. Checked here rather than in the DCS rules where the
 * check depends on the node (PostgreSQL parameters): decisions a replayed log repeats must not.
 */
import { pgHbaProblem } from "../dcs/dynamic_postgresql.js";
import { DEMOTE_CLUSTER_KEY, demoteDirectiveProblem, splitDemoteDirective } from "../dcs/demote_cluster.js";
import { canonicalJson, isJsonObject, type JsonObject, type JsonValue } from "../dcs/json.js";
import { HA_TIMING_KEYS, haTimingProblems, PRIMARY_START_TIMEOUT_S_MAX } from "../dcs/ha_timing.js";
import { mergePatch } from "../dcs/merge_patch.js";
import { DEFAULT_LIMITS } from "../dcs/model.js";
import { permanentSlotsProblem, SLOTS_KEYS } from "../dcs/permanent_slots.js";
import { STANDBY_CLUSTER_KEY, standbyClusterProblem } from "../dcs/standby_cluster.js";
import { syncModeProblem } from "../dcs/sync_mode.js";
import { type FieldRule, shown } from "./body.js";
import { nearMiss } from "./spelling.js";

export type ConfigMode = "patch" | "replace";

/** Checks the node answers for: PostgreSQL parameters (names and values), as sentences. */
export type ParameterCheck = (parameters: Readonly<Record<string, unknown>>) => readonly string[];

export type ConfigVerdict =
  | { readonly ok: true; readonly next: JsonObject }
  | { readonly ok: false; readonly tooLarge: boolean; readonly problems: readonly string[] };

function numberRule(min: number, max: number, integer: boolean, unit: string): FieldRule {
  return (value, key) => {
    const ok = typeof value === "number" && value >= min && value <= max && (!integer || Number.isInteger(value));
    return ok ? null : `${key} must be ${integer ? "an integer" : "a number"} of ${unit} from ${min} to ${max}, got ${shown(value)}`;
  };
}

const booleanRule: FieldRule = (value, key) => (typeof value === "boolean" ? null : `${key} must be true or false, got ${shown(value)}`);
const DURATION = /^\d{1,9}\s*(ms|s|min|h|d)?$/;

/** Keys with a rule of their own; the keys of a group are checked together below. */
const SIMPLE_RULES: Readonly<Record<string, FieldRule>> = {
  maximum_lag_on_syncnode: numberRule(-1, Number.MAX_SAFE_INTEGER, true, "bytes (-1: off)"),
  max_timelines_history: numberRule(0, 1_000_000, true, "entries (0: keep all)"),
  primary_stop_timeout: numberRule(0, PRIMARY_START_TIMEOUT_S_MAX, false, "seconds"),
  master_stop_timeout: numberRule(0, PRIMARY_START_TIMEOUT_S_MAX, false, "seconds"),
  master_start_timeout: numberRule(0, PRIMARY_START_TIMEOUT_S_MAX, false, "seconds"),
  primary_race_backoff: numberRule(0, 3600, false, "seconds"),
  failsafe_mode: booleanRule,
  check_timeline: booleanRule,
  member_slots_ttl: (value, key) => ((typeof value === "number" && value >= 0 && value <= 31_536_000) || (typeof value === "string" && DURATION.test(value)) ? null : `${key} must be seconds from 0 to 31536000 or a duration such as "30min", got ${shown(value)}`),
};

const SYNC_KEYS = ["synchronous_mode", "synchronous_mode_strict", "synchronous_node_count", "minimum_synchronous_nodes"];
const SLOT_KEYS: readonly string[] = [...SLOTS_KEYS, "ignore_slots"];

/** The top-level keys raftgres or Patroni read (pause is not stored: routes_config.ts splits it off). */
export const CONFIG_KEYS: readonly string[] = [...HA_TIMING_KEYS, ...SYNC_KEYS, ...Object.keys(SIMPLE_RULES), STANDBY_CLUSTER_KEY, ...SLOT_KEYS, "postgresql"];

const POSTGRESQL_RULES: Readonly<Record<string, FieldRule>> = {
  use_pg_rewind: booleanRule,
  use_slots: booleanRule,
  remove_data_directory_on_rewind_failure: booleanRule,
  remove_data_directory_on_diverged_timelines: booleanRule,
  pg_ctl_timeout: numberRule(0, PRIMARY_START_TIMEOUT_S_MAX, false, "seconds"),
  // Applied on every member (src/dcs/dynamic_postgresql.ts): each line as PostgreSQL parses one.
  pg_hba: pgHbaProblem,
  pg_ident: listOfLines,
  recovery_conf: objectRule,
  rewind: objectRule,
  basebackup: (value, key) => (isJsonObject(value) || Array.isArray(value) ? null : `${key} must be an object or a list, got ${shown(value)}`),
};
const POSTGRESQL_KEYS: readonly string[] = ["parameters", ...Object.keys(POSTGRESQL_RULES)];

function listOfLines(value: unknown, key: string): string | null {
  return Array.isArray(value) && value.every((line) => typeof line === "string") ? null : `${key} must be a list of strings (one line each), got ${shown(value)}`;
}

function objectRule(value: unknown, key: string): string | null {
  return isJsonObject(value) ? null : `${key} must be an object, got ${shown(value)}`;
}

/** The rule of `key`: own keys only, so "constructor" does not find Object.prototype's. */
function ruleOf(rules: Readonly<Record<string, FieldRule>>, key: string): FieldRule | null {
  return Object.hasOwn(rules, key) ? rules[key]! : null;
}

/** The keys of `change` a check must look at: all of a replacement, the non-null ones of a patch. */
function touchedKeys(change: JsonObject, mode: ConfigMode): { readonly set: string[]; readonly any: string[] } {
  const any = Object.keys(change);
  return { any, set: mode === "replace" ? any : any.filter((key) => change[key] !== null) };
}

function unknownKeysProblem(keys: readonly string[], known: readonly string[], where: string): string | null {
  const unknown = keys.filter((key) => !known.includes(key));
  if (unknown.length === 0) return null;
  const names = unknown.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 40))).join(", ") + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : "");
  return `${where} has no key${unknown.length === 1 ? "" : "s"} ${names} (known: ${known.join(", ")})`;
}

/** Keys that look like a known key mistyped: refused, since nothing would ever read them. */
function nearMissesProblem(keys: readonly string[], known: readonly string[]): string | null {
  const misses = keys.flatMap((key) => {
    const meant = nearMiss(key, known);
    return meant === null ? [] : [`${JSON.stringify(key.slice(0, 40))} (did you mean ${meant}?)`];
  });
  if (misses.length === 0) return null;
  return `the config has no key${misses.length === 1 ? "" : "s"} ${misses.slice(0, 5).join(", ")}: keys of your own are stored as they are, but not near misses of raftgres's (${known.join(", ")})`;
}

function scalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** postgresql.parameters: an object of scalars whose touched names and values pass the node's check. */
function parametersProblems(next: JsonValue | undefined, change: JsonValue | undefined, mode: ConfigMode, check: ParameterCheck): string[] {
  if (next === undefined) return [];
  if (!isJsonObject(next)) return [`postgresql.parameters must be an object of parameter names and values, got ${shown(next)}`];
  const touched = mode === "replace" || !isJsonObject(change) ? next : change;
  const problems: string[] = [];
  const checked: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(touched)) {
    if (value === null && mode === "patch") continue;
    if (scalar(value)) checked[name] = value;
    else problems.push(`postgresql.parameters.${name} must be a string, a number or a boolean, got ${shown(value)}`);
  }
  return [...problems, ...check(checked)];
}

/** The `postgresql` section: an object of known keys, each with its rule, and its parameters. */
function postgresqlProblems(next: JsonValue | undefined, change: JsonValue | undefined, mode: ConfigMode, check: ParameterCheck): string[] {
  if (next === undefined) return [];
  if (!isJsonObject(next)) return [`postgresql must be an object (parameters, use_pg_rewind, use_slots, pg_hba …), got ${shown(next)}`];
  const touched = touchedKeys(mode === "replace" || !isJsonObject(change) ? next : change, mode);
  const problems: string[] = [];
  const unknown = unknownKeysProblem(touched.set, POSTGRESQL_KEYS, "postgresql");
  if (unknown !== null) problems.push(unknown);
  for (const key of touched.set) {
    const rule = ruleOf(POSTGRESQL_RULES, key);
    const problem = rule === null ? null : rule(next[key], `postgresql.${key}`);
    if (problem !== null) problems.push(problem);
  }
  if (touched.any.includes("parameters")) {
    const changed = mode === "patch" && isJsonObject(change) ? change["parameters"] : undefined;
    problems.push(...parametersProblems(next["parameters"], changed, mode, check));
  }
  return problems;
}

/** Every problem of the touched keys of `next`, the config the change leaves. */
function problemsOf(next: JsonObject, change: JsonObject, mode: ConfigMode, check: ParameterCheck): string[] {
  const touched = touchedKeys(change, mode);
  const problems: string[] = [];
  const misses = nearMissesProblem(touched.set, [...CONFIG_KEYS, "pause", DEMOTE_CLUSTER_KEY]);
  if (misses !== null) problems.push(misses);
  for (const key of touched.set) {
    const rule = ruleOf(SIMPLE_RULES, key);
    const problem = rule === null ? null : rule(next[key], key);
    if (problem !== null) problems.push(problem);
  }
  const touches = (keys: readonly string[]): boolean => touched.any.some((key) => keys.includes(key));
  if (touches(HA_TIMING_KEYS)) problems.push(...haTimingProblems(next));
  const sync = touches(SYNC_KEYS) ? syncModeProblem(next) : null;
  if (sync !== null) problems.push(sync);
  const standby = touches([STANDBY_CLUSTER_KEY]) ? standbyClusterProblem(next) : null;
  if (standby !== null) problems.push(standby);
  const slots = touches(SLOT_KEYS) ? permanentSlotsProblem(next) : null;
  if (slots !== null) problems.push(slots);
  if (touched.any.includes("postgresql")) problems.push(...postgresqlProblems(next["postgresql"], mode === "patch" ? change["postgresql"] : undefined, mode, check));
  return problems;
}

/**
 * The config `change` leaves on `current`, or every reason it may not: over the size the cluster
 * state keeps (DEFAULT_LIMITS.configBytesMax, in canonical form), or the problems of what it touches.
 */
export function checkConfigChange(current: JsonObject, body: JsonObject, mode: ConfigMode, check: ParameterCheck): ConfigVerdict {
  // demote-cluster's directive is not stored (src/dcs/demote_cluster.ts): checked on its own.
  const { change, demote } = splitDemoteDirective(body);
  const directive = demote === undefined ? null : demoteDirectiveProblem(demote);
  const merged = mode === "patch" ? mergePatch(current, change) : change;
  const next = isJsonObject(merged) ? merged : {};
  const bytes = canonicalJson(next).length;
  if (bytes > DEFAULT_LIMITS.configBytesMax) {
    return { ok: false, tooLarge: true, problems: [`the config would be ${bytes} bytes in canonical form, over the limit of ${DEFAULT_LIMITS.configBytesMax}`] };
  }
  const problems = [...(directive === null ? [] : [directive]), ...problemsOf(next, change, mode, check)];
  return problems.length === 0 ? { ok: true, next } : { ok: false, tooLarge: false, problems };
}
