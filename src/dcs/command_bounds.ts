/**
 * The bounds of everything a command carries, in one place, and the one check that applies them.
 * It runs twice (shared/STYLE.md, "bounds are checked at the edge and again where the harm would
 * happen"): on the sending side before a command is encoded (DcsClient.execute answers a
 * rejection that names the bound), and on every node when the command is decoded from the log
 * (commands.ts), where a command that slipped past the edge becomes a deterministic rejection.
 * Nothing downstream — canonical JSON, the merge patch, the rules, the fold — then meets a value
 * whose size or depth a client chose without limit.
 *
 * The check is total: it takes `unknown` (commands.ts passes its Command), so a value that is not
 * what the type says (a number that is NaN, a missing field) is a problem, never a throw. (It
 * does not import the Command type: commands.ts imports this module, and imports form no cycle.
 * Every kind of commands.ts has a case here; the codec test encodes one of each through it.)
 * Changing a bound changes which logged commands are refused: a command an older version accepted
 * and a newer one refuses replays differently, so bounds only tighten when the REST edge already
 * refuses what they newly refuse.
 */
import { isJsonObject } from "./json.js";
import { CONFIG_JSON_BOUNDS, describeControlCharacter, hasControlCharacter, jsonBoundsProblem } from "./json_bounds.js";
import { TTL_S_MAX, TTL_S_MIN } from "./ha_timing.js";
import { isValidName, MEMBER_ROLES, MEMBER_STATES, MEMBERS_PER_SCOPE_MAX, TIMELINE_REASONS } from "./model.js";

/** An encoded command (borsh envelope); bigger payloads are refused before they are decoded. */
export const COMMAND_BYTES_MAX = 4 * 1024 * 1024;
/** The setConfig JSON text (UTF-16 code units); the REST edge takes bodies of at most 1 MiB. */
export const CONFIG_JSON_CHARS_MAX = 1024 * 1024;
/** "api:<user>", "cli:<user>" or a member name. */
export const AUTHOR_CHARS_MAX = 256;
/** A member's REST API URL and its PostgreSQL connection URL. */
export const URL_CHARS_MAX = 2048;
export const AGENT_VERSION_CHARS_MAX = 64;
/** PostgreSQL's system identifier is a 64-bit number: at most 20 digits ("" while initdb runs). */
export const SYSTEM_ID_CHARS_MAX = 32;
/** The free text of a fence report (it names the watchdog's reason). */
export const FENCE_REASON_CHARS_MAX = 500;
/** Synchronous standbys in one setSyncState: no more than a scope may have members. */
export const STANDBYS_MAX = MEMBERS_PER_SCOPE_MAX;
/**
 * A member's pending restart (model.ts PendingRestartParameter): it travels with every report
 * while the restart is pending, so it is kept small — a few parameters, short values, and a bound
 * on the whole; the reporting member fits PostgreSQL's answer into these (pending_restart.ts).
 */
export const PENDING_RESTART_PARAMETERS_MAX = 32;
/** A parameter's name: PostgreSQL's own are under 40 characters; extensions' may be longer. */
export const PARAMETER_NAME_CHARS_MAX = 128;
export const PARAMETER_VALUE_CHARS_MAX = 256;
/** Names and values of all the parameters of one report together. */
export const PENDING_RESTART_CHARS_MAX = 4096;
/** PostgreSQL's TimeLineID is a uint32; 0 is what a member reports before it knows its own. */
export const TIMELINE_MAX = 0xffff_ffff;
export const FAILOVER_PRIORITY_MAX = 0xffff_ffff;
/** A lease's time to live: the ttl setting's range (ha_timing.ts), in milliseconds. */
export const LEASE_TTL_MS_MIN = TTL_S_MIN * 1000;
export const LEASE_TTL_MS_MAX = TTL_S_MAX * 1000;
/** Generations and versions count grants and changes: any safe integer. */
export const COUNTER_MAX = Number.MAX_SAFE_INTEGER;
/** Times (ms since 1970) up to the end of year 9999. */
export const TIME_MS_MAX = 253_402_300_799_999;
const LSN_MAX = 0xffff_ffff_ffff_ffffn;

