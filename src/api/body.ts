/**
 * Request bodies: the API's routes receive the raw text (so a malformed body gets a sentence, not
 * a framework error) and read it here as a JSON object.
 */
import { either as E } from "fp-ts";
import { isJsonObject, type JsonObject } from "../dcs/json.js";
import { apiError, type ApiError } from "./errors.js";

/** The body as a JSON object; an absent or empty body is `{}` when `optional`, refused otherwise. */
export function readJsonObject(body: unknown, optional: boolean): E.Either<ApiError, JsonObject> {
  const text = typeof body === "string" ? body : "";
  if (text.trim() === "") {
    return optional ? E.right({}) : E.left(apiError("badRequest", "the request needs a JSON object as its body, and it has none"));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    return E.left(apiError("badRequest", `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`));
  }
  if (!isJsonObject(value)) return E.left(apiError("badRequest", `the body must be a JSON object, not ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}`));
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
