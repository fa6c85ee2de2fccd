/**
 * postgresql.parameters of a scope's config (or of bootstrap.dcs, which becomes the first
 * config): scalar values only — anything else is not a parameter. Each is checked against
 * PostgreSQL's rules where it is written (src/pg/dynamic_conf.ts).
 */
import type { JsonObject } from "./json.js";

export function postgresParameters(config: JsonObject): Record<string, string | number | boolean> {
  const postgresql = config["postgresql"];
  const parameters = typeof postgresql === "object" && postgresql !== null && !Array.isArray(postgresql) ? postgresql["parameters"] : undefined;
  const out: Record<string, string | number | boolean> = {};
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) return out;
  for (const [name, value] of Object.entries(parameters)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[name] = value;
  }
  return out;
}
