/**
 * The configuration files the adapter owns in the data directory:
 * - postgresql.conf gets one line, `include_if_exists = 'raftgres.conf'` (clones and rewinds copy
 *   postgresql.conf from their source, so the line travels with it);
 * - raftgres.conf is rewritten on every node before each start, on followPrimary and after
 *   promote/rewind/clone: the HA parameters, the user's parameters, and for a replica the
 *   upstream (primary_conninfo, primary_slot_name). Its first line names the upstream member,
 *   which is how observe() reports `upstream` without parsing a connection string;
 * - pg_hba.conf is rewritten with it, and when the members change (hba.ts);
 * - standby.signal exists for a replica and not for a primary.
 * Every write is atomic and owned by the OS user (files.ts).
 */
import { renderHbaText } from "./hba.js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { Upstream } from "../ha/actions.js";
import { formatConninfo, parseConnectionString, withParams } from "./conninfo.js";
import { removeIfPresent, writeFileAtomic } from "./files.js";
import { parameterProblem, serverProblem } from "./parameter_check.js";
import { writePassfile } from "./passfile.js";
import type { ServerRole } from "./server_files.js";
import type { ParameterValue, ResolvedSettings } from "./settings.js";
import { slotName } from "./slot_names.js";
import type { MemberName } from "./types.js";

export const SERVER_CONF_FILE = "raftgres.conf";
/** The cluster's dynamic parameters, written by dynamic_conf.ts and included by raftgres.conf. */
export const DYNAMIC_CONF_FILE = "raftgres.dynamic.conf";
/** synchronous_standby_names while HA manages it (sync_conf.ts), included last. */
export const SYNC_CONF_FILE = "raftgres.sync.conf";
export const INCLUDE_LINE = `include_if_exists = '${SERVER_CONF_FILE}'`;
const UPSTREAM_MARK = "# raftgres upstream member: ";

export type { ServerRole } from "./server_files.js";

/** Defaults the user's parameters may change. */
const DEFAULT_PARAMETERS: Readonly<Record<string, ParameterValue>> = {
  // logical, so that the config's permanent logical slots can be created without a restart; a
  // "replica" in the cluster's or this node's parameters wins (a little less WAL, no logical
  // slots); "minimal" is refused wherever it is set (parameter_check.ts).
  wal_level: "logical",
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: "128MB",
  hot_standby_feedback: true,
  // A replica whose upstream restarted or changed reconnects within a second (default 5 s).
  wal_retrieve_retry_interval: "1s",
  logging_collector: false,
  log_line_prefix: "%m [%p] ",
};

/**
 * A value as postgresql.conf's lexer (guc-file.l) reads it: booleans as on/off, a number bare
 * when it is an INTEGER or REAL token there (200, -1, 0.5) and quoted otherwise (String(1e21) is
 * "1e+21", which the lexer would split), strings single-quoted with ' doubled and \ escaped.
 * Control characters never get here (parameter_check.ts refuses them).
 */
export function confValue(value: ParameterValue): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  const text = String(value);
  if (typeof value === "number" && /^-?\d+(\.\d+)?$/.test(text)) return text;
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * How long the WAL receiver's connection may hang before libpq gives it up, unless the
 * upstream's URL says otherwise. Without them a connection made or used through packet loss can
 * wait on TCP's backed-off retransmissions for tens of seconds after the network healed (issue
 * 14: a replica that did not stream for 30 s after a heal, until its agent restarted it); given
 * up, the WAL receiver connects again after wal_retrieve_retry_interval.
 */
export const STREAMING_TIMEOUTS: Readonly<Record<string, string>> = {
  /** Seconds to establish the connection (libpq's connect_timeout). */
  connect_timeout: "5",
  /** Milliseconds data sent may stay unacknowledged (TCP_USER_TIMEOUT). */
  tcp_user_timeout: "5000",
  /** An idle connection is probed after 5 s, every 2 s, and given up after 3 unanswered probes. */
  keepalives: "1",
  keepalives_idle: "5",
  keepalives_interval: "2",
  keepalives_count: "3",
};

/**
 * primary_conninfo for streaming from `upstream` as the replication role. The password is in
 * the password file (passfile.ts), never here: PostgreSQL logs this setting whenever it changes.
 */
export function primaryConninfo(s: ResolvedSettings, upstream: Upstream): E.Either<string, string> {
  const parsed = parseConnectionString(upstream.connUrl);
  if (E.isLeft(parsed)) return E.left(`the connection URL of ${upstream.member}: ${parsed.left}`);
  const timeouts = Object.fromEntries(Object.entries(STREAMING_TIMEOUTS).filter(([key]) => !parsed.right.has(key)));
  const params = withParams(parsed.right, {
    dbname: undefined,
    user: s.replication.username,
    password: undefined,
    passfile: s.passfile,
    application_name: s.memberName,
    ...timeouts,
  });
  return E.right(formatConninfo(params));
}

/** raftgres.conf's text, and the lines left out because PostgreSQL would refuse them. */
export interface RenderedConf {
  readonly text: string;
  /** One sentence per parameter left out (parameter_check.ts). */
  readonly refused: readonly string[];
}

/**
 * The text of raftgres.conf for `role`; Left when the upstream's URL cannot be parsed. A value
 * PostgreSQL would refuse is left out rather than written: one bad line makes the server refuse
 * the whole file at a start, and ignore every later change at a reload.
 */
