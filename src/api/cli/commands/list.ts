/**
 * `raftgres list` and `raftgres topology`: the member table of patronictl (GET /cluster, with the
 * system id from GET /patroni), as a flat list or as a tree of who replicates from whom.
 */
import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { isJsonObject, type JsonObject, type JsonValue } from "../../../dcs/json.js";
import { isLeaderRole, type ClusterMember, type ClusterView } from "../answers.js";
import { type CliContext, timestamp } from "../context.js";
import { failed, usageError } from "../exit.js";
import { cellOf, type Cell, type Format, lagInMb, lsnText, parseFormat, renderRows, type Table } from "../format.js";

const POSTGRES_DEFAULT_PORT = 5432;
export const WATCH_DEFAULT_SECONDS = 2;

export interface MembersOptions {
  readonly format: Format;
  readonly extended: boolean;
  readonly topology: boolean;
  /** The cluster's name the operator gave (patronictl's CLUSTER_NAME): another scope is refused. */
  readonly scope?: string;
}

export function registerList(program: Command, ctx: CliContext): void {
  for (const [name, topology] of [["list", false], ["topology", true]] as const) {
    program.command(name)
      .description(topology ? "show the members as a tree of who replicates from whom" : "show the members of the cluster, their roles, states and lag")
      .argument("[cluster]", "the cluster's name, as patronictl takes it (checked against the scope)")
      .option("-f, --format <format>", "table, tsv, json or yaml", "table")
      .option("-e, --extended", "show every optional column (pending restart, scheduled restart, tags)")
      .option("-t, --timestamp", "print the time before the table")
      .option("-w, --watch [seconds]", `print again every N seconds (default ${WATCH_DEFAULT_SECONDS}) until interrupted`)
      .option("-W", `the same as --watch ${WATCH_DEFAULT_SECONDS}`)
      .action(async (clusterName: string | undefined, opts: { format: string; extended?: boolean; timestamp?: boolean; watch?: string | boolean; W?: boolean }) => {
        const options = { format: parseFormat(opts.format, "table"), extended: opts.extended === true, topology, ...(clusterName === undefined ? {} : { scope: clusterName }) };
        const seconds = watchSeconds(opts.watch, opts.W === true);
        const print = async (): Promise<void> => {
          if (opts.timestamp === true) ctx.out(timestamp());
          await printMembers(ctx, options);
        };
        if (seconds === null) return void (await print());
        for (;;) {
          ctx.io.stdout.write("\x1b[H\x1b[2J");
          await print();
          await ctx.io.sleep(seconds * 1000);
        }
      });
  }
}

function watchSeconds(watch: string | boolean | undefined, w: boolean): number | null {
  if (watch === undefined || watch === false) return w ? WATCH_DEFAULT_SECONDS : null;
  if (watch === true) return WATCH_DEFAULT_SECONDS;
  const seconds = Number(watch);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`--watch ${JSON.stringify(watch)}: expected a number of seconds above 0`);
  return seconds;
}

/** Fetches and prints the member table; returns the cluster it showed. */
export async function printMembers(ctx: CliContext, options: MembersOptions): Promise<ClusterView> {
  const cluster = await ctx.cluster();
  if (options.scope !== undefined && cluster.scope !== null && options.scope !== cluster.scope) {
    throw failed(`this node serves cluster ${cluster.scope}, not ${options.scope}: name the right cluster, or connect to one of its nodes`);
  }
  const status = await ctx.nodeStatus();
  const systemId = typeof status["database_system_identifier"] === "string" ? status["database_system_identifier"] : "uninitialized";
  const scope = cluster.scope ?? (typeof status["patroni"] === "object" && status["patroni"] !== null ? String((status["patroni"] as Record<string, unknown>)["scope"] ?? "?") : "?");
  ctx.out(renderMembers(cluster, scope, systemId, options));
  return cluster;
}

export function renderMembers(cluster: ClusterView, scope: string, systemId: string, options: MembersOptions): string {
  const table = membersTable(cluster, scope, systemId, options);
  const text = renderRows(table, options.format);
  if (options.format !== "table") return text;
  const footer: string[] = [];
  const scheduled = cluster.scheduledSwitchover;
  if (scheduled !== null) {
    footer.push(` Switchover scheduled at: ${scheduled.at}`);
    if (scheduled.from !== null) footer.push(`                    from: ${scheduled.from}`);
    if (scheduled.to !== null) footer.push(`                      to: ${scheduled.to}`);
  }
  if (cluster.pause) footer.push(" Maintenance mode: on");
  return [text, ...footer].join("\n");
}

/**
 * patronictl's table (pretty, topology) calls both lag columns "Lag" and aligns the numbers and
 * LSNs right; tsv, JSON and YAML keep "Receive Lag" and "Replay Lag" (ctl.py output_members).
 */
const TABLE_NAMES: Readonly<Record<string, string>> = { "Receive Lag": "Lag", "Replay Lag": "Lag" };
const ALIGN_RIGHT = ["TL", "Receive LSN", "Replay LSN", "Lag"];

