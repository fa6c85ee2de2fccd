/**
 * Permanent replication slots of the dynamic config (Patroni's `slots` and `ignore_slots`,
 * patroni-behaviour.md §3.2):
 *
 *   slots:
 *     backup:   {type: physical}
 *     cdc:      {type: logical, database: app, plugin: pgoutput}
 *   ignore_slots: [{name: foo}, {type: logical, plugin: wal2json}]
 *
 * Read here, purely: the DCS refuses a config whose slots are wrong (decide_config.ts), and the HA
 * side turns a config into what syncSlots keeps, with a sentence for every entry it cannot use
 * (a config written before this check, or by hand into a snapshot, is reported, never thrown).
 *
 * Which slots raftgres may drop: a slot is dropped only when its name was declared in some
 * version of the config the history still holds and is not declared now (`retiredSlotNames`).
 * A slot nobody ever declared — an operator's, a backup tool's — is never touched, and neither is
 * one matched by `ignore_slots`. Member slots have their own prefix ("rg_", src/pg/slot_names.ts),
 * which permanent slots may not use, so the two can never collide.
 */
import { assert } from "../lib/assert.js";
import type { ConfigVersion } from "./model.js";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";

/** A slot PostgreSQL accepts: lower-case letters, digits and underscores, at most NAMEDATALEN - 1. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
/** The prefix of member slots (src/pg/slot_names.ts SLOT_PREFIX; dcs may not import pg). */
const MEMBER_SLOT_PREFIX = "rg_";
/** Database and output plugin names: identifiers up to NAMEDATALEN - 1 bytes. */
const IDENTIFIER_CHARS_MAX = 63;
const PLUGIN_NAME = /^[A-Za-z0-9_.-]{1,63}$/;
/** Permanent slots per cluster; each one also takes a place in max_replication_slots. */
export const PERMANENT_SLOTS_MAX = 64;
export const IGNORE_SLOTS_MAX = 64;
/** Patroni reads the slots under any of these keys (the first present wins). */
export const SLOTS_KEYS = ["slots", "permanent_slots", "permanent_replication_slots"] as const;

export type PermanentSlot =
  | { readonly name: string; readonly type: "physical" }
  | { readonly name: string; readonly type: "logical"; readonly database: string; readonly plugin: string };

/** One entry of ignore_slots: a slot matches when every field the entry sets is equal. */
export interface SlotMatcher {
  readonly name?: string;
  readonly type?: "physical" | "logical";
  readonly database?: string;
  readonly plugin?: string;
}

/** What syncSlots keeps besides the member slots. */
export interface PermanentSlotsPlan {
  readonly slots: readonly PermanentSlot[];
  readonly ignore: readonly SlotMatcher[];
  /** Declared in an earlier config version, not now, and not ignored: dropped when inactive. */
  readonly retired: readonly string[];
  /** A sentence per entry of the config that was not used, and why. */
  readonly problems: readonly string[];
}

export const NO_PERMANENT_SLOTS: PermanentSlotsPlan = { slots: [], ignore: [], retired: [], problems: [] };

export interface ParsedSlots {
  readonly slots: readonly PermanentSlot[];
  readonly ignore: readonly SlotMatcher[];
  readonly problems: readonly string[];
}

/** The value of the first of SLOTS_KEYS present in `config`, and its key. */
function slotsValue(config: JsonObject): { key: string; value: JsonValue } | null {
  for (const key of SLOTS_KEYS) {
    const value = config[key];
    if (value !== undefined && value !== null) return { key, value };
  }
  return null;
}

export function slotNameProblem(name: string): string | null {
  if (!SLOT_NAME.test(name)) return `slot name ${JSON.stringify(name)} is not a valid replication slot name: use 1 to 63 lower-case letters, digits and underscores`;
  if (name.startsWith(MEMBER_SLOT_PREFIX)) return `slot name ${JSON.stringify(name)} starts with "${MEMBER_SLOT_PREFIX}", the prefix of the slots raftgres keeps for members: choose another name`;
  return null;
}

function textField(entry: JsonObject, field: string): string | null {
  const value = entry[field];
  return typeof value === "string" && value !== "" ? value : null;
}

/**
 * One `slots` entry. As in Patroni, an empty entry is a physical slot, and an entry without a
 * type but with a database and a plugin is a logical one. `cluster_type: standby` (a slot kept only
 * while the cluster is a standby cluster) is not supported: every slot is kept in both kinds.
 */
function parseSlot(key: string, name: string, value: JsonValue): PermanentSlot | string {
  const where = `${key}.${name}`;
  const nameProblem = slotNameProblem(name);
  if (nameProblem !== null) return `${where}: ${nameProblem}`;
  if (value === null) return { name, type: "physical" };
  if (!isJsonObject(value)) return `${where} must be an object such as {type: physical} or {type: logical, database: app, plugin: pgoutput}, not ${JSON.stringify(value)}`;
  const clusterType = value["cluster_type"];
  if (clusterType !== undefined && clusterType !== null && clusterType !== "primary") {
    return `${where}: cluster_type ${JSON.stringify(clusterType)} is not supported (raftgres keeps every permanent slot in normal and standby clusters alike): remove it or use "primary"`;
  }
  const database = textField(value, "database");
  const plugin = textField(value, "plugin");
  const type = value["type"] ?? (database !== null && plugin !== null ? "logical" : "physical");
  if (type === "physical") return { name, type };
  if (type !== "logical") return `${where}: type must be "physical" or "logical", not ${JSON.stringify(type)}`;
  if (database === null || plugin === null) return `${where}: a logical slot needs a database and a plugin (e.g. {type: logical, database: app, plugin: pgoutput})`;
  if (database.length > IDENTIFIER_CHARS_MAX || database.includes("\0")) return `${where}: database ${JSON.stringify(database)} is not a valid database name`;
  if (!PLUGIN_NAME.test(plugin)) return `${where}: plugin ${JSON.stringify(plugin)} is not a valid output plugin name`;
  return { name, type, database, plugin };
}

