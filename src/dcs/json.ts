/**
 * JSON values as the dynamic configuration holds them, with a canonical text form (sorted keys)
 * so every node that folds the same events produces byte-identical state.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text to write as it is, told apart from a JSON string value waiting to be written. */
class Literal {
  constructor(readonly text: string) {}
}

/**
 * JSON text with object keys sorted at every level. Iterative — its stack is an array, so no
 * value, however deep, can exhaust the call stack (shared/STYLE.md) — and byte for byte what the
 * recursive form `{"a":…,"b":…}` / `[…,…]` with JSON.stringify for scalars and keys wrote, which
 * snapshots, events and transcripts depend on.
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const out: string[] = [];
  const work: (JsonValue | Literal)[] = [value];
  while (work.length > 0) {
    const item = work.pop()!;
    if (item instanceof Literal) {
      out.push(item.text);
    } else if (item === null || typeof item !== "object") {
      out.push(JSON.stringify(item));
    } else if (Array.isArray(item)) {
      // Pushed in reverse: the last thing pushed is written first.
      work.push(new Literal("]"));
      for (let i = item.length - 1; i >= 0; i--) {
        work.push(item[i]!);
        if (i > 0) work.push(new Literal(","));
      }
      work.push(new Literal("["));
    } else {
      const keys = Object.keys(item).sort();
      work.push(new Literal("}"));
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        work.push(item[key]!, new Literal(`${i > 0 ? "," : ""}${JSON.stringify(key)}:`));
      }
      work.push(new Literal("{"));
    }
  }
  return out.join("");
}

/**
 * Whether JSON.stringify would write the same text for `a` and `b` (object keys in their own
 * order, not sorted), without recursion: the diff of two configs has always compared so, and a
 * diff is part of the replicated state.
 */
export function sameJsonText(a: unknown, b: unknown): boolean {
  const pairs: [unknown, unknown][] = [[a, b]];
  while (pairs.length > 0) {
    const [x, y] = pairs.pop()!;
    const xContainer = typeof x === "object" && x !== null;
    const yContainer = typeof y === "object" && y !== null;
    if (!xContainer || !yContainer) {
      // A container's text starts with { or [, a scalar's never does.
      if (xContainer !== yContainer || JSON.stringify(x) !== JSON.stringify(y)) return false;
      continue;
    }
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const ys = y as unknown[];
      if (x.length !== ys.length) return false;
      for (let i = 0; i < x.length; i++) pairs.push([x[i], ys[i]]);
      continue;
    }
    const xs = x as Record<string, unknown>;
    const ysObject = y as Record<string, unknown>;
    const xKeys = Object.keys(xs);
    const yKeys = Object.keys(ysObject);
    if (xKeys.length !== yKeys.length) return false;
    for (let i = 0; i < xKeys.length; i++) {
      if (xKeys[i] !== yKeys[i]) return false;
      pairs.push([xs[xKeys[i]!], ysObject[yKeys[i]!]]);
    }
  }
  return true;
}

/** Parses JSON text that must be an object; a reason otherwise. */
export function parseJsonObject(text: string): { ok: true; value: JsonObject } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    return { ok: false, reason: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  return isJsonObject(value) ? { ok: true, value } : { ok: false, reason: "the JSON is not an object" };
}
