/**
 * `raftgres switchover` and `raftgres failover`, as patronictl does them: ask for what is missing
 * (unless --force), show the topology, confirm, POST /switchover or /failover, print the server's
 * message with a timestamp, and the topology after. A refusal prints the server's reasons,
 * candidate by candidate, and exits 1.
 */
import type { Command } from "commander";
import type { JsonObject } from "../../../dcs/json.js";
import { type ClusterView, leaderOf, refusal, serverMessage } from "../answers.js";
import { CLUSTER_ARGUMENT, checkClusterName } from "../cluster_name.js";
import { type CliContext, timestamp } from "../context.js";
import { failed, usageError } from "../exit.js";
import { ACTION_TIMEOUT_MS } from "../http.js";
import { printMembers } from "./list.js";

type Action = "switchover" | "failover";

interface ActionOptions {
  leader?: string;
  candidate?: string;
  scheduled?: string;
  force?: boolean;
  allowDataLoss?: boolean;
}

export function registerSwitchover(program: Command, ctx: CliContext): void {
  program.command("switchover")
    .description("hand the primary role to a healthy replica, now or at a scheduled time")
    .option("--leader <name>", "the current primary (checked against the cluster)")
    .option("--primary <name>", "the same as --leader")
    .option("--candidate <name>", "the replica to promote (default: the server picks the best)")
    .option("--scheduled <time>", "when: an ISO 8601 time with a time zone, or now")
    .option("--force", "ask nothing: the current primary, the server's choice of candidate, now")
    .argument("[cluster]", CLUSTER_ARGUMENT)
    .action(async (clusterName: string | undefined, opts: ActionOptions & { primary?: string }) => {
      await run(ctx, "switchover", clusterName, { ...opts, ...(opts.leader === undefined && opts.primary !== undefined ? { leader: opts.primary } : {}) });
    });
  program.command("failover")
    .description("promote a named replica, also when there is no healthy primary (may lose data)")
    .option("--candidate <name>", "the replica to promote (required with --force)")
    .option("--allow-data-loss", "promote the candidate even if it is behind (lag, or not known to hold every synchronous commit)")
    .option("--force", "ask nothing")
    .argument("[cluster]", CLUSTER_ARGUMENT)
    .action(async (clusterName: string | undefined, opts: ActionOptions) => run(ctx, "failover", clusterName, opts));
}

async function run(ctx: CliContext, action: Action, clusterName: string | undefined, opts: ActionOptions): Promise<void> {
  const force = opts.force === true;
  const cluster = await ctx.cluster();
  checkClusterName(cluster, clusterName);
  const scope = cluster.scope ?? "?";
  const current = leaderOf(cluster);
  if (action === "switchover" && current === null) throw failed(`cluster ${scope} has no primary: a switchover needs one (use failover --candidate)`);
  let leader = opts.leader ?? current?.name ?? null;
  if (action === "switchover" && opts.leader === undefined && !force) leader = await ctx.prompt.ask("Primary", current!.name);
  if (leader !== null && current !== null && leader !== current.name) throw failed(`${leader} is not the primary of cluster ${scope} (the primary is ${current.name})`);
  const names = candidateNames(cluster, leader);
  if (names.length === 0) throw failed(`no candidates found to ${action} to`);
  let candidate = opts.candidate ?? null;
  if (candidate === null && !force) candidate = (await ctx.prompt.ask(`Candidate [${names.map((n) => `'${n}'`).join(", ")}]`, "")) || null;
  if (action === "failover" && candidate === null) throw usageError("failover needs a candidate: --candidate <name>");
  if (candidate !== null && candidate === leader) throw failed(`${action} target and source are the same (${candidate})`);
  if (candidate !== null && !cluster.members.some((m) => m.name === candidate)) throw failed(`${candidate} is not a member of cluster ${scope} (members: ${cluster.members.map((m) => m.name).join(", ")})`);
  const scheduledAt = action === "switchover" ? await schedule(ctx, opts.scheduled, force, cluster) : null;
  ctx.out("Current cluster topology");
  await printMembers(ctx, { format: "table", extended: false, topology: false });
  if (!force) {
    const demoting = leader === null ? "" : `, demoting current primary ${leader}`;
    const question = scheduledAt === null ? `Are you sure you want to ${action} cluster ${scope}${demoting}?` : `Are you sure you want to schedule ${action} of cluster ${scope} at ${scheduledAt}${demoting}?`;
    if (!(await ctx.prompt.confirm(question))) throw failed(`Aborting ${action}`);
  }
  const body: JsonObject = { ...(leader === null ? {} : { leader }), ...(candidate === null ? {} : { candidate }), ...(scheduledAt === null ? {} : { scheduled_at: scheduledAt }), ...(opts.allowDataLoss === true ? { allow_data_loss: true } : {}) };
  const target = current?.apiUrl ?? cluster.members.find((m) => m.name === candidate)?.apiUrl ?? null;
  const answer = await send(ctx, target, action, body);
  if (answer.status !== 200 && answer.status !== 202) throw refusal(answer, action[0]!.toUpperCase() + action.slice(1));
  ctx.out(`${timestamp()} ${serverMessage(answer)}`);
  await printMembers(ctx, { format: "table", extended: false, topology: false });
}

/** Members that may take over: not the leader, not tagged nofailover; sorted for a stable prompt. */
function candidateNames(cluster: ClusterView, leader: string | null): string[] {
  return cluster.members.filter((m) => m.name !== leader && m.tags["nofailover"] !== true).map((m) => m.name).sort();
}

async function schedule(ctx: CliContext, given: string | undefined, force: boolean, cluster: ClusterView): Promise<string | null> {
  let text = given ?? null;
  if (text === null && !force) {
    const nextHour = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16);
    text = await ctx.prompt.ask(`When should the switchover take place (e.g. ${nextHour})`, "now");
  }
  if (text === null || text === "now") return null;
  // The server wants a time zone (Patroni answers 400 without one): insist here, with the fix.
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text) || Number.isNaN(Date.parse(text))) {
    throw usageError(`--scheduled ${JSON.stringify(text)}: expected an ISO 8601 time with a time zone, like 2030-01-31T04:00:00+00:00, or now`);
  }
  if (cluster.pause) throw failed("Can't schedule switchover in the paused state");
  return text;
}

/** To the primary's API first (as patronictl does), else to any node that answers. */
async function send(ctx: CliContext, target: string | null, action: Action, body: JsonObject) {
  const options = { body, timeoutMs: ACTION_TIMEOUT_MS };
  if (target !== null) {
    const direct = await ctx.api.send(target, "POST", `/${action}`, options);
    if (direct.kind === "answered") return direct.answer;
  }
  return ctx.api.call("POST", `/${action}`, options);
}
