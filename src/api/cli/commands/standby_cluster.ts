/**
 * `raftgres promote-cluster`: a standby cluster becomes a normal one (patronictl promote-cluster,
 * Patroni 4.1). Exactly the operator's own PATCH /config {"standby_cluster": null} — the standby
 * leader then promotes on a new timeline and the other members follow it — and then a wait until
 * the lease holder reports itself a primary in GET /patroni.
 */
import type { Command } from "commander";
import { isJsonObject } from "../../../dcs/json.js";
import { expectSuccess, isLeaderRole, leaderOf, refusal } from "../answers.js";
import { type CliContext, timestamp } from "../context.js";
import { failed } from "../exit.js";
import { printMembers } from "./list.js";

const WAIT_POLL_MS = 500;
/** A promotion takes a few HA cycles; beyond this something is wrong (see the agents' reasons). */
const WAIT_MS_MAX = 60_000;

export function registerStandbyCluster(program: Command, ctx: CliContext): void {
  program.command("promote-cluster")
    .description("turn a standby cluster into a normal one: remove standby_cluster from the config and wait until the standby leader is the primary")
    .option("--force", "do not ask for confirmation")
    .action(async (opts: { force?: boolean }) => promoteCluster(ctx, opts.force === true));
}

async function promoteCluster(ctx: CliContext, force: boolean): Promise<void> {
  const config = expectSuccess(await ctx.api.call("GET", "/config"), "GET /config").json;
  const section = isJsonObject(config) ? config["standby_cluster"] : undefined;
  if (section === undefined || section === null) throw failed("this cluster is not a standby cluster: its config has no standby_cluster section");
  const cluster = await ctx.cluster();
  const scope = cluster.scope ?? "?";
  const leader = leaderOf(cluster);
  if (!force) {
    const who = leader === null ? "no member holds the lease yet" : `${leader.name} will be promoted`;
    if (!(await ctx.prompt.confirm(`Are you sure you want to promote standby cluster ${scope} (${who})?`))) throw failed("Aborting promote-cluster");
  }
  const answer = await ctx.api.call("PATCH", "/config", { body: { standby_cluster: null } });
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, "promote-cluster");
  ctx.out(`${timestamp()} standby_cluster removed from the config; waiting for the standby leader to promote`);
  const primary = await waitForPrimary(ctx);
  ctx.out(`Success: cluster ${scope} is no longer a standby cluster: ${primary} is the primary`);
  await printMembers(ctx, { format: "table", extended: false, topology: false });
}

/** Polls until the lease holder's GET /patroni says role primary; returns its name. */
async function waitForPrimary(ctx: CliContext): Promise<string> {
  let last = "no member holds the lease";
  for (let waitedMs = 0; waitedMs <= WAIT_MS_MAX; waitedMs += WAIT_POLL_MS) {
    const cluster = await ctx.cluster().catch(() => null);
    const holder = cluster?.members.find((m) => isLeaderRole(m.role)) ?? null;
    if (holder !== null && holder.apiUrl !== null) {
      const sent = await ctx.api.send(holder.apiUrl, "GET", "/patroni");
      const role = sent.kind === "answered" && isJsonObject(sent.answer.json) ? sent.answer.json["role"] : undefined;
      if (role === "primary") return holder.name;
      last = `${holder.name} reports role ${typeof role === "string" ? role : "unknown"}`;
    }
    await ctx.io.sleep(WAIT_POLL_MS);
  }
  throw failed(`the standby leader did not become the primary within ${WAIT_MS_MAX / 1000} s (${last}); see the reason in raftgres list or GET /patroni`);
}
