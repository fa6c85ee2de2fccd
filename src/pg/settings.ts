/**
 * The settings of one PostgreSQL instance, as the agent builds them, their defaults and their
 * validation (bad settings are refused at the edge with a sentence, never half-applied).
 *
 * Permissions: every PostgreSQL program runs as `osUser` (default "postgres"), never as root.
 * The data directory is created by the adapter, owned by that user, mode 0700; every parent
 * directory must be traversable (search bit) by that user. `mkdtemp` directories are 0700 root:
 * chmod such a root 0711 (or chown it) first. The adapter checks this before each action and
 * names the directory that is not reachable.
 *
 * The server log goes to `logDir` (default: `<dataDir>.log.d`, beside the data directory, so
 * pg_basebackup and pg_rewind never copy or overwrite it); the password file of the replication
 * and superuser roles to `passfile` (default `<dataDir>.pgpass`, beside it too: passfile.ts).
 */
import { ClusterHbaLines, HbaPeers } from "./hba.js";
import { ServerFiles } from "./server_files.js";
import { type BootstrapUser, bootstrapUserProblems } from "./bootstrap_user_checks.js";
import { isAbsolute, normalize } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Logger } from "../lib/logger.js";
import {
  DEFAULT_TIMEOUTS,
  HBA_LINES_MAX,
  TIMEOUT_MS_MAX,
  TIMEOUT_MS_MIN,
  type TimeoutName,
} from "./constants.js";
import { lookupOsUser, type OsUser } from "./os_user.js";
import { FORBIDDEN_PARAMETERS, parameterProblems } from "./parameter_check.js";
import type { MemberName } from "./types.js";

export const DEFAULT_BIN_DIR = "/usr/lib/postgresql/15/bin";
export const DEFAULT_OS_USER = "postgres";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type ParameterValue = string | number | boolean;

export interface PostgresSettings {
  readonly memberName: MemberName;
  /** Absolute path of the data directory (created by bootstrap/clone when missing). */
  readonly dataDir: string;
  /** Directory of initdb, postgres, pg_basebackup, pg_rewind, pg_controldata. */
  readonly binDir?: string;
  /** Where the server log goes; default `<dataDir>.log.d`. */
  readonly logDir?: string;
  /** The password file (libpq's pgpass) the programs and the walreceiver use; default `<dataDir>.pgpass`. */
  readonly passfile?: string;
  /** listen_addresses; the adapter itself connects to it (127.0.0.1 when it is * or 0.0.0.0). */
  readonly listenHost: string;
  readonly port: number;
  readonly osUser?: string;
  /** The database superuser (initdb -U), used by the adapter and by pg_rewind of other members. */
  readonly superuser: Credentials;
  /** The role replicas stream with (created by bootstrap). */
  readonly replication: Credentials;
  /** Written to raftgres.conf; ours win only for what HA needs (see conf.ts). */
  readonly parameters?: Readonly<Record<string, ParameterValue>>;
  /** postgresql.pg_hba: the user's pg_hba.conf lines, placed before raftgres's own (hba.ts). */
  readonly pgHba?: readonly string[];
  /** bootstrap.pg_hba: the user's lines when postgresql.pg_hba has none. */
  readonly bootstrapPgHba?: readonly string[];
  /**
   * The cluster's postgresql.pg_hba until the agent reads it from the cluster state: bootstrap.dcs's
   * (the first config, when this member bootstraps); null when unset (hba.ts ClusterHbaLines).
   */
  readonly clusterPgHba?: readonly string[] | null;
  /**
   * The cluster's first parameters (bootstrap.dcs postgresql.parameters): written before the
   * bootstrap's first start, so that they are in force from it (no restart pending after it).
   */
  readonly bootstrapParameters?: Readonly<Record<string, ParameterValue>>;
  /** bootstrap.users: roles created right after the bootstrap (bootstrap_users.ts). */
  readonly bootstrapUsers?: readonly BootstrapUser[];
  /** bootstrap.post_bootstrap (or post_init): run once after it (post_bootstrap.ts). */
  readonly postBootstrap?: string | null;
  /** unix_socket_directories; default none (TCP only). */
  readonly socketDir?: string | null;
  readonly timeouts?: Readonly<Partial<Record<TimeoutName, number>>>;
  readonly logger: Logger;
}

