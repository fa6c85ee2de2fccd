/**
 * `raftgres demote-cluster` and `raftgres promote-cluster` (patronictl 4.1's, with its options):
 *
 * - demote-cluster: a running cluster becomes a standby cluster of a source (`--host`, `--port`,
 *   `--restore-command`, `--primary-slot-name`). As patronictl, it adds a standby_cluster section
 *   to the dynamic config (PATCH /config, compare-and-set on the version just read) — with
 *   `"demote_cluster": "<the lease holder>"`, the explicit operation the cluster state asks for
 *   (src/dcs/demote_cluster.ts) — then waits until the lease holder runs as the standby leader.
 *   The lease holder stops its primary, keeps the lease, is rewound against the source if it went
 *   past the source's history, and follows it; the other members follow the standby leader.
 * - promote-cluster: exactly the operator's own PATCH /config {"standby_cluster": null} — the
 *   standby leader then promotes on a new timeline and the other members follow it — and then a
 *   wait until the lease holder reports itself a primary in GET /patroni.
 *
 * Both take patronictl's optional CLUSTER name, checked against the scope.
 */
import type { Command } from "commander";
import { DEMOTE_CLUSTER_KEY } from "../../../dcs/demote_cluster.js";
import { isJsonObject, type JsonObject } from "../../../dcs/json.js";
import { STANDBY_CLUSTER_KEY, standbyClusterOf, standbyClusterProblem } from "../../../dcs/standby_cluster.js";
import { type ClusterView, expectSuccess, isLeaderRole, leaderOf, refusal } from "../answers.js";
import { type CliContext, timestamp } from "../context.js";
import { failed, usageError } from "../exit.js";
import { printMembers } from "./list.js";

const WAIT_POLL_MS = 500;
/** A promotion takes a few HA cycles; beyond this something is wrong (see the agents' reasons). */
const PROMOTE_WAIT_MS_MAX = 60_000;
/** A demotion may run pg_rewind against the source, which takes as long as the changed data. */
const DEMOTE_WAIT_MS_MAX = 300_000;
/** The longest option value taken (a restore_command); the section's own checks follow. */
const OPTION_CHARS_MAX = 1024;

interface DemoteOptions {
  host?: string;
  port?: string;
  restoreCommand?: string;
  primarySlotName?: string;
  force?: boolean;
}

export function registerStandbyCluster(program: Command, ctx: CliContext): void {
  program.command("demote-cluster")
    .description("turn a running cluster into a standby cluster of a source: its primary stops and follows the source as the standby leader (what the cluster wrote that the source lacks is rewound away)")
    .argument("[cluster]", "the cluster's name, as patronictl takes it (checked against the scope)")
    .option("--host <host>", "the source's primary: a host name or address, or a comma-separated list")
    .option("--port <port>", "the source's port (default 5432)")
    .option("--restore-command <command>", "a restore_command fetching the source's WAL from its archive")
    .option("--primary-slot-name <name>", "a replication slot on the source for the standby leader")
    .option("--force", "do not ask for confirmation")
    .action(async (cluster: string | undefined, opts: DemoteOptions) => demoteCluster(ctx, cluster, opts));
  program.command("promote-cluster")
    .description("turn a standby cluster into a normal one: remove standby_cluster from the config and wait until the standby leader is the primary")
    .argument("[cluster]", "the cluster's name, as patronictl takes it (checked against the scope)")
    .option("--force", "do not ask for confirmation")
    .action(async (cluster: string | undefined, opts: { force?: boolean }) => promoteCluster(ctx, cluster, opts.force === true));
}

/** The standby_cluster section the options describe, checked as the cluster state will check it. */
export function demoteSection(opts: DemoteOptions): JsonObject {
  for (const [flag, value] of [["--host", opts.host], ["--port", opts.port], ["--restore-command", opts.restoreCommand], ["--primary-slot-name", opts.primarySlotName]] as const) {
    if (value !== undefined && (value.length === 0 || value.length > OPTION_CHARS_MAX)) throw usageError(`${flag} must be 1 to ${OPTION_CHARS_MAX} characters, got ${value.length}`);
  }
  if (opts.host === undefined && opts.port === undefined && opts.restoreCommand === undefined) {
    throw usageError("name the source: at least --host, --port or --restore-command");
  }
  if (opts.port !== undefined && !/^\d{1,5}$/.test(opts.port)) throw usageError(`--port must be a port number from 1 to 65535, got ${JSON.stringify(opts.port)}`);
  const section: JsonObject = {
    ...(opts.host === undefined ? {} : { host: opts.host }),
    ...(opts.port === undefined ? {} : { port: Number(opts.port) }),
    ...(opts.primarySlotName === undefined ? {} : { primary_slot_name: opts.primarySlotName }),
    ...(opts.restoreCommand === undefined ? {} : { restore_command: opts.restoreCommand }),
  };
  const problem = standbyClusterProblem({ [STANDBY_CLUSTER_KEY]: section });
  if (problem !== null) throw usageError(problem);
  return section;
}

function checkScope(cluster: ClusterView, name: string | undefined): string {
  const scope = cluster.scope ?? "?";
  if (name !== undefined && cluster.scope !== null && name !== cluster.scope) throw failed(`this node serves cluster ${cluster.scope}, not ${name}: name the right cluster, or connect to one of its nodes`);
  return scope;
}

