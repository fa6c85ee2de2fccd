/**
 * The `pgbouncer` section of node.yml: the pgbouncer instances in front of this cluster, paused
 * through a planned switchover so that clients wait instead of failing (issue 16, item 2), and
 * optionally kept pointed at the primary through a databases file they include. Every key is
 * checked, every problem named as `FILE: KEY: problem`.
 *
 *   pgbouncer:
 *     admin: { username: raftgres, password: … }   # a user in pgbouncer's admin_users
 *     instances:
 *       - name: app1                                # optional; default host:port
 *         address: 10.0.0.5:6432
 *         databases_file: /etc/pgbouncer/raftgres_databases.ini   # optional
 *     databases:                                    # pgbouncer database → its other settings
 *       appdb: dbname=appdb pool_size=20
 *     pause_wait_ms: 5000       # how long PAUSE waits for transactions in flight
 *     pause_max_ms: 30000       # no pause by this agent lasts longer
 *     command_timeout_ms: 2000  # RESUME, RELOAD
 */
import { type PgbouncerTarget, PGBOUNCER_DATABASE_PATTERN } from "../pg/pgbouncer_admin.js";
import { ConfigReader } from "./config_reader.js";

export interface PgbouncerInstance {
  readonly target: PgbouncerTarget;
  /** The file of database definitions this agent rewrites for the primary, or null (a stable address routes). */
  readonly databasesFile: string | null;
}

export interface PgbouncerSettings {
  readonly instances: readonly PgbouncerInstance[];
  /** pgbouncer database name → the rest of its definition (host and port are the primary's). */
  readonly databases: ReadonlyMap<string, string>;
  readonly pauseWaitMs: number;
  readonly pauseMaxMs: number;
  readonly commandTimeoutMs: number;
}

export const PGBOUNCER_INSTANCES_MAX = 16;
export const PGBOUNCER_DATABASES_MAX = 32;
/** A database's settings in the file: one line, well under pgbouncer's line limit. */
export const PGBOUNCER_DATABASE_SETTINGS_CHARS_MAX = 512;
export const PGBOUNCER_DEFAULTS = { pauseWaitMs: 5_000, pauseMaxMs: 30_000, commandTimeoutMs: 2_000 } as const;

/**
 * The keys a database definition may carry besides host and port (pgbouncer(5), "Section
 * [databases]"); host and port are the primary's, written by the agent.
 */
const DATABASE_KEYS = ["dbname", "user", "password", "auth_user", "pool_size", "min_pool_size", "reserve_pool", "connect_query", "pool_mode", "max_db_connections", "client_encoding", "datestyle", "timezone", "application_name"];

/** The section, or null when node.yml has none. */
export function readPgbouncer(root: ConfigReader): PgbouncerSettings | null {
  if (!root.has("pgbouncer")) return null;
  const section = root.optionalSection("pgbouncer", ["admin", "instances", "databases", "pause_wait_ms", "pause_max_ms", "command_timeout_ms"]);
  const admin = section.credentials("admin");
  const instances = readInstances(section, admin);
  const databases = readDatabases(section);
  const pauseWaitMs = section.integer("pause_wait_ms", PGBOUNCER_DEFAULTS.pauseWaitMs, 100, 60_000);
  const pauseMaxMs = section.integer("pause_max_ms", PGBOUNCER_DEFAULTS.pauseMaxMs, 1_000, 600_000);
  const commandTimeoutMs = section.integer("command_timeout_ms", PGBOUNCER_DEFAULTS.commandTimeoutMs, 100, 30_000);
  // The bound must leave the switchover time to happen after the pause completed.
  if (!section.hasProblem("pause_max_ms") && !section.hasProblem("pause_wait_ms") && pauseMaxMs < pauseWaitMs + 1_000) {
    section.fail("pause_max_ms", `must be at least pause_wait_ms + 1000 (${pauseWaitMs + 1_000}), got ${pauseMaxMs}: the switchover happens after the pause is complete`);
  }
  return { instances, databases, pauseWaitMs, pauseMaxMs, commandTimeoutMs };
}

function readInstances(section: ConfigReader, admin: { username: string; password: string }): PgbouncerInstance[] {
  const raw = section.raw()["instances"];
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > PGBOUNCER_INSTANCES_MAX) {
    section.fail("instances", `must be a list of 1 to ${PGBOUNCER_INSTANCES_MAX} pgbouncers, each {address: host:port}, got ${JSON.stringify(raw)?.slice(0, 80) ?? "nothing"}`);
    return [];
  }
  const out: PgbouncerInstance[] = [];
  const names = new Set<string>();
  raw.forEach((value: unknown, index) => {
    const key = `instances[${index}]`;
    const instance = new ConfigReader(value, section.file, section.keyPath(key), section.warnings, section.problems);
    instance.only(["name", "address", "databases_file"]);
    const address = instance.hostPort("address");
    const name = instance.optionalName("name") ?? `${address.host}:${address.port}`;
    if (names.has(name)) instance.fail("name", `${JSON.stringify(name)} names another instance too; give each its own name`);
    names.add(name);
    out.push({ target: { name, host: address.host, port: address.port, username: admin.username, password: admin.password }, databasesFile: instance.optionalPath("databases_file") });
  });
  return out;
}

function readDatabases(section: ConfigReader): Map<string, string> {
  const out = new Map<string, string>();
  const raw = section.raw()["databases"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0 || Object.keys(raw).length > PGBOUNCER_DATABASES_MAX) {
    section.fail("databases", `must map 1 to ${PGBOUNCER_DATABASES_MAX} pgbouncer database names to their settings (e.g. appdb: dbname=appdb); they are paused and resumed by name`);
    return out;
  }
  const databases = section.optionalSection("databases", Object.keys(raw));
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!PGBOUNCER_DATABASE_PATTERN.test(name)) {
      databases.fail(name, "may hold letters, digits, '_', '.', '-' (at most 63, starting with a letter, digit or '_'); pgbouncer's fallback database * cannot be paused by name");
      continue;
    }
    const settings = value === null ? "" : value;
    const problem = typeof settings === "string" ? settingsProblem(settings) : `must be a string of key=value settings, got ${JSON.stringify(value)?.slice(0, 80)}`;
    if (problem !== null) databases.fail(name, problem);
    else out.set(name, settings as string);
  }
  return out;
}

/** Why `settings` cannot follow `host=… port=…` on a database's line, or null. */
function settingsProblem(settings: string): string | null {
  if (settings.length > PGBOUNCER_DATABASE_SETTINGS_CHARS_MAX) return `must be at most ${PGBOUNCER_DATABASE_SETTINGS_CHARS_MAX} characters, got ${settings.length}`;
  for (const token of settings.split(/\s+/).filter((t) => t !== "")) {
    const match = /^([a-z_]+)=([^\s'"=;%]+)$/.exec(token);
    if (match === null) return `${JSON.stringify(token)} must be key=value with no quotes, spaces, ';' or '%' (e.g. dbname=appdb pool_size=20)`;
    const key = match[1]!;
    if (key === "host" || key === "port") return `${key} is the primary's, written by raftgres: leave it out`;
    if (!DATABASE_KEYS.includes(key)) return `${JSON.stringify(key)} is not a pgbouncer database setting; the settings are ${DATABASE_KEYS.join(", ")}`;
  }
  return null;
}
