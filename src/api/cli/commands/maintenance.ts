/**
 * `raftgres maintenance <member> [on|off]`: takes one member out (its agent leaves PostgreSQL
 * alone; it is never promoted nor a synchronous standby) or puts it back. Taking out the primary
 * switches over first (to --candidate, or the best replica); the server waits for the new primary.
 */
import type { Command } from "commander";
import { isLeaderRole, refusal, serverMessage } from "../answers.js";
import { type CliContext, timestamp } from "../context.js";
import { failed, usageError } from "../exit.js";
import { ACTION_TIMEOUT_MS } from "../http.js";

export function registerMaintenance(program: Command, ctx: CliContext): void {
  program.command("maintenance")
    .description("take one member out of the cluster for maintenance (on), or put it back (off); the primary switches over first")
    .argument("<member>", "the member")
    .argument("[mode]", "on or off", "on")
    .option("--candidate <name>", "when the member is the primary: the replica to switch over to")
    .option("--force", "do not ask for confirmation")
    .action(async (member: string, mode: string, opts: { candidate?: string; force?: boolean }) => maintenance(ctx, member, mode, opts));
}

async function maintenance(ctx: CliContext, member: string, mode: string, opts: { candidate?: string; force?: boolean }): Promise<void> {
  if (mode !== "on" && mode !== "off") throw usageError(`maintenance mode ${JSON.stringify(mode)}: expected on or off`);
  const cluster = await ctx.cluster();
  const found = cluster.members.find((m) => m.name === member);
  if (found === undefined) throw failed(`${member} is not a member of cluster ${cluster.scope ?? "?"} (members: ${cluster.members.map((m) => m.name).join(", ")})`);
  const on = mode === "on";
  if (on && opts.force !== true) {
    const primary = isLeaderRole(found.role) ? `; ${member} is the primary and switches over first` : "";
    if (!(await ctx.prompt.confirm(`Are you sure you want to take ${member} out for maintenance${primary}?`))) throw failed("Aborted maintenance");
  }
  const body = opts.candidate === undefined ? {} : { candidate: opts.candidate };
  const answer = await ctx.api.call(on ? "POST" : "DELETE", `/members/${encodeURIComponent(member)}/maintenance`, { body, timeoutMs: ACTION_TIMEOUT_MS });
  if (answer.status !== 200) throw refusal(answer, "Maintenance");
  ctx.out(`${timestamp()} ${serverMessage(answer)}`);
}
