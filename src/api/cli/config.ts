/**
 * Where the CLI connects and with which credentials, from (first wins):
 *   URLs:        --url (repeatable, or a comma list) · RAFTGRES_URL · -c node.yml's
 *                restapi.connect_address, else restapi.listen, then the other members' URLs
 *                its agent keeps beside its Raft log (member_urls_file.ts)
 *   credentials: --username/--password · RAFTGRES_USERNAME/RAFTGRES_PASSWORD ·
 *                ctl.authentication · restapi.authentication (as patronictl falls back)
 *   TLS:         -k/--insecure or ctl.insecure; ctl.cacert, else restapi.cafile
 * The node file is read loosely: the agent validates it; the CLI takes only what it needs.
 */
import { parse as parseYaml } from "yaml";
import { isJsonObject, type JsonObject } from "../../dcs/json.js";
import { usageError } from "./exit.js";
import type { Connection, Credentials } from "./http.js";
import { readMemberUrls } from "./member_urls_file.js";

export interface ConnectionFlags {
  readonly url?: readonly string[] | undefined;
  readonly config?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly insecure?: boolean | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadFile = (path: string) => string;

export function resolveConnection(flags: ConnectionFlags, env: Env, readFile: ReadFile): Connection {
  const configPath = flags.config ?? env["RAFTGRES_CONFIG"];
  const file = configPath === undefined ? null : readNodeFile(configPath, readFile);
  const urls = splitUrls(flags.url ?? []);
  if (urls.length === 0 && env["RAFTGRES_URL"] !== undefined) urls.push(...splitUrls([env["RAFTGRES_URL"]]));
  if (urls.length === 0 && file !== null) urls.push(...urlFromNodeFile(file, configPath!), ...otherMembers(file, readFile));
  if (urls.length === 0) throw usageError("no node to talk to: pass --url http://host:port, -c node.yml, or set RAFTGRES_URL");
  const caPath = file === null ? null : (stringAt(file, ["ctl", "cacert"]) ?? stringAt(file, ["restapi", "cafile"]));
  return {
    urls: [...new Set(urls.map((u) => checkUrl(u)))],
    auth: credentials(flags, env, file),
    insecure: flags.insecure === true || (file !== null && valueAt(file, ["ctl", "insecure"]) === true),
    caCert: caPath === null ? null : readOrFail(caPath, "the CA certificate", readFile),
  };
}

function splitUrls(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
}

function checkUrl(url: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw usageError(`--url ${JSON.stringify(url)} is not a URL (expected http://host:port)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw usageError(`--url ${JSON.stringify(url)}: only http:// and https:// are supported`);
  return parsed.origin;
}

function readOrFail(path: string, what: string, readFile: ReadFile): string {
  try {
    return readFile(path);
  } catch (error: unknown) {
    throw usageError(`cannot read ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A string setting of the node file named by -c or RAFTGRES_CONFIG; null without one or without it. */
export function nodeFileString(flags: ConnectionFlags, env: Env, readFile: ReadFile, path: readonly string[]): string | null {
  const configPath = flags.config ?? env["RAFTGRES_CONFIG"];
  return configPath === undefined ? null : stringAt(readNodeFile(configPath, readFile), path);
}

function readNodeFile(path: string, readFile: ReadFile): JsonObject {
  const text = readOrFail(path, "the configuration", readFile);
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error: unknown) {
    throw usageError(`${path}: not valid YAML (${error instanceof Error ? error.message : String(error)})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isJsonObject(parsed)) throw usageError(`${path}: must be a mapping of keys to values`);
  return parsed;
}

function valueAt(file: JsonObject, path: readonly string[]): unknown {
  let here: unknown = file;
  for (const key of path) here = isJsonObject(here) ? here[key] : undefined;
  return here;
}

function stringAt(file: JsonObject, path: readonly string[]): string | null {
  const value = valueAt(file, path);
  return typeof value === "string" && value !== "" ? value : null;
}

/** A wildcard listen address is not somewhere to connect to: use the loopback address instead. */
function urlFromNodeFile(file: JsonObject, path: string): string[] {
  const address = stringAt(file, ["restapi", "connect_address"]) ?? stringAt(file, ["restapi", "listen"]);
  if (address === null) throw usageError(`${path}: has neither restapi.connect_address nor restapi.listen`);
  const match = /^(.*):(\d+)$/.exec(address);
  if (match === null) throw usageError(`${path}: restapi address ${JSON.stringify(address)} is not host:port`);
  let host = match[1]!;
  if (host === "" || host === "0.0.0.0" || host === "::" || host === "[::]" || host === "*") host = "127.0.0.1";
  const scheme = stringAt(file, ["restapi", "certfile"]) === null ? "http" : "https";
  return [`${scheme}://${host}:${match[2]!}`];
}

/**
 * The other members' REST URLs, as the agent of this node.yml last saw them (member_urls_file.ts):
 * tried after this node's own, so the CLI works when this agent is down.
 */
function otherMembers(file: JsonObject, readFile: ReadFile): string[] {
  const raftDataDir = stringAt(file, ["raft", "data_dir"]);
  return raftDataDir === null ? [] : readMemberUrls(raftDataDir, stringAt(file, ["scope"]), readFile);
}

function credentials(flags: ConnectionFlags, env: Env, file: JsonObject | null): Credentials | null {
  const username = flags.username ?? env["RAFTGRES_USERNAME"];
  const password = flags.password ?? env["RAFTGRES_PASSWORD"];
  if (username !== undefined || password !== undefined) return { username: username ?? "", password: password ?? "" };
  for (const section of ["ctl", "restapi"]) {
    const user = file === null ? null : stringAt(file, [section, "authentication", "username"]);
    if (user !== null) return { username: user, password: stringAt(file!, [section, "authentication", "password"]) ?? "" };
  }
  return null;
}
