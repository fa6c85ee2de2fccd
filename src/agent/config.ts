/**
 * The node's YAML configuration (`raftgres agent -c node.yml`), in Patroni's shape where Patroni
 * has the same setting (scope, name, restapi, postgresql.authentication, tags, bootstrap.dcs),
 * plus the Raft section that replaces etcd (config_raft.ts), where Patroni's own raft keys are
 * read too (config_patroni_raft.ts). Every key is checked, and every problem of the file is
 * reported at once, one line `FILE: KEY: problem` each (config_lines.ts), naming what it got and
 * what is allowed or what to do.
 */
import { readFileSync } from "node:fs";
import * as E from "fp-ts/lib/Either.js";
import { parseDocument } from "yaml";
import { haTimingProblems } from "../dcs/ha_timing.js";
import { dynamicPostgresqlProblems, dynamicSwitch, pgHbaProblem } from "../dcs/dynamic_postgresql.js";
import { isJsonObject, type JsonObject } from "../dcs/json.js";
import { CONFIG_JSON_BOUNDS, jsonBoundsProblem } from "../dcs/json_bounds.js";
import { syncModeProblem } from "../dcs/sync_mode.js";
import type { MemberName, MemberTags, Scope } from "../dcs/model.js";
import { standbyClusterOf, standbyClusterProblem } from "../dcs/standby_cluster.js";
import { CALLBACK_ACTIONS, type CallbackAction, type Callbacks } from "../ha/io/callbacks.js";
import type { HaproxySettings } from "../ha/io/haproxy_push.js";
import { DEFAULT_LOCAL_HA_SETTINGS, type LocalHaSettings } from "../ha/settings.js";
import type { BootstrapUser } from "../pg/bootstrap_user_checks.js";
import { parameterProblems } from "../pg/parameter_check.js";
import { readBootstrapUsers } from "./config_bootstrap_users.js";
import { problemLine, problemsMessage, yamlErrorLines } from "./config_lines.js";
import { readHaproxy } from "./config_haproxy.js";
import { translatePatroniRaft } from "./config_patroni_raft.js";
import { type PgbouncerSettings, readPgbouncer } from "./config_pgbouncer.js";
import { type RaftSettings, readRaft } from "./config_raft.js";
import { ConfigReader, type HostPort } from "./config_reader.js";

export type { HostPort };

export interface AgentConfig {
  readonly scope: Scope;
  readonly name: MemberName;
  readonly restapi: {
    readonly listen: HostPort;
    readonly connectAddress: HostPort;
    /** Basic auth required on every mutation (and on reads too with requireAuthForReads). */
    readonly authentication: { readonly username: string; readonly password: string } | null;
    readonly requireAuthForReads: boolean;
    /** HTTPS when both are given (PEM files). */
    readonly tls: { readonly certfile: string; readonly keyfile: string } | null;
  };
  readonly raft: RaftSettings;
  readonly postgresql: {
    readonly listen: HostPort;
    readonly connectAddress: HostPort;
    readonly dataDir: string;
    readonly binDir: string | null;
    readonly osUser: string | null;
    readonly superuser: { readonly username: string; readonly password: string };
    readonly replication: { readonly username: string; readonly password: string };
    readonly parameters: Readonly<Record<string, string | number | boolean>>;
    readonly pgHba: readonly string[];
    /** Patroni's callbacks: a command per event, run with (action, role, scope). */
    readonly callbacks: Callbacks;
    /** Patroni's pre_promote: run before a promotion; a failure cancels it. */
    readonly prePromote: string | null;
  };
  readonly ha: LocalHaSettings;
  readonly watchdog: { readonly device: string | null };
  /** HAProxy admin sockets told of every role change (config_haproxy.ts), or null. */
  readonly haproxy: HaproxySettings | null;
  /** pgbouncer instances paused through a planned switchover (config_pgbouncer.ts), or null. */
  readonly pgbouncer: PgbouncerSettings | null;
  readonly tags: MemberTags;
  /** Written as the scope's first config by the member that bootstraps it (Patroni's bootstrap.dcs). */
  readonly bootstrapDcs: JsonObject;
  /** bootstrap.users: roles created once after the bootstrap (Patroni 3's). */
  readonly bootstrapUsers: readonly BootstrapUser[];
  /** bootstrap.pg_hba: pg_hba.conf lines when postgresql.pg_hba has none. */
  readonly bootstrapPgHba: readonly string[];
  /** bootstrap.post_bootstrap (or post_init): a command run once after the bootstrap. */
  readonly postBootstrap: string | null;
  /**
   * `FILE: KEY: …` lines logged at start and on reload: Patroni's keys read as ours (what each
   * became) and Patroni settings raftgres does not have (accepted, no effect).
   */
  readonly warnings: readonly string[];
}