async function readConfig(ctx: CliContext): Promise<{ config: JsonObject; etag: string | null }> {
  const answer = expectSuccess(await ctx.api.call("GET", "/config"), "GET /config");
  if (!isJsonObject(answer.json)) throw failed("GET /config did not answer with a JSON object");
  const etag = answer.headers["etag"];
  return { config: answer.json, etag: typeof etag === "string" ? etag : null };
}

async function demoteCluster(ctx: CliContext, name: string | undefined, opts: DemoteOptions): Promise<void> {
  const section = demoteSection(opts);
  const { config, etag } = await readConfig(ctx);
  const cluster = await ctx.cluster();
  const scope = checkScope(cluster, name);
  if (standbyClusterOf(config) !== null) throw failed(`cluster ${scope} is a standby cluster already (standby_cluster: ${JSON.stringify(config[STANDBY_CLUSTER_KEY])}); change the section with edit-config`);
  const leader = leaderOf(cluster);
  if (leader === null) throw failed(`no member of cluster ${scope} holds the lease: demote-cluster stops the running primary, and there is none`);
  const source = section["host"] === undefined && section["port"] === undefined ? `the archive (${String(section["restore_command"])})` : `${String(section["host"] ?? "127.0.0.1")}:${String(section["port"] ?? 5432)}`;
  if (opts.force !== true) {
    ctx.out(`${leader.name} stops its primary and follows ${source} as the standby leader; the other members follow it. Writes to ${scope} end, and what ${scope} wrote that the source does not have is rewound away.`);
    if (!(await ctx.prompt.confirm(`Are you sure you want to demote cluster ${scope}?`))) throw failed("Aborting demote-cluster");
  }
  const ifMatch = etag === null ? {} : { headers: { "if-match": etag } };
  const answer = await ctx.api.call("PATCH", "/config", { body: { [STANDBY_CLUSTER_KEY]: section, [DEMOTE_CLUSTER_KEY]: leader.name }, ...ifMatch });
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, "demote-cluster");
  ctx.out(`${timestamp()} standby_cluster added to the config; waiting for ${leader.name} to run as the standby leader`);
  const standbyLeader = await waitForRole(ctx, "standby_leader", DEMOTE_WAIT_MS_MAX);
  ctx.out(`Success: cluster ${scope} is a standby cluster of ${source}: ${standbyLeader} is the standby leader`);
  await printMembers(ctx, { format: "table", extended: false, topology: false });
}

async function promoteCluster(ctx: CliContext, name: string | undefined, force: boolean): Promise<void> {
  const { config } = await readConfig(ctx);
  const cluster = await ctx.cluster();
  const scope = checkScope(cluster, name);
  const section = config[STANDBY_CLUSTER_KEY];
  if (section === undefined || section === null) throw failed(`cluster ${scope} is not a standby cluster: its config has no standby_cluster section`);
  const leader = leaderOf(cluster);
  if (!force) {
    const who = leader === null ? "no member holds the lease yet" : `${leader.name} will be promoted`;
    if (!(await ctx.prompt.confirm(`Are you sure you want to promote standby cluster ${scope} (${who})?`))) throw failed("Aborting promote-cluster");
  }
  const answer = await ctx.api.call("PATCH", "/config", { body: { [STANDBY_CLUSTER_KEY]: null } });
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, "promote-cluster");
  ctx.out(`${timestamp()} standby_cluster removed from the config; waiting for the standby leader to promote`);
  const primary = await waitForRole(ctx, "primary", PROMOTE_WAIT_MS_MAX);
  ctx.out(`Success: cluster ${scope} is no longer a standby cluster: ${primary} is the primary`);
  await printMembers(ctx, { format: "table", extended: false, topology: false });
}

/**
 * Polls until the lease holder's GET /patroni says `role` with PostgreSQL running; returns its
 * name. Each new reason the holder gives (stopping, rewinding …) is printed as it comes.
 */
async function waitForRole(ctx: CliContext, role: "primary" | "standby_leader", waitMsMax: number): Promise<string> {
  let last = "no member holds the lease";
  let shown = "";
  for (let waitedMs = 0; waitedMs <= waitMsMax; waitedMs += WAIT_POLL_MS) {
    const cluster = await ctx.cluster().catch(() => null);
    const holder = cluster?.members.find((m) => isLeaderRole(m.role)) ?? null;
    if (holder !== null && holder.apiUrl !== null) {
      const sent = await ctx.api.send(holder.apiUrl, "GET", "/patroni");
      const body = sent.kind === "answered" && isJsonObject(sent.answer.json) ? sent.answer.json : {};
      if (body["role"] === role && body["state"] === "running") return holder.name;
      const extra = isJsonObject(body["raftgres"]) ? body["raftgres"] : {};
      const reason = typeof extra["reason"] === "string" ? `: ${extra["reason"]}` : "";
      const where = `${holder.name} reports role ${typeof body["role"] === "string" ? body["role"] : "unknown"}, state ${typeof body["state"] === "string" ? body["state"] : "unknown"}`;
      last = `${where}${reason}`;
      // A demotion goes through several states (stopping, rewinding, starting): each is shown once.
      if (where !== shown && role === "standby_leader") ctx.out(`${timestamp()} ${last}`);
      shown = where;
    }
    await ctx.io.sleep(WAIT_POLL_MS);
  }
  const what = role === "primary" ? "the standby leader did not become the primary" : "the lease holder did not come to run as the standby leader";
  throw failed(`${what} within ${waitMsMax / 1000} s (${last}); see the reason in raftgres list or GET /patroni`);
}
