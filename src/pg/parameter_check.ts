/**
 * PostgreSQL parameters are checked before anything accepts them (PATCH/PUT /config, node.yml,
 * bootstrap.dcs) and again before the agent writes them into a file: a line PostgreSQL cannot
 * parse makes a reload ignore every later change ("contains errors; no changes were applied")
 * and the next start fail. The rules are PostgreSQL 15's own (pg15_parameters.ts is generated
 * from pg_settings of a real server; parameter_values.ts ports its parsing):
 * - a name PostgreSQL does not know is refused with the closest one it knows;
 * - a name with a dot is an extension's (custom) setting: allowed when a configuration file can
 *   hold it (two identifiers around one dot, guc-file.l), its value taken as a string;
 * - values by type: bool (PostgreSQL's spellings and unique prefixes), integer and real with
 *   the units the parameter's base unit takes, converted and checked against min..max, enum
 *   (case-insensitive), string;
 * - no control character (U+0000–U+001F, U+007F) anywhere, names included;
 * - the parameters raftgres sets itself are refused, with why — but for hot_standby and
 *   wal_log_hints given as on, the value raftgres sets: Patroni's sample patroni.yml and the
 *   production guides built on it set both, and the line changes nothing.
 * Values come as JSON strings, numbers or booleans (`max_connections: 200`, `work_mem: "64MB"`),
 * and are checked as the text PostgreSQL reads: true is "on", 200 is "200".
 * Pure: no I/O, so every edge (the agent, the REST API, the config reader) can call it.
 */
import { PARAMETERS_MAX } from "./constants.js";
import type { PgParameter } from "./parameter_types.js";
import { isMemoryUnit, type NumberParse, parseBool, parseNumber, unitsFor } from "./parameter_values.js";
import { PG_PARAMETERS, PG_SERVER_VERSION } from "./pg15_parameters.js";

/** Parameters that would move the files the adapter manages from under it. */
export const FORBIDDEN_PARAMETERS: ReadonlySet<string> = new Set(["data_directory", "config_file", "hba_file", "ident_file", "include", "include_dir", "include_if_exists"]);

/** Every parameter raftgres sets itself, with why a value from the configuration cannot stand. */
export const RAFTGRES_PARAMETERS: ReadonlyMap<string, string> = new Map([
  ["data_directory", "the data directory is postgresql.data_dir"],
  ["config_file", "raftgres writes the configuration files in the data directory"],
  ["hba_file", "raftgres writes pg_hba.conf (add lines with postgresql.pg_hba)"],
  ["ident_file", "raftgres writes the configuration files in the data directory"],
  ["include", "raftgres writes the include lines of postgresql.conf"],
  ["include_dir", "raftgres writes the include lines of postgresql.conf"],
  ["include_if_exists", "raftgres writes the include lines of postgresql.conf"],
  ["listen_addresses", "it comes from postgresql.listen"],
  ["port", "it comes from postgresql.listen"],
  ["hot_standby", "replicas must answer read-only queries for the HA checks"],
  ["wal_log_hints", "pg_rewind needs it on"],
  ["primary_conninfo", "it points at the member this node streams from"],
  ["primary_slot_name", "it names this member's slot on its upstream"],
  ["recovery_target_timeline", "replicas must follow every promotion (latest)"],
  ["cluster_name", "it is the member's name"],
]);

/**
 * Parameters raftgres sets to one boolean value, which a file may give too (Patroni's sample
 * configuration has `hot_standby: "on"` and `wal_log_hints: "on"`): the same value is accepted,
 * since it is in force anyway; another is refused as for every parameter raftgres sets.
 */
const RAFTGRES_BOOLEANS: ReadonlyMap<string, boolean> = new Map([["hot_standby", true], ["wal_log_hints", true]]);

/** guc-file.l: a name a configuration file can hold, and a custom one (ID "." ID). */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CUSTOM_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;
/** NAMEDATALEN - 1: PostgreSQL truncates longer identifiers; no parameter name is that long. */
const NAME_CHARS_MAX = 63;
const CONTROL = /[\u0000-\u001f\u007f]/;

const BY_LOWER_NAME: ReadonlyMap<string, readonly [string, PgParameter]> = new Map(Object.entries(PG_PARAMETERS).map(([name, p]) => [name.toLowerCase(), [name, p] as const]));
/** Names worth suggesting: the ones a configuration file may set. */
const SUGGESTIBLE: readonly string[] = Object.entries(PG_PARAMETERS).filter(([, p]) => p.inFile !== false).map(([name]) => name);

/**
 * Every problem of `parameters`, one sentence each naming `${where}.${name}`, the value and the
 * rule; empty when PostgreSQL 15 would accept every line. `where` is the path of the mapping in
 * the configuration, e.g. "postgresql.parameters".
 */
export function parameterProblems(parameters: Readonly<Record<string, unknown>>, where: string): string[] {
  const entries = Object.entries(parameters);
  if (entries.length > PARAMETERS_MAX) return [`${where} has ${entries.length} parameters; at most ${PARAMETERS_MAX} are accepted`];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [name, value] of entries) {
    const problem = parameterProblem(name, value, where);
    if (problem !== null) problems.push(problem);
    const lower = name.toLowerCase();
    const earlier = seen.get(lower);
    if (earlier !== undefined) problems.push(`${where}.${printable(name)}: ${printable(earlier)} is set as well; parameter names are case-insensitive, so keep one of them`);
    seen.set(lower, name);
  }
  return problems;
}