/** Patroni's DCS sections: raftgres keeps the cluster state in its own Raft log instead. */
const OTHER_DCS = ["etcd", "etcd3", "consul", "zookeeper", "exhibitor", "kubernetes"];

/** Patroni settings accepted for compatibility and ignored (each is reported at start). */
const TOLERATED = {
  root: ["namespace", "log", "ctl", "citus", "standby_cluster"],
  restapi: ["keyfile_password", "cafile", "ciphers", "verify_client", "allowlist", "allowlist_include_members", "http_extra_headers", "https_extra_headers", "server_tokens", "request_queue_size", "thread_pool_size"],
  postgresql: ["pgpass", "create_replica_methods", "basebackup", "recovery_conf", "custom_conf", "use_unix_socket", "use_unix_socket_repl", "remove_data_directory_on_diverged_timelines", "config_dir", "pg_ident", "pg_ctl_timeout", "replica_method", "before_stop"],
  authentication: ["rewind"],
  bootstrap: ["initdb", "method"],
  watchdog: ["mode"],
  tags: ["nostream", "sync_priority"],
};

/**
 * Environment overrides, Patroni's way (PATRONI_NAME → RAFTGRES_NAME …): each variable sets one
 * key before the file is checked, so a container can share one file across nodes.
 */
export const ENVIRONMENT: Readonly<Record<string, readonly string[]>> = {
  RAFTGRES_SCOPE: ["scope"],
  RAFTGRES_NAME: ["name"],
  RAFTGRES_RESTAPI_LISTEN: ["restapi", "listen"],
  RAFTGRES_RESTAPI_CONNECT_ADDRESS: ["restapi", "connect_address"],
  RAFTGRES_RESTAPI_USERNAME: ["restapi", "authentication", "username"],
  RAFTGRES_RESTAPI_PASSWORD: ["restapi", "authentication", "password"],
  RAFTGRES_RAFT_LISTEN: ["raft", "listen"],
  RAFTGRES_RAFT_DATA_DIR: ["raft", "data_dir"],
  RAFTGRES_RAFT_SECRET: ["raft", "secret"],
  RAFTGRES_POSTGRESQL_LISTEN: ["postgresql", "listen"],
  RAFTGRES_POSTGRESQL_CONNECT_ADDRESS: ["postgresql", "connect_address"],
  RAFTGRES_POSTGRESQL_DATA_DIR: ["postgresql", "data_dir"],
  RAFTGRES_POSTGRESQL_BIN_DIR: ["postgresql", "bin_dir"],
  RAFTGRES_SUPERUSER_USERNAME: ["postgresql", "authentication", "superuser", "username"],
  RAFTGRES_SUPERUSER_PASSWORD: ["postgresql", "authentication", "superuser", "password"],
  RAFTGRES_REPLICATION_USERNAME: ["postgresql", "authentication", "replication", "username"],
  RAFTGRES_REPLICATION_PASSWORD: ["postgresql", "authentication", "replication", "password"],
};

function applyEnvironment(raw: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const root: Record<string, unknown> = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? structuredClone(raw as Record<string, unknown>) : {};
  for (const [name, path] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    let node = root;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (node[key] = typeof next === "object" && next !== null && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  return root;
}

export function loadAgentConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): E.Either<string, AgentConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error: unknown) {
    return E.left(problemLine(path, "", `cannot read the configuration: ${error instanceof Error ? error.message : String(error)}`));
  }
  return parseAgentConfig(text, path, env);
}

/**
 * Reads the node's file: Right with the config, or Left with every problem found, one line
 * `FILE: KEY: problem` each (with a count first when there are several). `source` is the FILE.
 */
export function parseAgentConfig(text: string, source: string, env: Readonly<Record<string, string | undefined>> = {}): E.Either<string, AgentConfig> {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) return E.left(problemsMessage(source, yamlErrorLines(source, document.errors)));
  const raw = document.toJS() as unknown;
  if (raw !== null && raw !== undefined && (typeof raw !== "object" || Array.isArray(raw))) {
    return E.left(problemLine(source, "", `must be a mapping of keys to values (scope: …, name: …), got ${Array.isArray(raw) ? "a list" : JSON.stringify(raw)?.slice(0, 60)}`));
  }
  const warnings: string[] = [];
  const problems: string[] = [];
  const patroni = translatePatroniRaft(applyEnvironment(raw, env), source, warnings, problems);
  try {
    const root = new ConfigReader(patroni.document, source, "", warnings, problems);
    const config = read(root, patroni.spellings);
    root.finish();
    return E.right(config);
  } catch (error: unknown) {
    if (error instanceof ConfigReader.Invalid) return E.left(error.message);
    throw error;
  }
}

