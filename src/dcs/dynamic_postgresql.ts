/**
 * The cluster-wide PostgreSQL settings of the dynamic config that are not parameters:
 * `postgresql.pg_hba`, `postgresql.use_pg_rewind` and `postgresql.use_slots`, where Patroni's own
 * sample puts them (bootstrap.dcs.postgresql …) and edit-config changes them. Pure.
 *
 * Patroni's precedence (docs/patroni_configuration.rst: the local file "takes precedence over
 * dynamic configuration"): a node.yml that sets one of them wins over the cluster's value; the
 * resolution is in src/ha/settings.ts (the switches) and src/pg/hba.ts (the lines).
 *
 * The edges (PATCH/PUT /config, bootstrap.dcs and node.yml's own lists) refuse a value these
 * checks find wrong, naming the key. A value stored before the checks existed is read as unset
 * here, and the agent says so: one bad pg_hba line would make PostgreSQL refuse the whole file.
 */
import { isJsonObject, type JsonObject } from "./json.js";

/** The most pg_hba lines a list may have (the cluster's, node.yml's, bootstrap.pg_hba). */
export const PG_HBA_LINES_MAX = 256;
/** The longest pg_hba line (an LDAP line with a search filter fits many times over). */
export const PG_HBA_LINE_CHARS_MAX = 1024;
/** How many bad lines one sentence names; the rest are counted. */
const LINE_PROBLEMS_SHOWN = 5;

/** PostgreSQL 15's record types (pg_hba.conf, "The pg_hba.conf File"). */
const HBA_TYPES = ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"];
/** PostgreSQL 15's authentication methods ("Authentication Methods"). */
const HBA_METHODS = ["trust", "reject", "scram-sha-256", "md5", "password", "gss", "sspi", "ident", "peer", "ldap", "radius", "cert", "pam", "bsd"];
/** A field that may be an IP address or mask (the address field's mask is a separate field then). */
const ADDRESS_LIKE = /^[0-9A-Fa-f:.]+$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
/** One line: tabs separate fields, every other control character would end or split the line. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export type DynamicSwitch = "use_pg_rewind" | "use_slots";

function quoted(line: string): string {
  const text = JSON.stringify(line);
  return text.length > 60 ? `${text.slice(0, 57)}…"` : text;
}

/**
 * The fields of one line as PostgreSQL's tokenizer splits them: blanks separate, double quotes
 * keep blanks inside a field, `#` outside quotes starts a comment. Null for an unterminated quote.
 * The loop is bounded by the line's length, checked before.
 */
export function hbaFields(line: string): string[] | null {
  const fields: string[] = [];
  let current = "";
  let quote = false;
  for (const ch of line) {
    if (quote) {
      current += ch;
      if (ch === '"') quote = false;
      continue;
    }
    if (ch === "#") break;
    if (ch === " " || ch === "\t") {
      if (current !== "") fields.push(current);
      current = "";
      continue;
    }
    if (ch === '"') quote = true;
    current += ch;
  }
  if (quote) return null;
  if (current !== "") fields.push(current);
  return fields;
}

/**
 * What is wrong with one pg_hba line, as a phrase that follows the line ("… has no
 * authentication method"), or null. Plausible means: the shape PostgreSQL 15 parses — a record
 * type, a database, a user, an address for the host types (and a mask when the address is a bare
 * IP), a known method, then NAME=VALUE options. A blank or comment line is harmless and passes.
 */