/** The problem of one parameter, or null when PostgreSQL 15 accepts it and raftgres lets it be set. */
export function parameterProblem(name: string, value: unknown, where: string): string | null {
  const lower = name.toLowerCase();
  const text = valueText(value);
  if (text !== null && RAFTGRES_BOOLEANS.has(lower) && parseBool(text) === RAFTGRES_BOOLEANS.get(lower)) return serverProblem(name, value, where);
  const reason = RAFTGRES_PARAMETERS.get(lower);
  if (reason !== undefined) return `${where}.${printable(name)}: raftgres sets ${name.toLowerCase()} itself (${reason}); remove it`;
  return serverProblem(name, value, where);
}

/**
 * The problem of one line as PostgreSQL 15 reads it, or null: the check of the values raftgres
 * writes itself (primary_conninfo, standby_cluster's restore_command …), which the rule against
 * setting them does not concern.
 */
export function serverProblem(name: string, value: unknown, where: string): string | null {
  const path = `${where}.${printable(name)}`;
  const nameProblem = checkName(name);
  if (nameProblem !== null) return `${path}: ${nameProblem}`;
  const text = valueText(value);
  if (text === null) return `${path} = ${shown(value)}: a PostgreSQL parameter is a string, a finite number or a boolean`;
  if (CONTROL.test(text)) return `${path} = ${shown(value)}: control characters (newline, tab …) are not allowed in a parameter's value`;
  const lower = name.toLowerCase();
  const found = BY_LOWER_NAME.get(lower);
  if (found === undefined) {
    if (name.includes(".")) return null; // A custom setting: any string.
    return `${path} is not a PostgreSQL ${PG_SERVER_VERSION.split(".")[0]} parameter: did you mean ${closestName(lower)}?`;
  }
  const [canonical, parameter] = found;
  if (parameter.inFile === false) {
    const why = parameter.context === "internal" ? "it is fixed when PostgreSQL is built or the data directory initialized" : "it is a per-session setting";
    return `${path}: ${canonical} cannot be set in a configuration file (${why})`;
  }
  if (lower === "wal_level" && text.trim().toLowerCase() === "minimal") {
    return `${path} = ${shown(value)}: raftgres needs wal_level replica or logical for its replicas`;
  }
  const rule = valueProblem(canonical, parameter, text);
  return rule === null ? null : `${path} = ${shown(value)}: ${rule}`;
}

function checkName(name: string): string | null {
  if (CONTROL.test(name)) return "control characters are not allowed in a parameter's name";
  if (name.length > NAME_CHARS_MAX) return `a parameter name has at most ${NAME_CHARS_MAX} characters`;
  if (name.includes(".")) {
    return CUSTOM_NAME.test(name) ? null : "an extension's parameter is two names joined by one dot (letters, digits and _, not starting with a digit), e.g. pg_stat_statements.max";
  }
  return NAME.test(name) ? null : "a parameter name is letters, digits and _ (not starting with a digit)";
}

/** The text PostgreSQL reads for a JSON value (booleans as on/off), or null for other types. */
export function valueText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "on" : "off";
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

function valueProblem(name: string, p: PgParameter, text: string): string | null {
  switch (p.type) {
    case "bool":
      return parseBool(text) === null ? `${name} is a boolean: on, off, true, false, yes, no, 1 or 0 (a unique prefix is enough)` : null;
    case "enum": {
      const accepted = [...(p.values ?? []), ...(p.hidden ?? [])];
      if (accepted.some((v) => v.toLowerCase() === text.toLowerCase())) return null;
      return `${name} must be one of ${(p.values ?? []).join(", ")}`;
    }
    case "integer":
    case "real":
      return numberProblem(name, p, text);
    case "string":
      return null;
  }
}

function numberProblem(name: string, p: PgParameter, text: string): string | null {
  const integer = p.type === "integer";
  const unit = p.unit ?? null;
  const parsed: NumberParse = parseNumber(text, unit, integer);
  const kind = integer ? "an integer" : "a number";
  const units = unit === null ? "" : `; units: ${unitsFor(unit).join(", ")} (without one: ${unit})`;
  if (!parsed.ok) {
    switch (parsed.problem) {
      case "notNumber":
        return `${name} takes ${kind}${units}`;
      case "noUnitAllowed":
        return `${name} takes ${kind} without a unit`;
      case "badUnit":
        return `${name} takes ${kind}${unit === null ? " without a unit" : ` in ${isMemoryUnit(unit) ? "memory" : "time"} units${units}`}`;
      case "notInteger":
        return `${name} takes ${kind} within the 32-bit range${units}`;
    }
  }
  const min = p.min ?? -Infinity;
  const max = p.max ?? Infinity;
  if (parsed.value >= min && parsed.value <= max) return null;
  if (unit === null) return `${name} must be between ${min} and ${max}`;
  // A base unit such as 8kB counts pages: "units of 8kB"; kB, ms, s … read after the number.
  const counted = /^\d/.test(unit) ? ` units of ${unit}` : ` ${unit}`;
  const got = text.trim() === String(parsed.value) ? "" : `; ${JSON.stringify(text)} is ${parsed.value}${counted}`;
  return `${name} must be between ${min} and ${max}${counted}${got}`;
}

/** The known name nearest to `name` (optimal string alignment distance; ties: the shorter, then by name). */
export function closestName(name: string): string {
  let best = "";
  let bestDistance = Infinity;
  for (const candidate of SUGGESTIBLE) {
    const distance = editDistance(name, candidate.toLowerCase());
    if (distance < bestDistance || (distance === bestDistance && (candidate.length < best.length || (candidate.length === best.length && candidate < best)))) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions ("wrok_mem" is 1 from "work_mem"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** A value for a sentence: JSON, so a newline shows as \n and a string keeps its quotes. */
function shown(value: unknown): string {
  if (value === undefined) return "undefined";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** A name for a sentence: control characters escaped. */
function printable(name: string): string {
  return CONTROL.test(name) ? JSON.stringify(name) : name;
}