/**
 * bootstrap.dcs becomes the scope's first config: it is checked as PATCH /config checks a config
 * (its bounds, Patroni's timing rule, the synchronous and standby settings, the PostgreSQL
 * parameters), so a mistake stops the start instead of a bootstrap with a config the cluster
 * state refuses. The checks' sentences start with the key they are about, relative to the
 * section named in each call.
 */
function checkBootstrapDcs(bootstrap: ConfigReader, dcs: JsonObject): void {
  const bounds = jsonBoundsProblem(dcs, CONFIG_JSON_BOUNDS, "dcs");
  if (bounds !== null) return bootstrap.failSentence("bootstrap", bounds);
  const problems = [...haTimingProblems(dcs), syncModeProblem(dcs), standbyClusterProblem(dcs), ...dynamicPostgresqlProblems(dcs)];
  const postgresql = dcs["postgresql"];
  const parameters = isJsonObject(postgresql) ? postgresql["parameters"] : undefined;
  if (postgresql !== undefined && !isJsonObject(postgresql)) problems.push(`postgresql must be a mapping, got ${JSON.stringify(postgresql)?.slice(0, 60)}`);
  else if (parameters !== undefined && !isJsonObject(parameters)) problems.push(`postgresql.parameters must be a mapping, got ${JSON.stringify(parameters)?.slice(0, 60)}`);
  else if (isJsonObject(parameters)) problems.push(...parameterProblems(parameters, "postgresql.parameters"));
  for (const problem of problems) if (problem !== null) bootstrap.failSentence("bootstrap.dcs", problem);
}

/** A list of pg_hba lines, each checked as PATCH /config checks the cluster's (dynamic_postgresql.ts). */
function hbaLines(section: ConfigReader, key: string): string[] {
  const lines = section.stringList(key);
  const problem = section.hasProblem(key) ? null : pgHbaProblem(lines, section.keyPath(key));
  if (problem !== null) section.failSentence("", problem);
  return problem === null ? lines : [];
}

