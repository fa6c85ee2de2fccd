/**
 * The node's YAML configuration (`raftgres agent -c node.yml`), in Patroni's shape where Patroni
 * has the same setting (scope, name, restapi, postgresql.authentication, tags, bootstrap.dcs),
 * plus the Raft section that replaces etcd. Every key is checked; an error names the key, what
 * it got and what is allowed.
 */
import { readFileSync } from "node:fs";
import { either as E } from "fp-ts";
import { parse as parseYaml } from "yaml";
import type { JsonObject } from "../dcs/json.js";
import { isValidName, type MemberName, type MemberTags, type Scope } from "../dcs/model.js";
import { DEFAULT_LOCAL_HA_SETTINGS, type LocalHaSettings } from "../ha/settings.js";
import { ConfigReader, type HostPort } from "./config_reader.js";

export type { HostPort };

export interface AgentConfig {
  readonly scope: Scope;
  readonly name: MemberName;
  readonly restapi: { readonly listen: HostPort; readonly connectAddress: HostPort };
  readonly raft: {
    readonly listen: HostPort;
    readonly dataDir: string;
    readonly clusterId: string;
    readonly secret: string;
    /** Initial voters of a new Raft group, name → host:port (this node included). */
    readonly members: ReadonlyMap<string, string>;
    readonly heartbeatMs: number;
    readonly electionTimeoutMs: number;
  };
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
  };
  readonly ha: LocalHaSettings;
  readonly watchdog: { readonly device: string | null };
  readonly tags: MemberTags;
  /** Written as the scope's first config by the member that bootstraps it (Patroni's bootstrap.dcs). */
  readonly bootstrapDcs: JsonObject;
}

export function loadAgentConfig(path: string): E.Either<string, AgentConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error: unknown) {
    return E.left(`cannot read the configuration ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseAgentConfig(text, path);
}

export function parseAgentConfig(text: string, source: string): E.Either<string, AgentConfig> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error: unknown) {
    return E.left(`${source}: not valid YAML (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    return E.right(read(new ConfigReader(raw, source)));
  } catch (error: unknown) {
    if (error instanceof ConfigReader.Invalid) return E.left(error.message);
    throw error;
  }
}

function read(root: ConfigReader): AgentConfig {
  root.only(["scope", "name", "restapi", "raft", "postgresql", "watchdog", "tags", "bootstrap", "ha"]);
  const name = root.name("name") as MemberName;
  const restapi = root.section("restapi", ["listen", "connect_address"]);
  const raft = root.section("raft", ["listen", "data_dir", "cluster_id", "secret", "secret_file", "members", "heartbeat_ms", "election_timeout_ms"]);
  const pg = root.section("postgresql", ["listen", "connect_address", "data_dir", "bin_dir", "os_user", "authentication", "parameters", "pg_hba", "use_pg_rewind", "use_slots", "remove_data_directory_on_rewind_failure"]);
  const auth = pg.section("authentication", ["superuser", "replication"]);
  const watchdog = root.optionalSection("watchdog", ["device", "safety_margin_ms"]);
  const tags = root.optionalSection("tags", ["nofailover", "failover_priority", "nosync", "noloadbalance", "clonefrom", "replicatefrom"]);
  const ha = root.optionalSection("ha", ["demote_lead_ms"]);
  const bootstrap = root.optionalSection("bootstrap", ["dcs"]);
  const restListen = restapi.hostPort("listen");
  const pgListen = pg.hostPort("listen");
  const members = raft.members("members");
  if (!members.has(name)) raft.fail("members", `must include this node (${name})`);
  const nofailover = tags.boolean("nofailover", false);
  const failoverPriority = tags.integer("failover_priority", 1, 0, 1_000_000);
  const local: LocalHaSettings = {
    ...DEFAULT_LOCAL_HA_SETTINGS,
    watchdogMarginMs: watchdog.integer("safety_margin_ms", DEFAULT_LOCAL_HA_SETTINGS.watchdogMarginMs, 100, 2000),
    demoteLeadMs: ha.integer("demote_lead_ms", DEFAULT_LOCAL_HA_SETTINGS.demoteLeadMs, 100, 1000),
    usePgRewind: pg.boolean("use_pg_rewind", true),
    reinitOnRewindFailure: pg.boolean("remove_data_directory_on_rewind_failure", true),
    useSlots: pg.boolean("use_slots", true),
    nofailover,
    failoverPriority,
  };
  return {
    scope: root.name("scope") as Scope,
    name,
    restapi: { listen: restListen, connectAddress: restapi.optionalHostPort("connect_address") ?? restListen },
    raft: {
      listen: raft.hostPort("listen"),
      dataDir: raft.path("data_dir"),
      clusterId: raft.name("cluster_id"),
      secret: raft.secret("secret", "secret_file"),
      members,
      heartbeatMs: raft.integer("heartbeat_ms", 100, 10, 10_000),
      electionTimeoutMs: raft.integer("election_timeout_ms", 1000, 100, 60_000),
    },
    postgresql: {
      listen: pgListen,
      connectAddress: pg.optionalHostPort("connect_address") ?? pgListen,
      dataDir: pg.path("data_dir"),
      binDir: pg.optionalPath("bin_dir"),
      osUser: pg.optionalString("os_user"),
      superuser: auth.credentials("superuser"),
      replication: auth.credentials("replication"),
      parameters: pg.parameters("parameters"),
      pgHba: pg.stringList("pg_hba"),
    },
    ha: local,
    watchdog: { device: watchdog.optionalPath("device") },
    tags: {
      nofailover,
      failoverPriority,
      nosync: tags.boolean("nosync", false),
      noloadbalance: tags.boolean("noloadbalance", false),
      clonefrom: tags.boolean("clonefrom", false),
      replicatefrom: tags.optionalName("replicatefrom") as MemberName | null,
    },
    bootstrapDcs: bootstrap.object("dcs"),
  };
}


