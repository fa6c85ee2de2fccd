/**
 * The bounds every JSON value a client or a peer hands to the cluster state must keep: nesting
 * depth, string and key lengths, items per object or array, values in all. They are checked at
 * the REST edge (a 4xx that names the bound) and again, deterministically, when a command is
 * decoded from the log, so nothing downstream (canonical text, merge patch, diff) ever meets a
 * value whose shape a client chose without limit. The check itself is iterative: its stack is an
 * array, never the call stack (shared/STYLE.md, "no recursion whose depth a client controls").
 *
 * Strings may not hold control characters (U+0000–U+001F except tab, and U+007F): config values
 * end up in PostgreSQL's configuration files, where a newline would start a new setting.
 */
import { assert } from "../lib/assert.js";

export interface JsonBounds {
  /** Containers nested inside each other: `{}` is depth 1, `{"a":{}}` depth 2. */
  readonly depthMax: number;
  /** Characters (UTF-16 code units) of one string value. */
  readonly stringCharsMax: number;
  /** Characters of one object key. */
  readonly keyCharsMax: number;
  /** Keys of one object. */
  readonly keysPerObjectMax: number;
  /** Items of one array. */
  readonly arrayItemsMax: number;
  /** Values in the whole document (every object, array and scalar counts one). */
  readonly valuesMax: number;
  /**
   * Strings may hold control characters: only for values already stored before the rule existed
   * (a snapshot), which must still load; new values never may.
   */
  readonly controlCharactersAllowed?: boolean;
}

/**
 * Bounds of the dynamic configuration (and of every JSON a command carries). The deepest config
 * Patroni knows is four levels (`slots.<name>.<key>`, `postgresql.parameters.<name>`); 16 leaves
 * room for what users nest under their own keys. A restore_command or a long
 * synchronous_standby_names fits well within 8,192 characters.
 */
export const CONFIG_JSON_BOUNDS: JsonBounds = {
  depthMax: 16,
  stringCharsMax: 8192,
  keyCharsMax: 256,
  keysPerObjectMax: 2048,
  arrayItemsMax: 1024,
  valuesMax: 20_000,
};

/**
 * Configs and patches stored before the command bounds existed must still load, so only what
 * keeps the code safe is required of them: a depth far below what recursion in JSON.stringify
 * (the snapshot's own encoding) could meet, sizes an order above the command bounds, and control
 * characters allowed (a new change to a config holding one is refused until it is removed).
 */
export const STATE_JSON_BOUNDS: JsonBounds = {
  depthMax: 64,
  stringCharsMax: 1024 * 1024,
  keyCharsMax: 4096,
  keysPerObjectMax: 65_536,
  arrayItemsMax: 65_536,
  valuesMax: 1_000_000,
  controlCharactersAllowed: true,
};

const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Whether `text` holds a control character (U+0000–U+001F except tab, and U+007F). */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

/** Where a problem was found: `config.postgresql.parameters.work_mem`, `config.slots[2]`. */
function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key.slice(0, 40))}]`;
}

/** The first control character of `text` and where it is: "U+000A at position 3". */
export function describeControlCharacter(text: string): string {
  const found = CONTROL_CHARACTER.exec(text);
  if (found === null) return "none";
  return `U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")} at position ${found.index}`;
}

function scalarProblem(value: unknown, path: string, bounds: JsonBounds): string | null {
  if (value === null || typeof value === "boolean") return null;
  if (typeof value === "number") return Number.isFinite(value) ? null : `${path} is not a finite number`;
  if (typeof value === "string") {
    if (value.length > bounds.stringCharsMax) return `${path} is a string of ${value.length} characters, over the limit of ${bounds.stringCharsMax}`;
    if (bounds.controlCharactersAllowed !== true && CONTROL_CHARACTER.test(value)) return `${path} holds a control character (${describeControlCharacter(value)}); values must be on one line without control characters`;
    return null;
  }
  return `${path} is a ${typeof value}, not a JSON value`;
}

/**
 * The first way `value` breaks `bounds` (naming where and which bound), or null when it keeps
 * them all. `root` names the value in the sentence ("config", "the body").
 */
export function jsonBoundsProblem(value: unknown, bounds: JsonBounds = CONFIG_JSON_BOUNDS, root = "the value"): string | null {
  assert(bounds.depthMax >= 1 && bounds.valuesMax >= 1, "JSON bounds must allow something");
  const stack: { readonly value: unknown; readonly path: string; readonly depth: number }[] = [{ value, path: root, depth: 0 }];
  let values = 0;
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (++values > bounds.valuesMax) return `${root} holds more than ${bounds.valuesMax} values, the limit`;
    const current = item.value;
    if (typeof current !== "object" || current === null) {
      const problem = scalarProblem(current, item.path, bounds);
      if (problem !== null) return problem;
      continue;
    }
    const depth = item.depth + 1;
    if (depth > bounds.depthMax) return `${item.path} is nested ${depth} levels deep, over the limit of ${bounds.depthMax}`;
    if (Array.isArray(current)) {
      if (current.length > bounds.arrayItemsMax) return `${item.path} is a list of ${current.length} items, over the limit of ${bounds.arrayItemsMax}`;
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: childPath(item.path, i), depth });
      continue;
    }
    const prototype = Object.getPrototypeOf(current) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return `${item.path} is not a plain JSON object`;
    const keys = Object.keys(current);
    if (keys.length > bounds.keysPerObjectMax) return `${item.path} has ${keys.length} keys, over the limit of ${bounds.keysPerObjectMax}`;
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (key.length > bounds.keyCharsMax) return `${item.path} has a key of ${key.length} characters, over the limit of ${bounds.keyCharsMax}`;
      if (key === "" || CONTROL_CHARACTER.test(key)) return `${item.path} has a key ${JSON.stringify(key.slice(0, 40))} that is empty or holds a control character`;
      // Assigning it would replace an object's prototype in the merge patch instead of adding a key.
      if (key === "__proto__") return `${item.path} has the key "__proto__", which is not allowed`;
      stack.push({ value: (current as Record<string, unknown>)[key], path: childPath(item.path, key), depth });
    }
  }
  return null;
}