/** A value as a sentence shows it, without calling anything on it. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 80));
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" || value === null) return String(value);
  return `a value of type ${typeof value}`;
}

function nameProblem(value: unknown, what: string): string | null {
  if (typeof value === "string" && isValidName(value)) return null;
  return `${what} ${shown(value)} is not a valid name (letters, digits, '_', '.', '-', at most 63)`;
}

function optionalNameProblem(value: unknown, what: string): string | null {
  return value === null ? null : nameProblem(value, what);
}

function textProblem(value: unknown, what: string, charsMax: number, options: { readonly empty: boolean; readonly control: boolean }): string | null {
  if (typeof value !== "string") return `${what} must be a string, got ${shown(value)}`;
  if (!options.empty && value === "") return `${what} must not be empty`;
  if (value.length > charsMax) return `${what} is ${value.length} characters long, over the limit of ${charsMax}`;
  if (!options.control && hasControlCharacter(value)) return `${what} holds a control character (${describeControlCharacter(value)})`;
  return null;
}

const LINE = { empty: true, control: false } as const;

function integerProblem(value: unknown, what: string, min: number, max: number): string | null {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max) return null;
  return `${what} must be an integer from ${min} to ${max}, got ${shown(value)}`;
}

function optionalIntegerProblem(value: unknown, what: string, min: number, max: number): string | null {
  return value === null ? null : integerProblem(value, what, min, max);
}

function booleanProblem(value: unknown, what: string): string | null {
  return typeof value === "boolean" ? null : `${what} must be true or false, got ${shown(value)}`;
}

function oneOfProblem(value: unknown, what: string, allowed: readonly string[]): string | null {
  return typeof value === "string" && allowed.includes(value) ? null : `${what} must be one of ${allowed.join(", ")}, got ${shown(value)}`;
}

function lsnProblem(value: unknown, what: string, nullable: boolean): string | null {
  if (nullable && value === null) return null;
  if (typeof value === "bigint" && value >= 0n && value <= LSN_MAX) return null;
  return `${what} must be a WAL position from 0 to 2^64 - 1, got ${shown(value)}`;
}

function record(value: unknown): Readonly<Record<string, unknown>> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** The first problem of a list of checks (each already evaluated: they are cheap and total). */
function first(...problems: readonly (string | null)[]): string | null {
  for (const problem of problems) if (problem !== null) return problem;
  return null;
}

function tagsProblem(value: unknown): string | null {
  const tags = record(value);
  if (tags === null) return `tags must be an object, got ${shown(value)}`;
  return first(
    booleanProblem(tags["nofailover"], "tags.nofailover"),
    integerProblem(tags["failoverPriority"], "tags.failoverPriority", 0, FAILOVER_PRIORITY_MAX),
    booleanProblem(tags["nosync"], "tags.nosync"),
    booleanProblem(tags["noloadbalance"], "tags.noloadbalance"),
    booleanProblem(tags["clonefrom"], "tags.clonefrom"),
    optionalNameProblem(tags["replicatefrom"], "tags.replicatefrom"),
  );
}

/** The parameters of a pending restart: absent, or 1 to the maximum of them, sorted by name, within the bounds. */
export function pendingRestartProblem(value: unknown): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) return `pendingRestart must be a list of parameters, got ${shown(value)}`;
  if (value.length === 0 || value.length > PENDING_RESTART_PARAMETERS_MAX) return `pendingRestart lists ${value.length} parameters; a report lists 1 to ${PENDING_RESTART_PARAMETERS_MAX} (it is absent when no restart is pending)`;
  let chars = 0;
  let previous: string | null = null;
  for (const [i, item] of (value as unknown[]).entries()) {
    const p = record(item);
    if (p === null) return `pendingRestart[${i}] must be an object, got ${shown(item)}`;
    const problem = first(
      textProblem(p["name"], `pendingRestart[${i}].name`, PARAMETER_NAME_CHARS_MAX, { empty: false, control: false }),
      textProblem(p["oldValue"], `pendingRestart[${i}].oldValue`, PARAMETER_VALUE_CHARS_MAX, LINE),
      textProblem(p["newValue"], `pendingRestart[${i}].newValue`, PARAMETER_VALUE_CHARS_MAX, LINE),
    );
    if (problem !== null) return problem;
    const name = p["name"] as string;
    if (previous !== null && !(previous < name)) return `pendingRestart names ${shown(name)} after ${shown(previous)}: the parameters go sorted by name, each once`;
    previous = name;
    chars += name.length + (p["oldValue"] as string).length + (p["newValue"] as string).length;
  }
  return chars > PENDING_RESTART_CHARS_MAX ? `pendingRestart holds ${chars} characters of names and values, over the limit of ${PENDING_RESTART_CHARS_MAX}` : null;
}

/** A member's status report: the hot path of replay (every member, every loop_wait). */
function statusProblem(value: unknown): string | null {
  const status = record(value);
  if (status === null) return `the member status must be an object, got ${shown(value)}`;
  return first(
    nameProblem(status["name"], "member"),
    textProblem(status["apiUrl"], "apiUrl", URL_CHARS_MAX, LINE),
    textProblem(status["connUrl"], "connUrl", URL_CHARS_MAX, LINE),
    oneOfProblem(status["role"], "role", MEMBER_ROLES),
    oneOfProblem(status["state"], "state", MEMBER_STATES),
    integerProblem(status["timeline"], "timeline", 0, TIMELINE_MAX),
    lsnProblem(status["walWritten"], "walWritten", true),
    lsnProblem(status["walReceived"], "walReceived", true),
    lsnProblem(status["walReplayed"], "walReplayed", true),
    tagsProblem(status["tags"]),
    textProblem(status["agentVersion"], "agentVersion", AGENT_VERSION_CHARS_MAX, LINE),
    pendingRestartProblem(status["pendingRestart"]),
  );
}

