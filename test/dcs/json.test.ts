/**
 * canonicalJson, mergePatch and diffAsMergePatch became iterative (no recursion whose depth a
 * client controls). Their output is replicated state — configs, history patches, snapshots — so
 * it must be exactly what the recursive forms wrote: checked here against those forms, kept as
 * deliberately simple reference implementations, over random JSON (fast-check, seeded).
 */
import fc from "fast-check";
import t from "tap";
import { canonicalJson, isJsonObject, type JsonObject, type JsonValue, sameJsonText } from "../../src/dcs/json.js";
import { diffAsMergePatch, mergePatch } from "../../src/dcs/merge_patch.js";
import { nestedJsonText, nestedObject } from "./wire.js";

// ---- the recursive forms, as they were before issue 12 (the diff with one fix) ------------

function canonicalReference(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalReference).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalReference(value[k]!)}`).join(",")}}`;
}

function mergeReference(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergeReference(result[key] ?? null, value);
  }
  return result;
}

function diffReference(from: JsonObject, to: JsonObject): JsonObject {
  const patch: JsonObject = {};
  // The one change since: own keys only (`key in to` also saw "toString", "constructor" …).
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const before = from[key];
    if (before === undefined) patch[key] = value;
    else if (isJsonObject(before) && isJsonObject(value)) {
      const inner = diffReference(before, value);
      if (Object.keys(inner).length > 0) patch[key] = inner;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) patch[key] = value;
  }
  return patch;
}

// ---- random JSON with few keys, so patches and targets overlap ----------------------------

const key = fc.constantFrom("a", "b", "c", "10", "2", "ttl", "constructor", "toString", "é", "");
const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom<JsonValue>(null, true, false, 0, -0, 1.5, -7, 1e21, "", "x", "\u2028", 'q"\\'),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(key, tie("value"), { maxKeys: 4 }),
  ),
})).value;
const object = fc.dictionary(key, json, { maxKeys: 5 }) as fc.Arbitrary<JsonObject>;

/** JSON.stringify keeps the key order of every object: equal text means equal objects, in order. */
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

t.test("canonicalJson writes, byte for byte, what the recursive form wrote", async (t) => {
  fc.assert(fc.property(json, (value) => canonicalJson(value) === canonicalReference(value)), { seed: 12, numRuns: 3000 });
  fc.assert(fc.property(fc.jsonValue(), (value) => canonicalJson(value as JsonValue) === canonicalReference(value as JsonValue)), { seed: 13, numRuns: 1000 });
  t.equal(canonicalJson({ b: [1, { d: null, c: "x" }], a: {} }), '{"a":{},"b":[1,{"c":"x","d":null}]}');
  t.pass("4,000 random values");
});

t.test("mergePatch builds the recursive form's objects, keys in the same order, and changes neither input", async (t) => {
  fc.assert(fc.property(json, json, (target, patch) => {
    const before = [JSON.stringify(target), JSON.stringify(patch)];
    const merged = mergePatch(target, patch);
    return same(merged, mergeReference(target, patch)) && same([target, patch], before.map((text) => JSON.parse(text) as unknown));
  }), { seed: 14, numRuns: 3000 });
  t.pass("3,000 random pairs");
});

t.test("diffAsMergePatch builds the recursive form's patch, and the patch turns from into to", async (t) => {
  fc.assert(fc.property(object, object, (from, to) => {
    const patch = diffAsMergePatch(from, to);
    // A merge patch cannot write a null (RFC 7396): the round trip holds for values without one.
    const reachable = !JSON.stringify(to).includes("null");
    return same(patch, diffReference(from, to)) && (!reachable || canonicalJson(mergePatch(from, patch)) === canonicalJson(to));
  }), { seed: 15, numRuns: 3000 });
  // Configs that share most of their keys, as consecutive versions do.
  fc.assert(fc.property(object, object, (base, change) => {
    const to = mergePatch(base, change) as JsonObject;
    return same(diffAsMergePatch(base, to), diffReference(base, to));
  }), { seed: 16, numRuns: 3000 });
  t.pass("6,000 random pairs");
});

t.test("sameJsonText is JSON.stringify's equality", async (t) => {
  fc.assert(fc.property(json, json, (a, b) => sameJsonText(a, b) === (JSON.stringify(a) === JSON.stringify(b))), { seed: 17, numRuns: 3000 });
  fc.assert(fc.property(json, (a) => sameJsonText(a, JSON.parse(JSON.stringify(a)) as unknown)), { seed: 18, numRuns: 1000 });
  t.notOk(sameJsonText({ a: 1, b: 2 }, { b: 2, a: 1 }), "key order counts, as it always did in the diff");
});

t.test("none of them recurses: values 100,000 deep do not exhaust the stack", async (t) => {
  const deep = nestedObject(100_000) as JsonObject;
  const other = nestedObject(100_000) as JsonObject;
  t.ok(canonicalJson(deep) === nestedJsonText(100_000), "canonical text");
  t.doesNotThrow(() => mergePatch(deep, other), "merge");
  t.same(diffAsMergePatch(deep, other), {}, "equal deep values differ in nothing");
  t.ok(sameJsonText(deep, other), "and have the same text");
});
