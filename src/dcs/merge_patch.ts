/**
 * JSON Merge Patch (RFC 7396), the language of `PATCH /config` and `edit-config`: an object
 * patch merges key by key, a null value deletes the key, anything else replaces the target.
 *
 * Both functions are iterative (their stacks are arrays): a config's depth is bounded where it
 * enters (command_bounds.ts), but no value, however deep, can exhaust the call stack here, whose
 * size differs from node to node (shared/STYLE.md, "no recursion whose depth a client controls").
 * Each builds exactly the objects — keys in the same order — that the recursive definition does,
 * since configs and diffs are replicated state (but for one fix: see "Own keys only" below).
 */
import { isJsonObject, type JsonObject, type JsonValue, sameJsonText } from "./json.js";

/** The result of merging `patch` into `target`; neither is changed (the result may share their values). */
export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const root: JsonObject = isJsonObject(target) ? { ...target } : {};
  const work: { readonly result: JsonObject; readonly patch: JsonObject }[] = [{ result: root, patch }];
  while (work.length > 0) {
    const { result, patch: current } = work.pop()!;
    for (const [key, value] of Object.entries(current)) {
      if (value === null) {
        delete result[key];
      } else if (!isJsonObject(value)) {
        result[key] = value;
      } else {
        // The child's object takes its key's place now and is filled in later: the key order is
        // the recursive one, where the child was assigned once merged.
        const before = result[key] ?? null;
        const child: JsonObject = isJsonObject(before) ? { ...before } : {};
        result[key] = child;
        work.push({ result: child, patch: value });
      }
    }
  }
  return root;
}

/** The smallest merge patch that turns `from` into `to` (both objects): the diff shown in history. */
export function diffAsMergePatch(from: JsonObject, to: JsonObject): JsonObject {
  const root: JsonObject = {};
  const work: { readonly from: JsonObject; readonly to: JsonObject; readonly patch: JsonObject }[] = [{ from, to, patch: root }];
  // Every inner patch, in the order made: a parent is always made before its children.
  const inner: { readonly parent: JsonObject; readonly key: string; readonly patch: JsonObject }[] = [];
  while (work.length > 0) {
    const { from: before, to: after, patch } = work.pop()!;
    // Own keys only: `key in after` also found Object.prototype's ("toString", "constructor"), so
    // replacing {"toString": 1} by {} changed nothing.
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) patch[key] = null;
    for (const [key, value] of Object.entries(after)) {
      const old = before[key];
      if (old === undefined) {
        patch[key] = value;
      } else if (isJsonObject(old) && isJsonObject(value)) {
        const child: JsonObject = {};
        patch[key] = child;
        inner.push({ parent: patch, key, patch: child });
        work.push({ from: old, to: value, patch: child });
      } else if (!sameJsonText(old, value)) {
        patch[key] = value;
      }
    }
  }
  // Children before parents: an inner patch left empty is dropped, which may leave its parent empty.
  for (let i = inner.length - 1; i >= 0; i--) {
    const { parent, key, patch } = inner[i]!;
    if (Object.keys(patch).length === 0) delete parent[key];
  }
  return root;
}
