/**
 * JSON Merge Patch (RFC 7396), the language of `PATCH /config` and `edit-config`: an object
 * patch merges key by key, a null value deletes the key, anything else replaces the target.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";

export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** The smallest merge patch that turns `from` into `to` (both objects): the diff shown in history. */
export function diffAsMergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const before = from[key];
    if (before === undefined) patch[key] = value;
    else if (isJsonObject(before) && isJsonObject(value)) {
      const inner = diffAsMergePatch(before, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) patch[key] = value;
  }
  return patch;
}