export function membersTable(cluster: ClusterView, scope: string, systemId: string, options: MembersOptions): Table {
  const members = cluster.members;
  const machine = options.format !== "table";
  const columns = ["Member", "Host", "Role", "State", "TL", "Receive LSN", "Receive Lag", "Replay LSN", "Replay Lag"];
  const optional: [string, (m: ClusterMember) => Cell][] = [
    ["Pending restart", (m) => (m.pendingRestart ? "*" : null)],
    ["Pending restart reason", (m) => pendingReason(m, !machine)],
    ["Scheduled restart", (m) => scheduledRestart(m)],
    ["Tags", (m) => tagsCell(m.tags, options.format === "tsv" || (options.topology && !machine))],
  ];
  // -e shows every optional column, as patronictl does; without it, those some member has a value for.
  const shown = optional.filter(([, cell]) => options.extended || members.some((m) => cell(m) !== null));
  const withPort = members.some((m) => m.port !== null && m.port !== POSTGRES_DEFAULT_PORT) || new Set(members.map((m) => m.host)).size < members.length;
  const ordered = options.topology ? topologyOrder(members) : members.map((member) => ({ member, level: 0 }));
  const rows = ordered.map(({ member: m, level }) => [
    treeName(m.name, level),
    m.host === null ? null : withPort && m.port !== null ? `${m.host}:${m.port}` : m.host,
    roleTitle(m.role),
    m.state,
    m.timeline,
    lsnText(m.receiveLsn),
    lagInMb(m.receiveLag),
    lsnText(m.replayLsn),
    lagInMb(m.replayLag),
    ...shown.map(([, cell]) => cell(m)),
  ]);
  const all = [...columns, ...shown.map(([c]) => c)];
  return {
    columns: machine ? ["Cluster", ...all] : all.map((c) => TABLE_NAMES[c] ?? c),
    rows: machine ? rows.map((r) => [scope, ...r]) : rows,
    alignRight: ALIGN_RIGHT,
    title: ` Cluster: ${scope} (${systemId}) `,
  };
}

/** "sync_standby" → "Sync Standby", as patronictl shows roles. */
export function roleTitle(role: string): string {
  return role.split("_").map((w) => (w === "" ? w : w[0]!.toUpperCase() + w.slice(1))).join(" ");
}

/** A line longer than this is hidden in a table, as patronictl hides it ("[hidden - too long]"). */
const REASON_LINE_CHARS_MAX = 50;

/** "param: old->new" per parameter, one a line. */
function pendingReason(m: ClusterMember, hideLong: boolean): Cell {
  const reason = m.pendingRestartReason;
  if (!isJsonObject(reason)) return null;
  const lines = Object.entries(reason).map(([param, change]) => {
    const c = isJsonObject(change) ? change : {};
    const line = `${param}: ${String(c["old_value"] ?? "")}->${String(c["new_value"] ?? "")}`;
    return hideLong && line.length > REASON_LINE_CHARS_MAX ? `${param}: [hidden - too long]` : line;
  });
  return lines.length === 0 ? null : lines.join("\n");
}

/** The time of a scheduled restart, and the version it waits for ("… if version < 16"). */
function scheduledRestart(m: ClusterMember): Cell {
  const s = m.scheduledRestart;
  if (s === null) return null;
  if (!isJsonObject(s) || typeof s["schedule"] !== "string") return cellOf(s);
  return typeof s["postgres_version"] === "string" ? `${s["schedule"]} if version < ${s["postgres_version"]}` : s["schedule"];
}

/** Tags at their defaults say nothing: the column shows the ones an operator set, like patronictl. */
const DEFAULT_TAGS: Readonly<Record<string, JsonValue>> = { nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false, clonefrom: false };

/**
 * The tags a member set: an object (YAML in a table, an object in JSON and YAML), or one line of
 * YAML's flow style in tsv and topology, as patronictl writes them.
 */
function tagsCell(tags: JsonObject, flow: boolean): Cell {
  const set = Object.entries(tags).filter(([key, value]) => DEFAULT_TAGS[key] !== value);
  if (set.length === 0) return null;
  return flow ? toYaml(Object.fromEntries(set), { collectionStyle: "flow", flowCollectionPadding: false }).trim() : Object.fromEntries(set);
}

function treeName(name: string, level: number): string {
  return level === 0 ? name : `${" ".repeat((level - 1) * 2)}+ ${name}`;
}

/**
 * patronictl's topology: the leader first, then each replica under the member it replicates from
 * (its replicatefrom tag, when that names another replica), else under the leader.
 */
export function topologyOrder(members: readonly ClusterMember[]): { member: ClusterMember; level: number }[] {
  const leader = members.find((m) => isLeaderRole(m.role)) ?? null;
  const replicas = new Set(members.filter((m) => m !== leader).map((m) => m.name));
  const children = new Map<string | null, ClusterMember[]>();
  for (const m of members) {
    if (m === leader) continue;
    const from = m.tags["replicatefrom"];
    const parent = typeof from === "string" && from !== m.name && replicas.has(from) ? from : (leader?.name ?? null);
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const out: { member: ClusterMember; level: number }[] = [];
  const seen = new Set<string>();
  const walk = (m: ClusterMember, level: number): void => {
    if (seen.has(m.name)) return;
    seen.add(m.name);
    out.push({ member: m, level });
    for (const child of children.get(m.name) ?? []) walk(child, level + 1);
  };
  if (leader !== null) walk(leader, 0);
  for (const m of children.get(null) ?? []) walk(m, 0);
  // Members in a replicatefrom cycle hang under nobody: show them at the top rather than hide them.
  for (const m of members) walk(m, 0);
  return out;
}
