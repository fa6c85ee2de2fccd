/**
 * Request bodies: one reader for every route. The routes receive the raw text (so a malformed body
 * gets a sentence, not a framework error) and `readBody` turns it into a JSON object in three
 * steps, each refused with a 400 that names what is wrong and the limit or rule:
 *
 * 1. a scan of the text for brackets nested beyond the depth limit, then JSON.parse (V8's parser
 *    keeps its own stack; the text is at most API_BODY_BYTES_MAX bytes);
 * 2. the bounds of every JSON the cluster state takes (src/dcs/json_bounds.ts: depth, sizes,
 *    control characters, "__proto__"), checked iteratively before anything walks the value;
 * 3. the route's schema: the keys it knows, each with a rule for its type and range. A key the
 *    route does not know is refused naming the known ones (a typo must not be silently ignored).
 *    Every problem of the body is reported at once.
 *
 * What a value means against the cluster (is "pg9" a member?) is checked by the route after this.
 */
import * as E from "fp-ts/lib/Either.js";
import { isJsonObject, type JsonObject } from "../dcs/json.js";
import { CONFIG_JSON_BOUNDS, jsonBoundsProblem } from "../dcs/json_bounds.js";
import { isValidName } from "../dcs/model.js";
import { apiError, type ApiError } from "./errors.js";

/** Null when `value` is acceptable for `key`; otherwise a sentence naming the key and the rule. */
export type FieldRule = (value: unknown, key: string) => string | null;

export interface BodySchema {
  /** The request, as sentences name it: "POST /restart". */
  readonly route: string;
  /** The keys the body may carry and their rules; "open" leaves the keys to the route (a config). */
  readonly fields: Readonly<Record<string, FieldRule>> | "open";
  /** An absent or empty body reads as `{}`. */
  readonly optional: boolean;
}

/** The schema of a route whose body, if any, carries nothing: empty or `{}`. */
export function noKeys(route: string): BodySchema {
  return { route, optional: true, fields: {} };
}

/** A value as a sentence shows it: JSON, cut to 60 characters. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether brackets outside strings nest deeper than `depthMax` in `text`: one pass over the
 * characters, so a megabyte of "[[[[" is refused in milliseconds rather than parsed into half a
 * million arrays (half a second on the event loop the Raft node shares) and then refused.
 */
function nestingBeyond(text: string, depthMax: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > depthMax) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

function parse(body: unknown, schema: BodySchema): E.Either<ApiError, unknown> {
  const text = typeof body === "string" ? body : "";
  if (text.trim() === "") {
    return schema.optional ? E.right({}) : E.left(apiError("badRequest", `${schema.route} needs a JSON object as its body, and it has none`));
  }
  const deep = nestingBeyond(text, CONFIG_JSON_BOUNDS.depthMax);
  if (deep) return E.left(apiError("badRequest", `${schema.route} refused: the body is nested more than ${CONFIG_JSON_BOUNDS.depthMax} levels deep, over the limit of ${CONFIG_JSON_BOUNDS.depthMax}`));
  try {
    return E.right(JSON.parse(text) as unknown);
  } catch (error: unknown) {
    return E.left(apiError("badRequest", `the body of ${schema.route} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`));
  }
}

function keyProblems(body: JsonObject, fields: Readonly<Record<string, FieldRule>>): string[] {
  const known = Object.keys(fields);
  const unknown = Object.keys(body).filter((key) => !Object.hasOwn(fields, key));
  const problems: string[] = [];
  if (unknown.length > 0) {
    const names = unknown.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 40))).join(", ") + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : "");
    problems.push(known.length === 0
      ? `its body takes no keys (send none, or {}), got ${names}`
      : `the body has the unknown key${unknown.length === 1 ? "" : "s"} ${names} (known: ${known.join(", ")})`);
  }
  for (const key of known) {
    const value = body[key];
    if (value === undefined) continue;
    const problem = fields[key]!(value, key);
    if (problem !== null) problems.push(problem);
  }
  return problems;
}

/** The body as a JSON object that keeps the bounds and the route's schema, or a 400 saying why not. */
export function readBody(body: unknown, schema: BodySchema): E.Either<ApiError, JsonObject> {
  const parsed = parse(body, schema);
  if (E.isLeft(parsed)) return parsed;
  const value = parsed.right;
  const bounds = jsonBoundsProblem(value, CONFIG_JSON_BOUNDS, "the body");
  if (bounds !== null) return E.left(apiError("badRequest", `${schema.route} refused: ${bounds}`));
  if (!isJsonObject(value)) return E.left(apiError("badRequest", `the body of ${schema.route} must be a JSON object, not ${kindOf(value)}`));
  if (schema.fields === "open") return E.right(value);
  const problems = keyProblems(value, schema.fields);
  if (problems.length > 0) return E.left(apiError("badRequest", `${schema.route} refused: ${problems.join("; ")}`));
  return E.right(value);
}

/** Patroni's parse_bool: true, "true", "on", "yes", "1" (any case) and the false words. */
export function parseBool(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : null;
  if (typeof value !== "string") return null;
  const word = value.trim().toLowerCase();
  if (["true", "on", "yes", "1", "y", "t"].includes(word)) return true;
  if (["false", "off", "no", "0", "n", "f"].includes(word)) return false;
  return null;
}

/** Rules the routes' schemas are made of. */
export const rule = {
  /** A member (or Raft node) name; with `noneAllowed`, null and "" mean "none" (Patroni's switchover). */
  memberName(noneAllowed: boolean): FieldRule {
    return (value, key) => {
      if (noneAllowed && (value === null || value === "")) return null;
      if (typeof value !== "string") return `${key} must be a member name (a string), not ${shown(value)}`;
      if (!isValidName(value)) return `${key} ${shown(value)} is not a valid member name (letters, digits, '_', '.', '-', at most 63)`;
      return null;
    };
  },
  /** true or false only. */
  boolean: ((value, key) => (typeof value === "boolean" ? null : `${key} must be true or false, not ${shown(value)}`)) as FieldRule,
  /** Patroni's words for true and false (parseBool). */
  patroniBool: ((value, key) => (parseBool(value) !== null ? null : `${key} must be true or false (or on/off, yes/no, 1/0), not ${shown(value)}`)) as FieldRule,
  /** One of `values`. */
  oneOf(values: readonly string[]): FieldRule {
    return (value, key) => (typeof value === "string" && values.includes(value) ? null : `${key} must be one of ${values.join(", ")}, not ${shown(value)}`);
  },
  /** A string of 1 to `charsMax` characters, or null when `nullable`. */
  text(charsMax: number, nullable = false): FieldRule {
    return (value, key) => {
      if (nullable && value === null) return null;
      if (typeof value !== "string" || value.length === 0 || value.length > charsMax) return `${key} must be a string of 1 to ${charsMax} characters, not ${shown(value)}`;
      return null;
    };
  },
  /** Anything the bounds allow: the route reads it itself (its own sentence, its own status). */
  any: ((): null => null) as FieldRule,
} as const;