/** Settings after validation: every default filled in, the OS user looked up. */
export interface ResolvedSettings {
  readonly memberName: MemberName;
  readonly dataDir: string;
  readonly binDir: string;
  readonly logDir: string;
  readonly passfile: string;
  readonly listenHost: string;
  /** Where the adapter connects to its own server. */
  readonly connectHost: string;
  readonly port: number;
  readonly osUser: OsUser;
  readonly superuser: Credentials;
  readonly replication: Credentials;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly pgHba: readonly string[];
  readonly bootstrapPgHba: readonly string[];
  /** The members' addresses, set by the agent as they change (hba.ts). */
  readonly hbaPeers: HbaPeers;
  /** The cluster's postgresql.pg_hba, set by the agent as it changes (hba.ts). */
  readonly clusterHba: ClusterHbaLines;
  /** use_slots and the role raftgres.conf was last written for (conf.ts). */
  readonly serverFiles: ServerFiles;
  readonly bootstrapParameters: Readonly<Record<string, ParameterValue>>;
  readonly bootstrapUsers: readonly BootstrapUser[];
  readonly postBootstrap: string | null;
  readonly socketDir: string | null;
  readonly timeouts: Readonly<Record<TimeoutName, number>>;
  readonly logger: Logger;
}

/** The member-name pattern of the cluster state (src/dcs/model.ts), checked again at this edge. */
const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Parameters that would move the files the adapter manages from under it (parameter_check.ts). */
export { FORBIDDEN_PARAMETERS };

export function resolveSettings(s: PostgresSettings): E.Either<string, ResolvedSettings> {
  const problems = [...checkPaths(s), ...checkNetwork(s), ...checkRoles(s), ...checkExtras(s), ...bootstrapUserProblems(s.bootstrapUsers ?? [], "bootstrap.users", [s.superuser.username, s.replication.username])];
  const timeouts = resolveTimeouts(s.timeouts ?? {}, problems);
  const user = lookupOsUser(s.osUser ?? DEFAULT_OS_USER);
  if (E.isLeft(user)) problems.push(user.left);
  if (problems.length > 0 || E.isLeft(user)) return E.left(`invalid PostgreSQL settings: ${problems.join("; ")}`);
  const dataDir = normalize(s.dataDir).replace(/\/+$/, "");
  return E.right({
    memberName: s.memberName,
    dataDir,
    binDir: s.binDir ?? DEFAULT_BIN_DIR,
    logDir: s.logDir ?? `${dataDir}.log.d`,
    // Beside the data directory, like the log directory (passfile.ts).
    passfile: s.passfile ?? `${dataDir}.pgpass`,
    listenHost: s.listenHost,
    connectHost: connectHostFor(s.listenHost),
    port: s.port,
    osUser: user.right,
    superuser: s.superuser,
    replication: s.replication,
    parameters: s.parameters ?? {},
    pgHba: s.pgHba ?? [],
    bootstrapPgHba: s.bootstrapPgHba ?? [],
    hbaPeers: new HbaPeers(),
    clusterHba: new ClusterHbaLines(s.clusterPgHba ?? null),
    serverFiles: new ServerFiles(),
    bootstrapParameters: s.bootstrapParameters ?? {},
    bootstrapUsers: s.bootstrapUsers ?? [],
    postBootstrap: s.postBootstrap ?? null,
    socketDir: s.socketDir ?? null,
    timeouts,
    logger: s.logger,
  });
}