export function renderServerConf(s: ResolvedSettings, role: ServerRole): E.Either<string, RenderedConf> {
  const ha: Record<string, ParameterValue> = {
    listen_addresses: s.listenHost,
    port: s.port,
    hot_standby: true,
    wal_log_hints: true,
    recovery_target_timeline: "latest",
  };
  const upstream = role.role === "replica" ? role.upstream : null;
  if (upstream !== null) {
    // A standby cluster's remote primary may be reached through its archive only (no host).
    const conninfo = upstream.connUrl === "" ? E.right("") : primaryConninfo(s, upstream);
    if (E.isLeft(conninfo)) return conninfo;
    ha["primary_conninfo"] = conninfo.right;
    const remote = upstream.remote ?? null;
    // A member streams through its own slot on the upstream; a standby leader through the slot
    // standby_cluster names on the remote primary, or none.
    ha["primary_slot_name"] = remote === null ? (s.serverFiles.useSlots() ? slotName(s.memberName) : "") : (remote.slotName ?? "");
    if (remote?.restoreCommand != null) ha["restore_command"] = remote.restoreCommand;
    if (remote?.recoveryMinApplyDelay != null) ha["recovery_min_apply_delay"] = remote.recoveryMinApplyDelay;
  } else {
    ha["primary_conninfo"] = "";
    ha["primary_slot_name"] = "";
  }
  const refused: string[] = [];
  const user = Object.entries(s.parameters).filter(([name, value]) => keep(parameterProblem(name, value, "postgresql.parameters"), refused));
  const ours = Object.entries(ha).filter(([name, value]) => keep(serverProblem(name, value, "raftgres"), refused));
  // Later lines win: defaults < the cluster's dynamic parameters < this node's < what HA needs.
  const line = ([name, value]: [string, ParameterValue]): string => `${name} = ${confValue(value)}`;
  const lines = [
    `${UPSTREAM_MARK}${upstream === null ? "" : upstream.member}`,
    `# Written by raftgres for ${s.memberName} as ${role.role}; rewritten before each start: do not edit,`,
    "# set parameters in the raftgres configuration instead.",
    // No Unix socket unless the configuration names a directory (Patroni's sample and the guides
    // built on it do, for local psql): raftgres itself connects over TCP.
    ...Object.entries({ cluster_name: s.memberName, ...DEFAULT_PARAMETERS, unix_socket_directories: s.socketDir ?? "" }).map(line),
    `include_if_exists = '${DYNAMIC_CONF_FILE}'`,
    ...user.map(line),
    ...ours.map(line),
    `include_if_exists = '${SYNC_CONF_FILE}'`,
  ];
  return E.right({ text: `${lines.join("\n")}\n`, refused });
}

/** True when `problem` is null; otherwise the problem is added to `refused`. */
function keep(problem: string | null, refused: string[]): boolean {
  if (problem !== null) refused.push(problem);
  return problem === null;
}

/** pg_hba.conf: the user's lines, then the ones raftgres needs (hba.ts). */
export function renderHba(s: ResolvedSettings): string {
  return renderHbaText({ superuser: s.superuser.username, replication: s.replication.username, pgHba: s.pgHba, clusterPgHba: s.clusterHba.current(), bootstrapPgHba: s.bootstrapPgHba, peers: s.hbaPeers.current(), self: s.connectHost });
}

/** Writes raftgres.conf, pg_hba.conf, the include line and standby.signal for `role`. */
export async function writeServerFiles(s: ResolvedSettings, role: ServerRole): Promise<E.Either<string, void>> {
  const conf = renderServerConf(s, role);
  if (E.isLeft(conf)) return conf;
  if (conf.right.refused.length > 0) {
    s.logger.error({ refused: conf.right.refused }, `parameters left out of ${SERVER_CONF_FILE}, PostgreSQL would refuse them: ${conf.right.refused.join("; ")}`);
  }
  try {
    await writePassfile(s);
    await ensureIncludeLine(s);
    await writeFileAtomic(join(s.dataDir, SERVER_CONF_FILE), conf.right.text, s.osUser);
    await writeFileAtomic(join(s.dataDir, "pg_hba.conf"), renderHba(s), s.osUser);
    s.serverFiles.written(role);
    const signal = join(s.dataDir, "standby.signal");
    if (role.role === "replica") await writeFileAtomic(signal, "", s.osUser);
    else await removeIfPresent(signal);
    return E.right(undefined);
  } catch (error) {
    return E.left(`cannot write the configuration files in ${s.dataDir}: ${String(error)}`);
  }
}

async function ensureIncludeLine(s: ResolvedSettings): Promise<void> {
  const path = join(s.dataDir, "postgresql.conf");
  const text = await readFile(path, "utf8");
  const present = text.split("\n").some((line) => line.replace(/\s+/g, " ").trim() === INCLUDE_LINE);
  if (present) return;
  const separator = text.endsWith("\n") || text === "" ? "" : "\n";
  await writeFileAtomic(path, `${text}${separator}\n# raftgres: HA parameters, rewritten before each start\n${INCLUDE_LINE}\n`, s.osUser);
}

/** The member raftgres.conf names as upstream; null when none or no file. */
export async function readUpstreamMember(dataDir: string): Promise<MemberName | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, SERVER_CONF_FILE), "utf8");
  } catch {
    return null;
  }
  const first = text.split("\n", 1)[0] ?? "";
  if (!first.startsWith(UPSTREAM_MARK)) return null;
  const member = first.slice(UPSTREAM_MARK.length).trim();
  return member === "" ? null : (member as MemberName);
}