function configProblem(command: Readonly<Record<string, unknown>>): string | null {
  const simple = first(
    optionalIntegerProblem(command["expectedVersion"], "the expected config version", 0, COUNTER_MAX),
    oneOfProblem(command["mode"], "the config mode", ["patch", "replace"]),
  );
  if (simple !== null) return simple;
  const value = command["value"];
  if (!isJsonObject(value)) return `config must be a JSON object, got ${Array.isArray(value) ? "a list" : shown(value)}`;
  return jsonBoundsProblem(value, CONFIG_JSON_BOUNDS, "config");
}

function syncStateProblem(command: Readonly<Record<string, unknown>>): string | null {
  const standbys = command["standbys"];
  if (!Array.isArray(standbys)) return `standbys must be a list of member names, got ${shown(standbys)}`;
  if (standbys.length > STANDBYS_MAX) return `standbys lists ${standbys.length} members, over the limit of ${STANDBYS_MAX}`;
  for (const standby of standbys as unknown[]) {
    const problem = nameProblem(standby, "standby");
    if (problem !== null) return problem;
  }
  return first(
    optionalIntegerProblem(command["expectedVersion"], "the expected synchronous state version", 0, COUNTER_MAX),
    optionalNameProblem(command["leader"], "leader"),
    integerProblem(command["quorum"], "quorum", 0, STANDBYS_MAX),
  );
}

function leaseProblem(c: Readonly<Record<string, unknown>>, kind: "acquireLease" | "renewLease" | "releaseLease" | "fenceLease"): string | null {
  const generation = kind === "acquireLease" ? null : integerProblem(c["generation"], "generation", 0, COUNTER_MAX);
  const ttl = kind === "acquireLease" || kind === "renewLease" ? integerProblem(c["ttlMs"], "the lease ttl in ms", LEASE_TTL_MS_MIN, LEASE_TTL_MS_MAX) : null;
  if (kind === "fenceLease") {
    // Free text relayed from a watchdog's report; it is logged, never stored or put in a file.
    return first(nameProblem(c["holder"], "holder"), generation, textProblem(c["reason"], "the fence reason", FENCE_REASON_CHARS_MAX, { empty: true, control: true }));
  }
  return first(nameProblem(c["member"], "member"), ttl, generation, kind === "acquireLease" ? positionProblem(c["position"]) : null);
}

/** The candidate's WAL position in an acquireLease: absent, or a timeline and an LSN. */
function positionProblem(value: unknown): string | null {
  if (value === undefined) return null;
  const p = record(value);
  if (p === null) return `the candidate's WAL position must be an object, got ${shown(value)}`;
  return first(integerProblem(p["timeline"], "the candidate's timeline", 1, TIMELINE_MAX), lsnProblem(p["lsn"], "the candidate's LSN", false));
}

/** Why `command` breaks a bound, naming the field and the limit; null when it keeps them all. */
export function commandProblem(command: unknown): string | null {
  const c = record(command);
  if (c === null) return `a command must be an object, got ${shown(command)}`;
  const kind = c["kind"];
  switch (kind) {
    case "initializeCluster":
      return first(nameProblem(c["member"], "member"), textProblem(c["systemId"], "the system id", SYSTEM_ID_CHARS_MAX, LINE));
    case "upsertMember":
      return statusProblem(c["status"]);
    case "removeMember":
      return nameProblem(c["name"], "member");
    case "acquireLease":
    case "renewLease":
    case "releaseLease":
    case "fenceLease":
      return leaseProblem(c, kind as "acquireLease" | "renewLease" | "releaseLease" | "fenceLease");
    case "setConfig":
      return configProblem(c);
    case "requestSwitchover":
      return first(optionalNameProblem(c["from"], "from"), optionalNameProblem(c["to"], "to"), optionalIntegerProblem(c["scheduledAtMs"], "the scheduled time", 0, TIME_MS_MAX));
    case "requestFailover":
      return first(nameProblem(c["to"], "to"), booleanProblem(c["allowDataLoss"], "allowDataLoss"));
    case "cancelSwitchover":
      return null;
    case "setSyncState":
      return syncStateProblem(c);
    case "recordTimeline":
      return first(
        integerProblem(c["timeline"], "timeline", 1, TIMELINE_MAX),
        c["parent"] === undefined ? null : integerProblem(c["parent"], "the parent timeline", 1, TIMELINE_MAX),
        lsnProblem(c["lsn"], "the timeline's LSN", false),
        oneOfProblem(c["reason"], "the timeline reason", TIMELINE_REASONS),
        nameProblem(c["newPrimary"], "new primary"),
      );
    case "setPause":
      return booleanProblem(c["paused"], "paused");
    case "setMaintenance":
      return first(nameProblem(c["member"], "member"), booleanProblem(c["on"], "on"));
    case "removeScope":
      return null;
    default:
      return `unknown command ${shown(kind)}`;
  }
}

/** Why an envelope breaks a bound (its scope, its author, its command), or null. */
export function envelopeProblem(envelope: unknown): string | null {
  const e = record(envelope);
  if (e === null) return `a command envelope must be an object, got ${shown(envelope)}`;
  return first(
    nameProblem(e["scope"], "scope"),
    textProblem(e["author"], "the author", AUTHOR_CHARS_MAX, { empty: false, control: false }),
  ) ?? commandProblem(e["command"]);
}