function parseMatcher(index: number, value: JsonValue): SlotMatcher | string {
  const where = `ignore_slots[${index}]`;
  if (!isJsonObject(value)) return `${where} must be an object such as {name: my_slot}, not ${JSON.stringify(value)}`;
  const matcher: { name?: string; type?: "physical" | "logical"; database?: string; plugin?: string } = {};
  for (const [field, fieldValue] of Object.entries(value)) {
    if (field !== "name" && field !== "type" && field !== "database" && field !== "plugin") return `${where}: unknown field ${JSON.stringify(field)} (use name, type, database, plugin)`;
    if (typeof fieldValue !== "string" || fieldValue === "") return `${where}.${field} must be a non-empty string, not ${JSON.stringify(fieldValue)}`;
    if (field === "type") {
      if (fieldValue !== "physical" && fieldValue !== "logical") return `${where}.type must be "physical" or "logical", not ${JSON.stringify(fieldValue)}`;
      matcher.type = fieldValue;
    } else {
      matcher[field] = fieldValue;
    }
  }
  if (Object.keys(matcher).length === 0) return `${where} matches every slot: name at least one of name, type, database, plugin`;
  return matcher;
}

function parseIgnore(config: JsonObject, problems: string[]): SlotMatcher[] {
  const value = config["ignore_slots"];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(`ignore_slots must be a list such as [{name: my_slot}], not ${JSON.stringify(value)}`);
    return [];
  }
  if (value.length > IGNORE_SLOTS_MAX) problems.push(`ignore_slots has ${value.length} entries; only the first ${IGNORE_SLOTS_MAX} are used`);
  const out: SlotMatcher[] = [];
  value.slice(0, IGNORE_SLOTS_MAX).forEach((entry, index) => {
    const parsed = parseMatcher(index, entry);
    if (typeof parsed === "string") problems.push(parsed);
    else out.push(parsed);
  });
  return out;
}

/** The permanent slots and ignore_slots of a config: what can be used, and why the rest cannot. */
export function parsePermanentSlots(config: JsonObject): ParsedSlots {
  const problems: string[] = [];
  const ignore = parseIgnore(config, problems);
  const found = slotsValue(config);
  if (found === null) return { slots: [], ignore, problems };
  if (!isJsonObject(found.value)) {
    problems.push(`${found.key} must be an object of slot names, such as {backup: {type: physical}}, not ${JSON.stringify(found.value)}`);
    return { slots: [], ignore, problems };
  }
  const entries = Object.entries(found.value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > PERMANENT_SLOTS_MAX) problems.push(`${found.key} declares ${entries.length} slots; only the first ${PERMANENT_SLOTS_MAX} by name are kept`);
  const slots: PermanentSlot[] = [];
  for (const [name, value] of entries.slice(0, PERMANENT_SLOTS_MAX)) {
    const parsed = parseSlot(found.key, name, value);
    if (typeof parsed === "string") problems.push(parsed);
    else slots.push(parsed);
  }
  return { slots, ignore, problems };
}

/** The first problem of the config's slots and ignore_slots, for the DCS to refuse it; null if none. */
export function permanentSlotsProblem(config: JsonObject): string | null {
  return parsePermanentSlots(config).problems[0] ?? null;
}

/** Whether `slot` (as pg_replication_slots shows it) matches an ignore_slots entry. */
export function isIgnored(ignore: readonly SlotMatcher[], slot: { readonly name: string; readonly type: string; readonly database: string | null; readonly plugin: string | null }): boolean {
  return ignore.some((m) =>
    (m.name === undefined || m.name === slot.name) &&
    (m.type === undefined || m.type === slot.type) &&
    (m.database === undefined || m.database === slot.database) &&
    (m.plugin === undefined || m.plugin === slot.plugin));
}

/** Every slot name a config patch of the history declares or removes under one of SLOTS_KEYS. */
function namesInPatch(patch: JsonObject): string[] {
  const out: string[] = [];
  for (const key of SLOTS_KEYS) {
    const value = patch[key];
    if (isJsonObject(value)) out.push(...Object.keys(value));
  }
  return out;
}

/**
 * The plan syncSlots carries out: the slots declared now, and the ones declared in a version of
 * the config the history holds but not now (retired), which raftgres created and may drop.
 * Names that are not valid slot names, member-slot names and ignored names are never retired.
 */
export function permanentSlotsPlan(config: JsonObject, history: readonly ConfigVersion[]): PermanentSlotsPlan {
  const parsed = parsePermanentSlots(config);
  const declared = new Set(parsed.slots.map((s) => s.name));
  const current = slotsValue(config);
  // A declared name with a bad entry is not retired either: fixing the entry must not drop it.
  if (current !== null && isJsonObject(current.value)) for (const name of Object.keys(current.value)) declared.add(name);
  const retired = new Set<string>();
  for (const version of history) {
    for (const name of namesInPatch(version.patch)) {
      if (declared.has(name) || slotNameProblem(name) !== null) continue;
      if (parsed.ignore.some((m) => m.name === name)) continue;
      retired.add(name);
    }
  }
  const plan = { slots: parsed.slots, ignore: parsed.ignore, retired: [...retired].sort(), problems: parsed.problems };
  assert(plan.retired.every((name) => !declared.has(name)), "a retired slot is still declared");
  return plan;
}