export function hbaLineProblem(line: string): string | null {
  if (line.length > PG_HBA_LINE_CHARS_MAX) return `is longer than ${PG_HBA_LINE_CHARS_MAX} characters`;
  if (CONTROL.test(line)) return "has a control character: each entry is one line";
  const fields = hbaFields(line);
  if (fields === null) return "has an unterminated double quote";
  if (fields.length === 0) return null;
  const type = fields[0]!;
  if (!HBA_TYPES.includes(type)) return `starts with "${type.slice(0, 20)}", which is no record type (${HBA_TYPES.join(", ")})`;
  const local = type === "local";
  const shape = local ? "local DATABASE USER METHOD [OPTIONS]" : `${type} DATABASE USER ADDRESS METHOD [OPTIONS]`;
  // PostgreSQL reads an address that is a bare IP with its mask from the next field.
  const address = local ? "" : (fields[3] ?? "");
  const bareIp = IPV4.test(address) || (address.includes(":") && ADDRESS_LIKE.test(address));
  if (bareIp && !ADDRESS_LIKE.test(fields[4] ?? "")) return `gives the IP address ${address} with neither a /prefix nor a mask field (${type} DATABASE USER IP MASK METHOD)`;
  const methodAt = local ? 3 : bareIp ? 5 : 4;
  const method = fields[methodAt];
  if (method === undefined) return `has no authentication method (${shape})`;
  if (!HBA_METHODS.includes(method)) return `has "${method.slice(0, 30)}" where the authentication method goes (${shape}; methods: ${HBA_METHODS.join(", ")})`;
  const option = fields.slice(methodAt + 1).find((field) => !/^[A-Za-z_]+=./.test(field));
  return option === undefined ? null : `has "${option.slice(0, 30)}" after the method, where only NAME=VALUE options go`;
}

/** What is wrong with a list of pg_hba lines stored under `key`, naming each bad line; null when none. */
export function pgHbaProblem(value: unknown, key: string): string | null {
  if (!Array.isArray(value)) return `${key} must be a list of pg_hba.conf lines, got ${value === null ? "null" : typeof value}`;
  if (value.length > PG_HBA_LINES_MAX) return `${key} has ${value.length} lines, more than the ${PG_HBA_LINES_MAX} allowed`;
  const problems: string[] = [];
  value.forEach((line: unknown, index) => {
    const problem = typeof line === "string" ? hbaLineProblem(line) : `must be a string (one line), got ${line === null ? "null" : typeof line}`;
    if (problem !== null) problems.push(`${key}[${index}]: ${typeof line === "string" ? `${quoted(line)} ` : ""}${problem}`);
  });
  if (problems.length === 0) return null;
  const more = problems.length > LINE_PROBLEMS_SHOWN ? `; and ${problems.length - LINE_PROBLEMS_SHOWN} more lines` : "";
  return problems.slice(0, LINE_PROBLEMS_SHOWN).join("; ") + more;
}

function postgresqlSection(config: JsonObject): JsonObject | null {
  const section = config["postgresql"];
  return isJsonObject(section) ? section : null;
}

/** The config's postgresql.pg_hba when it is a valid list; null when unset, null or not valid. */
export function dynamicPgHba(config: JsonObject): readonly string[] | null {
  const value = postgresqlSection(config)?.["pg_hba"];
  if (value === undefined || value === null || pgHbaProblem(value, "postgresql.pg_hba") !== null) return null;
  return value as string[];
}

/** The config's postgresql.use_pg_rewind or use_slots when it is a boolean; null otherwise. */
export function dynamicSwitch(config: JsonObject, key: DynamicSwitch): boolean | null {
  const value = postgresqlSection(config)?.[key];
  return typeof value === "boolean" ? value : null;
}

/**
 * Every problem of these three keys in a config (bootstrap.dcs, or a stored one the agent reads),
 * each sentence starting with the key. Null values count as unset (a merge patch deletes with null).
 */
export function dynamicPostgresqlProblems(config: JsonObject): string[] {
  const section = postgresqlSection(config);
  if (section === null) return [];
  const problems: string[] = [];
  const hba = section["pg_hba"];
  if (hba !== undefined && hba !== null) {
    const problem = pgHbaProblem(hba, "postgresql.pg_hba");
    if (problem !== null) problems.push(problem);
  }
  for (const key of ["use_pg_rewind", "use_slots"] as const) {
    const value = section[key];
    if (value !== undefined && value !== null && typeof value !== "boolean") problems.push(`postgresql.${key} must be true or false, got ${JSON.stringify(value).slice(0, 60)}`);
  }
  return problems;
}