function read(root: ConfigReader, patroniSpellings: ReadonlyMap<string, string>): AgentConfig {
  for (const dcs of OTHER_DCS) {
    if (root.has(dcs)) root.fail(dcs, "raftgres keeps the cluster state in its own Raft log: replace this section with a raft section (see node.yml.example)");
  }
  // The other DCS sections were named above with what to do instead.
  root.only(["scope", "name", "restapi", "raft", "postgresql", "watchdog", "tags", "bootstrap", "ha", "pgbouncer", "haproxy", ...OTHER_DCS], TOLERATED.root);
  const scope = root.name("scope") as Scope;
  const name = root.name("name") as MemberName;
  const restapi = root.section("restapi", ["listen", "connect_address", "authentication", "certfile", "keyfile", "require_auth_for_reads"], TOLERATED.restapi);
  const raft = root.section("raft", ["listen", "data_dir", "cluster_id", "secret", "secret_file", "members", "join", "heartbeat_ms", "election_timeout_ms"]);
  for (const [key, writtenAs] of patroniSpellings) raft.spell(key, writtenAs);
  const pg = root.section("postgresql", ["listen", "connect_address", "data_dir", "bin_dir", "os_user", "authentication", "parameters", "pg_hba", "use_pg_rewind", "use_slots", "remove_data_directory_on_rewind_failure", "callbacks", "pre_promote"], TOLERATED.postgresql);
  const callbackSection = pg.optionalSection("callbacks", CALLBACK_ACTIONS);
  const callbacks: Partial<Record<CallbackAction, string>> = {};
  for (const action of CALLBACK_ACTIONS) {
    const command = callbackSection.optionalString(action);
    if (command !== null) callbacks[action] = command;
  }
  const auth = pg.section("authentication", ["superuser", "replication"], TOLERATED.authentication);
  const superuser = auth.credentials("superuser");
  const replication = auth.credentials("replication");
  const watchdog = root.optionalSection("watchdog", ["device", "safety_margin_ms", "safety_margin"], TOLERATED.watchdog);
  const tags = root.optionalSection("tags", ["nofailover", "failover_priority", "nosync", "noloadbalance", "clonefrom", "replicatefrom"], TOLERATED.tags);
  const ha = root.optionalSection("ha", ["demote_lead_ms"]);
  const haproxy = root.optionalSection("haproxy", ["sockets", "write_backend", "read_backend", "servers", "timeout_ms"]);
  const bootstrap = root.optionalSection("bootstrap", ["dcs", "users", "post_bootstrap", "post_init", "pg_hba"], TOLERATED.bootstrap);
  const restAuth = restapi.has("authentication") ? restapi.credentials("authentication") : null;
  const certfile = restapi.optionalPath("certfile");
  const keyfile = restapi.optionalPath("keyfile");
  if ((certfile === null) !== (keyfile === null)) restapi.fail(certfile === null ? "certfile" : "keyfile", "HTTPS needs both certfile and keyfile");
  if (watchdog.has("safety_margin") && watchdog.has("safety_margin_ms")) watchdog.fail("safety_margin", "give safety_margin (seconds, Patroni's) or safety_margin_ms, not both");
  const marginMs = watchdog.has("safety_margin") ? watchdog.integer("safety_margin", 1, 1, 2) * 1000 : watchdog.integer("safety_margin_ms", DEFAULT_LOCAL_HA_SETTINGS.watchdogMarginMs, 100, 2000);
  const restListen = restapi.hostPort("listen");
  const pgListen = pg.hostPort("listen");
  const raftSettings = readRaft(raft, name);
  const bootstrapDcs = bootstrap.object("dcs");
  const bootstrapUsers = readBootstrapUsers(bootstrap, [superuser.username, replication.username]);
  if (bootstrap.has("post_bootstrap") && bootstrap.has("post_init")) bootstrap.fail("post_init", "give post_bootstrap or post_init (the same setting, Patroni's two spellings), not both");
  const postBootstrap = bootstrap.optionalString("post_bootstrap") ?? bootstrap.optionalString("post_init");
  checkBootstrapDcs(bootstrap, bootstrapDcs);
  const parameters = pg.parameters("parameters");
  for (const problem of parameterProblems(parameters, pg.keyPath("parameters"))) root.failSentence("", problem);
  const nofailover = tags.boolean("nofailover", false);
  const failoverPriority = tags.integer("failover_priority", 1, 0, 1_000_000);
  const local: LocalHaSettings = {
    ...DEFAULT_LOCAL_HA_SETTINGS,
    watchdogMarginMs: marginMs,
    demoteLeadMs: ha.integer("demote_lead_ms", DEFAULT_LOCAL_HA_SETTINGS.demoteLeadMs, 100, 1000),
    // Unset: the cluster's config decides (src/ha/settings.ts).
    usePgRewind: pg.has("use_pg_rewind") ? pg.boolean("use_pg_rewind", true) : null,
    reinitOnRewindFailure: pg.boolean("remove_data_directory_on_rewind_failure", true),
    useSlots: pg.has("use_slots") ? pg.boolean("use_slots", true) : null,
    nofailover,
    failoverPriority,
    bootstrapStandbyCluster: standbyClusterOf(bootstrapDcs),
    bootstrapSwitches: { use_pg_rewind: dynamicSwitch(bootstrapDcs, "use_pg_rewind"), use_slots: dynamicSwitch(bootstrapDcs, "use_slots") },
  };
  return {
    scope,
    name,
    restapi: {
      listen: restListen,
      connectAddress: restapi.optionalHostPort("connect_address") ?? restListen,
      authentication: restAuth,
      requireAuthForReads: restapi.boolean("require_auth_for_reads", false),
      tls: certfile === null || keyfile === null ? null : { certfile, keyfile },
    },
    raft: raftSettings,
    postgresql: {
      listen: pgListen,
      connectAddress: pg.optionalHostPort("connect_address") ?? pgListen,
      dataDir: pg.path("data_dir"),
      binDir: pg.optionalPath("bin_dir"),
      osUser: pg.optionalString("os_user"),
      superuser,
      replication,
      parameters,
      pgHba: hbaLines(pg, "pg_hba"),
      callbacks,
      prePromote: pg.optionalString("pre_promote"),
    },
    ha: local,
    watchdog: { device: watchdog.optionalPath("device") },
    haproxy: readHaproxy(haproxy, root.has("haproxy")),
    pgbouncer: readPgbouncer(root),
    tags: {
      nofailover,
      failoverPriority,
      nosync: tags.boolean("nosync", false),
      noloadbalance: tags.boolean("noloadbalance", false),
      clonefrom: tags.boolean("clonefrom", false),
      replicatefrom: tags.optionalName("replicatefrom") as MemberName | null,
    },
    bootstrapDcs,
    bootstrapUsers,
    postBootstrap,
    bootstrapPgHba: hbaLines(bootstrap, "pg_hba"),
    warnings: root.warnings,
  };
}


