/**
 * The node file's haproxy section: the HAProxy admin sockets the agent pushes role changes to
 * (src/ha/io/haproxy_push.ts), the names of the write and read backends, and each member's
 * server name where it is not the member's own. Absent: no pushes, HAProxy's checks route alone.
 */
import * as E from "fp-ts/lib/Either.js";
import { isValidName } from "../dcs/model.js";
import type { HaproxySettings } from "../ha/io/haproxy_push.js";
import { parseEndpoint, type RuntimeEndpoint, runtimeNameProblem } from "../ha/io/haproxy_runtime.js";
import type { ConfigReader } from "./config_reader.js";

/** HAProxy instances one agent pushes to (two behind a virtual IP is the usual). */
export const HAPROXY_SOCKETS_MAX = 16;
/** Entries of haproxy.servers. */
export const HAPROXY_SERVERS_MAX = 64;
/** One runtime command's time limit, milliseconds. */
export const HAPROXY_TIMEOUT_MS = { min: 50, max: 5000, fallback: 500 } as const;

/** `section` is the haproxy section (its keys checked by config.ts); null when the file has none. */
export function readHaproxy(section: ConfigReader, present: boolean): HaproxySettings | null {
  if (!present) return null;
  section.require("sockets", "HAProxy's admin sockets, e.g. [/run/haproxy/admin.sock] (haproxy.cfg: stats socket /run/haproxy/admin.sock mode 660 level admin)");
  section.require("write_backend", "the name of the backend or listen section of writes in haproxy.cfg, e.g. primary");
  const writeBackend = backendName(section, "write_backend");
  const readBackend = section.has("read_backend") && section.raw()["read_backend"] !== null ? backendName(section, "read_backend") : null;
  if (readBackend !== null && readBackend === writeBackend) section.fail("read_backend", `must differ from write_backend (${writeBackend}): the primary leaves the read pool when it joins the write pool`);
  return {
    sockets: sockets(section),
    writeBackend,
    readBackend,
    servers: servers(section),
    timeoutMs: section.integer("timeout_ms", HAPROXY_TIMEOUT_MS.fallback, HAPROXY_TIMEOUT_MS.min, HAPROXY_TIMEOUT_MS.max),
  };
}

function backendName(section: ConfigReader, key: string): string {
  const name = section.has(key) ? section.string(key) : "";
  const problem = name === "" ? null : runtimeNameProblem(name);
  if (problem !== null) section.fail(key, problem);
  return name;
}

function sockets(section: ConfigReader): RuntimeEndpoint[] {
  if (!section.has("sockets")) return [];
  const list = section.stringList("sockets");
  if (section.hasProblem("sockets")) return [];
  if (list.length === 0 || list.length > HAPROXY_SOCKETS_MAX) {
    section.fail("sockets", `must list 1 to ${HAPROXY_SOCKETS_MAX} admin sockets, got ${list.length}`);
    return [];
  }
  const endpoints: RuntimeEndpoint[] = [];
  for (const text of list) {
    const parsed = parseEndpoint(text);
    if (E.isLeft(parsed)) section.fail("sockets", parsed.left);
    else endpoints.push(parsed.right);
  }
  if (new Set(list).size !== list.length) section.fail("sockets", "names a socket twice");
  return endpoints;
}

function servers(section: ConfigReader): Map<string, string> {
  const out = new Map<string, string>();
  const raw = section.raw()["servers"];
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    section.fail("servers", `must map member names to HAProxy server names (pg1: db1), got ${JSON.stringify(raw)?.slice(0, 60)}`);
    return out;
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > HAPROXY_SERVERS_MAX) section.fail("servers", `has ${entries.length} entries; at most ${HAPROXY_SERVERS_MAX}`);
  for (const [member, server] of entries.slice(0, HAPROXY_SERVERS_MAX)) {
    const problem = !isValidName(member) ? `${JSON.stringify(member)} is not a member name` : typeof server !== "string" ? `the server of ${member} must be a name, got ${JSON.stringify(server)?.slice(0, 60)}` : runtimeNameProblem(server);
    if (problem !== null) section.fail("servers", problem);
    else out.set(member, server as string);
  }
  return out;
}
