/**
 * `raftgres remove <cluster>`, patronictl's remove: the whole cluster state of a scope goes —
 * members, lease, dynamic config, histories, initialization (DELETE /cluster). It asks as
 * patronictl asks: the cluster's name again, then "Yes I am aware"; there is no --force.
 *
 * Where it differs from Patroni: raftgres's DCS is the agents' own Raft log, and an agent that
 * runs while its scope's state goes would adopt its data directory again as a new cluster (with
 * the default config), so the cluster state refuses the removal while any member of the scope
 * still reports or holds the lease (src/dcs/decide.ts decideRemoveScope). patronictl's third
 * question, the leader's name when the cluster is healthy, is that refusal here. The agents of
 * the scope must be stopped first and the request carried by another agent of the same Raft
 * group: remove is for a group that serves other clusters too. When the group serves only this
 * one, its agents are the whole DCS; stopped, there is nothing left to remove from.
 */
import type { Command } from "commander";
import { isValidName } from "../../../dcs/model.js";
import { refusal, serverMessage } from "../answers.js";
import type { CliContext } from "../context.js";
import { CliExit, EXIT, failed, usageError } from "../exit.js";
import { ACTION_TIMEOUT_MS } from "../http.js";
import { parseFormat } from "../format.js";
import { printMembers } from "./list.js";

const AWARE = "Yes I am aware";

const HELP_AFTER = `
Every agent of the cluster must be stopped first: the cluster state refuses the removal while a
member of it reported within the ttl or holds the lease, since a running agent would adopt its
data directory again as a new cluster. The request goes through an agent of the same Raft group
that serves another cluster. In a Raft group that serves only this cluster, its agents are the
whole cluster state: to start over, stop them and delete their raft data directories instead.
PostgreSQL and its data directories are not touched. Started again, an agent forms a new cluster:
a member with a data directory adopts it, one with an empty directory may run initdb.`;

export function registerRemove(program: Command, ctx: CliContext): void {
  program.command("remove")
    .description("remove a cluster's whole state (members, lease, config, history) from the Raft log")
    .argument("<cluster>", "the cluster's name (its scope)")
    .option("-f, --format <format>", "the member table before the questions: table, tsv, json or yaml", "table")
    .addHelpText("after", HELP_AFTER)
    .action(async (name: string, opts: { format: string }) => remove(ctx, name, opts.format));
}

async function remove(ctx: CliContext, name: string, format: string): Promise<void> {
  if (!isValidName(name)) throw usageError(`${JSON.stringify(name.slice(0, 80))} is not a cluster name (letters, digits, '_', '.', '-', at most 63)`);
  const cluster = await ctx.cluster();
  if (cluster.scope === name) {
    await printMembers(ctx, { format: parseFormat(format, "table"), extended: false, topology: false, scope: name });
    // This node's own cluster: its agent reports, so the cluster state would refuse. Say why now.
    const reporting = cluster.members.filter((m) => m.state !== "unknown").map((m) => m.name);
    if (reporting.length > 0) {
      throw failed([
        `cannot remove ${name}: ${reporting.join(", ")} still report (their agents run), the node answering among them.`,
        `Stop every agent of ${name}, then run remove through an agent of the same Raft group that serves another cluster.`,
        `If the Raft group serves only ${name}, its agents are the whole cluster state: stop them and delete their raft data directories to start over.`,
      ].join("\n"));
    }
  } else {
    ctx.out(`Cluster ${name} is not the one of the node answering (${cluster.scope ?? "?"}): its state is removed from the Raft group that node belongs to.`);
  }
  await ask(ctx, "Please confirm the cluster name to remove", name, "Cluster names specified do not match");
  await ask(ctx, `You are about to remove all information in the cluster state for ${name}, please type: "${AWARE}"`, AWARE, `You did not exactly type "${AWARE}"`);
  const answer = await ctx.api.call("DELETE", "/cluster", { body: { cluster: name }, timeoutMs: ACTION_TIMEOUT_MS });
  if (answer.status !== 200) throw refusal(answer, `remove ${name}`);
  ctx.out(`Success: ${serverMessage(answer)}`);
}

/** One question whose answer must be `expected` exactly; anything else aborts (exit 1). */
async function ask(ctx: CliContext, question: string, expected: string, mismatch: string): Promise<void> {
  let typed: string;
  try {
    typed = await ctx.prompt.text(question);
  } catch (error: unknown) {
    // The prompter's hint names --force, which remove does not take: its answers come from stdin.
    if (error instanceof CliExit) throw failed(`no answer to "${question}" (end of input): remove asks, and takes its answers from stdin`);
    throw error;
  }
  if (typed !== expected) throw new CliExit(EXIT.failed, mismatch);
}
