/**
 * The shape and bounds of a state read from a snapshot: every field of every scope is checked
 * (types, names, ranges, the limits of this machine, the JSON bounds of configs and patches), and
 * the LSNs, which travel as {"$bigint": "<decimal>"}, become bigints — there and nowhere else, so
 * a config that happens to hold such an object stays an object on every node.
 *
 * Total: whatever JSON it is given, it answers the state or what is wrong with it, never throws.
 * The objects of the JSON are kept (and checked in place), so a state re-encodes to the same
 * bytes, keys in the same order: snapshots taken on different nodes must compare equal.
 */
import * as E from "fp-ts/lib/Either.js";
import { AUTHOR_CHARS_MAX, AGENT_VERSION_CHARS_MAX, COUNTER_MAX, pendingRestartProblem, STANDBYS_MAX, SYSTEM_ID_CHARS_MAX, TIMELINE_MAX, URL_CHARS_MAX } from "./command_bounds.js";
import { canonicalJson, type JsonObject } from "./json.js";
import { jsonBoundsProblem, STATE_JSON_BOUNDS } from "./json_bounds.js";
import { type DcsLimits, type DcsState, isValidName, MEMBER_ROLES, MEMBER_STATES, type MemberName, type MemberRecord, type Scope, type ScopeState, TIMELINE_REASONS } from "./model.js";

const LSN_MAX = 0xffff_ffff_ffff_ffffn;

/** What is wrong, at which path; caught in stateFromJson and nowhere else. */
class Invalid extends Error {}

type Json = Record<string, unknown>;

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 80));
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return Array.isArray(value) ? "a list" : `a value of type ${typeof value}`;
}

function fail(path: string, what: string, value: unknown): never {
  throw new Invalid(`${path} must be ${what}, got ${shown(value)}`);
}

/** An object with exactly these keys (`optional` may be absent). */
function object(value: unknown, path: string, keys: readonly string[], optional: readonly string[] = []): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "an object", value);
  const o = value as Json;
  for (const key of keys) if (!Object.hasOwn(o, key)) throw new Invalid(`${path} has no ${key}`);
  for (const key of Object.keys(o)) if (!keys.includes(key) && !optional.includes(key)) throw new Invalid(`${path} has an unknown field ${JSON.stringify(key.slice(0, 40))}`);
  return o;
}