function checkPaths(s: PostgresSettings): string[] {
  const problems: string[] = [];
  if (!MEMBER_NAME.test(s.memberName)) problems.push(`memberName "${s.memberName}" is not a valid name`);
  if (!isAbsolute(s.dataDir) || normalize(s.dataDir) === "/") problems.push(`dataDir "${s.dataDir}" must be an absolute path below /`);
  for (const [name, value] of [["binDir", s.binDir], ["logDir", s.logDir], ["passfile", s.passfile], ["socketDir", s.socketDir]] as const) {
    if (value !== undefined && value !== null && !isAbsolute(value)) problems.push(`${name} "${value}" must be an absolute path`);
  }
  for (const [name, value] of [["logDir", s.logDir], ["passfile", s.passfile]] as const) {
    if (value !== undefined && normalize(value).startsWith(normalize(s.dataDir) + "/")) {
      problems.push(`${name} "${value}" must not be inside dataDir: pg_basebackup and pg_rewind would copy it`);
    }
  }
  return problems;
}

function checkNetwork(s: PostgresSettings): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65_535) problems.push(`port ${s.port} is not a TCP port`);
  if (!/^[A-Za-z0-9_.:*,-]+$/.test(s.listenHost)) problems.push(`listenHost "${s.listenHost}" is not a host list`);
  return problems;
}

function checkRoles(s: PostgresSettings): string[] {
  const problems: string[] = [];
  for (const [what, c] of [["superuser", s.superuser], ["replication", s.replication]] as const) {
    if (!ROLE_NAME.test(c.username)) problems.push(`${what}.username "${c.username}" must match ${ROLE_NAME.source}`);
    if (c.password.length === 0 || /[\u0000-\u001f\u007f]/.test(c.password)) {
      problems.push(`${what}.password must be non-empty and without control characters (a password file holds it on one line)`);
    }
  }
  if (s.superuser.username === s.replication.username) problems.push("superuser and replication must be different roles");
  return problems;
}

function checkExtras(s: PostgresSettings): string[] {
  // PostgreSQL 15's own rules (parameter_check.ts): a node whose file names a parameter the
  // server would refuse does not start with it.
  const problems = parameterProblems(s.parameters ?? {}, "parameters");
  const hba = [...(s.pgHba ?? []), ...(s.bootstrapPgHba ?? [])];
  if (hba.length > HBA_LINES_MAX) problems.push(`more than ${HBA_LINES_MAX} pgHba lines`);
  if (hba.some((line) => /[\u0000-\u001f\u007f]/.test(line))) problems.push("each pgHba entry must be one line without control characters");
  const cluster = ClusterHbaLines.problem(s.clusterPgHba ?? null);
  if (cluster !== null) problems.push(cluster);
  return problems;
}

function resolveTimeouts(given: Partial<Record<TimeoutName, number>>, problems: string[]): Record<TimeoutName, number> {
  const timeouts: Record<TimeoutName, number> = { ...DEFAULT_TIMEOUTS };
  for (const [name, ms] of Object.entries(given) as [TimeoutName, number | undefined][]) {
    if (!(name in DEFAULT_TIMEOUTS)) problems.push(`unknown timeout "${name}"`);
    else if (ms === undefined) continue;
    else if (!Number.isInteger(ms) || ms < TIMEOUT_MS_MIN || ms > TIMEOUT_MS_MAX) {
      problems.push(`timeouts.${name} = ${ms} is outside [${TIMEOUT_MS_MIN}, ${TIMEOUT_MS_MAX}] ms`);
    } else timeouts[name] = ms;
  }
  return timeouts;
}

/** Where to connect to reach a server listening on `listenHost`. */
export function connectHostFor(listenHost: string): string {
  const first = listenHost.split(",")[0]!.trim();
  if (first === "*" || first === "0.0.0.0" || first === "") return "127.0.0.1";
  if (first === "::") return "::1";
  return first;
}
