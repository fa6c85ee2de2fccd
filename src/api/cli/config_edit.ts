/**
 * The pure half of edit-config: --set/--pg parsing into a merge patch, and the unified diff of
 * the configuration's YAML before and after, as patronictl shows it before asking.
 */
import { createTwoFilesPatch } from "diff";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { isJsonObject, type JsonObject, type JsonValue } from "../../dcs/json.js";
import { mergePatch } from "../../dcs/merge_patch.js";
import { usageError } from "./exit.js";

/**
 * "a.b.c=value" as a merge patch {a: {b: {c: value}}}. The value is read as a YAML scalar (5 is a
 * number, true a boolean, "on" stays text); an empty value or null deletes the key. Under
 * postgresql.parameters the rest of the key is one parameter name, dots and all
 * (auto_explain.log_min_duration), as patronictl reads it.
 */
export function parseSetting(setting: string, flag = "--set"): JsonObject {
  const equals = setting.indexOf("=");
  if (equals <= 0) throw usageError(`${flag} ${JSON.stringify(setting)}: expected key=value (key.sub=value for nested keys)`);
  let path = setting.slice(0, equals).split(".");
  if (path.some((p) => p === "")) throw usageError(`${flag} ${JSON.stringify(setting)}: the key has an empty part`);
  if (path.length > 3 && path[0] === "postgresql" && path[1] === "parameters") path = [path[0], path[1], path.slice(2).join(".")];
  const value = parseScalar(setting.slice(equals + 1), flag, setting);
  let patch: JsonValue = value;
  for (const key of [...path].reverse()) patch = { [key]: patch };
  return patch as JsonObject;
}

function parseScalar(text: string, flag: string, setting: string): JsonValue {
  if (text.trim() === "") return null;
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error: unknown) {
    throw usageError(`${flag} ${JSON.stringify(setting)}: the value is not valid YAML (${error instanceof Error ? error.message : String(error)})`);
  }
  const json = toJson(value);
  return json === undefined ? text : json;
}

function toJson(value: unknown): JsonValue | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items = value.map(toJson);
    return items.every((i) => i !== undefined) ? (items as JsonValue[]) : undefined;
  }
  if (typeof value === "object") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const j = toJson(v);
      if (j === undefined) return undefined;
      out[k] = j;
    }
    return out;
  }
  return undefined;
}

/** `--pg name=value`: shorthand for --set postgresql.parameters.name=value. */
export function parsePgSetting(setting: string): JsonObject {
  return parseSetting(`postgresql.parameters.${setting}`, "--pg");
}

/** A YAML document that must hold a mapping (--apply, --replace, the edited file). */
export function parseConfigYaml(text: string, source: string): JsonObject {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error: unknown) {
    throw usageError(`${source}: not valid YAML (${error instanceof Error ? error.message : String(error)})`);
  }
  if (value === null || value === undefined) return {};
  const json = toJson(value);
  if (json === undefined || !isJsonObject(json)) throw usageError(`${source}: must be a YAML mapping of configuration keys`);
  return json;
}

/** Applies the patches in order (RFC 7396: null deletes). */
export function applyPatches(config: JsonObject, patches: readonly JsonObject[]): JsonObject {
  let result: JsonValue = config;
  for (const patch of patches) result = mergePatch(result, patch);
  return isJsonObject(result) ? result : {};
}

/** The configuration as edit-config shows and diffs it: YAML with keys sorted. */
export function configYaml(config: JsonObject): string {
  return toYaml(config, { sortMapEntries: true });
}

/** A unified diff of the two YAML texts; empty when they are equal. */
export function configDiff(before: JsonObject, after: JsonObject): string {
  const a = configYaml(before);
  const b = configYaml(after);
  if (a === b) return "";
  return createTwoFilesPatch("before", "after", a, b, undefined, undefined, { context: 3 })
    .split("\n")
    .filter((line) => !line.startsWith("====="))
    .join("\n")
    .trimEnd();
}