function list(value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(path, "a list", value);
  if (value.length > max) throw new Invalid(`${path} has ${value.length} entries, over the limit of ${max}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) fail(path, `an integer from ${min} to ${max}`, value);
  return value;
}

/** Times and durations in ms: entry times are the Raft leader's clock, so any finite non-negative number. */
function time(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) fail(path, "a time in ms", value);
  return value;
}

function text(value: unknown, path: string, max: number): string {
  if (typeof value !== "string" || value.length > max) fail(path, `a string of at most ${max} characters`, value);
  return value;
}

function name(value: unknown, path: string): MemberName {
  if (typeof value !== "string" || !isValidName(value)) fail(path, "a valid name", value);
  return value as MemberName;
}

function nullable<T>(value: unknown, read: (value: unknown) => T): T | null {
  return value === null ? null : read(value);
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") fail(path, "true or false", value);
  return value;
}

function oneOf(value: unknown, path: string, allowed: readonly string[]): void {
  if (typeof value !== "string" || !allowed.includes(value)) fail(path, `one of ${allowed.join(", ")}`, value);
}

/** The field `key` of `o`, an LSN as {"$bigint": "<decimal>"} (or null), replaced by its bigint. */
function lsnField(o: Json, key: string, path: string, nullAllowed: boolean): void {
  const value = o[key];
  if (value === null && nullAllowed) return;
  const digits = typeof value === "object" && value !== null ? (value as Json)["$bigint"] : undefined;
  if (typeof digits !== "string" || !/^\d{1,20}$/.test(digits) || Object.keys(value as Json).length !== 1) fail(`${path}.${key}`, 'a WAL position ({"$bigint": "<decimal>"})', value);
  const lsn = BigInt(digits);
  if (lsn > LSN_MAX) fail(`${path}.${key}`, "a WAL position below 2^64", value);
  o[key] = lsn;
}

function json(value: unknown, path: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "a JSON object", value);
  const problem = jsonBoundsProblem(value, STATE_JSON_BOUNDS, path);
  if (problem !== null) throw new Invalid(problem);
  return value as JsonObject;
}

const MEMBER_KEYS = ["name", "apiUrl", "connUrl", "role", "state", "timeline", "walWritten", "walReceived", "walReplayed", "tags", "agentVersion", "lastSeenMs"];
const TAG_KEYS = ["nofailover", "failoverPriority", "nosync", "noloadbalance", "clonefrom", "replicatefrom"];

/** A pending restart: 1 to the maximum of parameters, the bounds of command_bounds.ts. */
function pendingRestart(value: unknown, path: string): void {
  const problem = pendingRestartProblem(value);
  if (problem !== null) throw new Invalid(`${path}: ${problem}`);
}

function member(value: unknown, path: string): MemberRecord {
  // pendingRestart came later, and is present only while a restart is pending.
  const m = object(value, path, MEMBER_KEYS, ["pendingRestart"]);
  const at = `${path} (${shown(m["name"])})`;
  name(m["name"], `${at}.name`);
  text(m["apiUrl"], `${at}.apiUrl`, URL_CHARS_MAX);
  text(m["connUrl"], `${at}.connUrl`, URL_CHARS_MAX);
  oneOf(m["role"], `${at}.role`, MEMBER_ROLES);
  oneOf(m["state"], `${at}.state`, MEMBER_STATES);
  integer(m["timeline"], `${at}.timeline`, 0, TIMELINE_MAX);
  for (const key of ["walWritten", "walReceived", "walReplayed"]) lsnField(m, key, at, true);
  const tags = object(m["tags"], `${at}.tags`, TAG_KEYS);
  for (const key of ["nofailover", "nosync", "noloadbalance", "clonefrom"]) boolean(tags[key], `${at}.tags.${key}`);
  integer(tags["failoverPriority"], `${at}.tags.failoverPriority`, 0, 0xffff_ffff);
  nullable(tags["replicatefrom"], (v) => name(v, `${at}.tags.replicatefrom`));
  text(m["agentVersion"], `${at}.agentVersion`, AGENT_VERSION_CHARS_MAX);
  time(m["lastSeenMs"], `${at}.lastSeenMs`);
  if (Object.hasOwn(m, "pendingRestart")) pendingRestart(m["pendingRestart"], at);
  return m as unknown as MemberRecord;
}

function lease(value: unknown, path: string, leaseGeneration: number): void {
  const l = object(value, path, ["holder", "acquiredAtMs", "renewedAtMs", "ttlMs", "expiresAtMs", "generation"]);
  name(l["holder"], `${path}.holder`);
  for (const key of ["acquiredAtMs", "renewedAtMs", "ttlMs", "expiresAtMs"]) time(l[key], `${path}.${key}`);
  integer(l["generation"], `${path}.generation`, 1, leaseGeneration);
}

/** The last grant's takeover point: its holder and generation, a timeline and an LSN. */
function takeover(value: unknown, path: string, leaseGeneration: number): void {
  const t = object(value, path, ["holder", "generation", "timeline", "lsn"]);
  name(t["holder"], `${path}.holder`);
  integer(t["generation"], `${path}.generation`, 1, leaseGeneration);
  integer(t["timeline"], `${path}.timeline`, 1, TIMELINE_MAX);
  lsnField(t, "lsn", path, false);
}

function history(s: Json, path: string, limits: DcsLimits): void {
  list(s["configHistory"], `${path}.configHistory`, limits.historyMax).forEach((value, i) => {
    const at = `${path}.configHistory[${i}]`;
    const h = object(value, at, ["version", "author", "atMs", "patch"]);
    integer(h["version"], `${at}.version`, 1, COUNTER_MAX);
    text(h["author"], `${at}.author`, AUTHOR_CHARS_MAX);
    time(h["atMs"], `${at}.atMs`);
    json(h["patch"], `${at}.patch`);
  });
  list(s["primaryHistory"], `${path}.primaryHistory`, limits.historyMax).forEach((value, i) => {
    const at = `${path}.primaryHistory[${i}]`;
    const h = object(value, at, ["timeline", "lsn", "atMs", "reason", "newPrimary"], ["parent"]);
    integer(h["timeline"], `${at}.timeline`, 0, TIMELINE_MAX);
    if (Object.hasOwn(h, "parent")) integer(h["parent"], `${at}.parent`, 1, TIMELINE_MAX);
    lsnField(h, "lsn", at, false);
    time(h["atMs"], `${at}.atMs`);
    oneOf(h["reason"], `${at}.reason`, TIMELINE_REASONS);
    name(h["newPrimary"], `${at}.newPrimary`);
  });
}

function pending(value: unknown, path: string): void {
  const p = object(value, path, ["kind", "from", "to", "scheduledAtMs", "requestedBy", "atMs"], ["allowDataLoss"]);
  oneOf(p["kind"], `${path}.kind`, ["switchover", "failover"]);
  nullable(p["from"], (v) => name(v, `${path}.from`));
  nullable(p["to"], (v) => name(v, `${path}.to`));
  nullable(p["scheduledAtMs"], (v) => time(v, `${path}.scheduledAtMs`));
  if (Object.hasOwn(p, "allowDataLoss")) boolean(p["allowDataLoss"], `${path}.allowDataLoss`);
  text(p["requestedBy"], `${path}.requestedBy`, AUTHOR_CHARS_MAX);
  time(p["atMs"], `${path}.atMs`);
}

function sync(value: unknown, path: string): void {
  const s = object(value, path, ["version", "leader", "standbys", "quorum"]);
  integer(s["version"], `${path}.version`, 0, COUNTER_MAX);
  nullable(s["leader"], (v) => name(v, `${path}.leader`));
  const standbys = list(s["standbys"], `${path}.standbys`, STANDBYS_MAX);
  standbys.forEach((v, i) => name(v, `${path}.standbys[${i}]`));
  integer(s["quorum"], `${path}.quorum`, 0, standbys.length);
}

const SCOPE_KEYS = ["scope", "initialization", "lease", "leaseGeneration", "members", "config", "configHistory", "primaryHistory", "pending", "sync", "paused", "maintenance"];

function scopeState(value: unknown, index: number, limits: DcsLimits): ScopeState {
  // takeover came later: a snapshot taken before it has none (null).
  const s = object(value, `scopes[${index}]`, SCOPE_KEYS, ["takeover"]);
  const path = `scope ${shown(s["scope"])}`;
  name(s["scope"], `scopes[${index}].scope`);
  nullable(s["initialization"], (v) => {
    const init = object(v, `${path}.initialization`, ["by", "systemId", "atMs"]);
    name(init["by"], `${path}.initialization.by`);
    text(init["systemId"], `${path}.initialization.systemId`, SYSTEM_ID_CHARS_MAX);
    time(init["atMs"], `${path}.initialization.atMs`);
  });
  const leaseGeneration = integer(s["leaseGeneration"], `${path}.leaseGeneration`, 0, COUNTER_MAX);
  nullable(s["lease"], (v) => lease(v, `${path}.lease`, leaseGeneration));
  if (s["takeover"] === undefined) s["takeover"] = null;
  nullable(s["takeover"], (v) => takeover(v, `${path}.takeover`, leaseGeneration));
  const members = new Map<MemberName, MemberRecord>();
  list(s["members"], `${path}.members`, limits.membersPerScopeMax).forEach((v, i) => {
    const record = member(v, `${path}.members[${i}]`);
    if (members.has(record.name)) throw new Invalid(`${path} lists member ${record.name} twice`);
    members.set(record.name, record);
  });
  const config = object(s["config"], `${path}.config`, ["version", "value"]);
  integer(config["version"], `${path}.config.version`, 0, COUNTER_MAX);
  const bytes = canonicalJson(json(config["value"], `${path}.config.value`)).length;
  if (bytes > limits.configBytesMax) throw new Invalid(`${path}.config.value is ${bytes} bytes, over the limit of ${limits.configBytesMax}`);
  history(s, path, limits);
  nullable(s["pending"], (v) => pending(v, `${path}.pending`));
  sync(s["sync"], `${path}.sync`);
  boolean(s["paused"], `${path}.paused`);
  const maintenance = new Set<MemberName>();
  list(s["maintenance"], `${path}.maintenance`, limits.membersPerScopeMax).forEach((v, i) => {
    const member = name(v, `${path}.maintenance[${i}]`);
    if (!members.has(member) || maintenance.has(member)) throw new Invalid(`${path}.maintenance lists ${member}, which is not a member or is listed twice`);
    maintenance.add(member);
  });
  return { ...(s as unknown as ScopeState), members, maintenance };
}

/** The state a snapshot's JSON describes, checked against `limits`; what is wrong otherwise. */
export function stateFromJson(value: unknown, limits: DcsLimits, format: number): E.Either<string, DcsState> {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && (value as Json)["format"] !== format) {
    return E.left(`DCS snapshot format ${shown((value as Json)["format"])} is not ${format}; upgrade this node`);
  }
  try {
    const state = object(value, "the DCS snapshot", ["format", "nowMs", "appliedIndex", "scopes"]);
    const nowMs = time(state["nowMs"], "nowMs");
    const appliedIndex = integer(state["appliedIndex"], "appliedIndex", 0, COUNTER_MAX);
    const scopes = new Map<Scope, ScopeState>();
    list(state["scopes"], "scopes", limits.scopesMax).forEach((v, i) => {
      const scope = scopeState(v, i, limits);
      if (scopes.has(scope.scope)) throw new Invalid(`scope ${scope.scope} is listed twice`);
      scopes.set(scope.scope, scope);
    });
    return E.right({ scopes, nowMs, appliedIndex, limits });
  } catch (error: unknown) {
    if (error instanceof Invalid) return E.left(`the DCS snapshot is not valid: ${error.message}`);
    return E.left(`the DCS snapshot cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}
