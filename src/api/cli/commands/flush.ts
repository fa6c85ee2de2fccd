/**
 * `raftgres flush [cluster] [members...] restart|switchover`, patronictl's: forget scheduled
 * restarts on members (DELETE /restart on each member's own API, all members when none is
 * named), or a scheduled switchover (DELETE /switchover). A member with nothing scheduled is not
 * a failure; an unreachable one or a refusal is (exit 1).
 */
import type { Command } from "commander";
import { isLeaderRole, serverMessage } from "../answers.js";
import type { CliContext } from "../context.js";
import { CliExit, EXIT, failed, usageError } from "../exit.js";

const TARGETS = ["restart", "switchover"] as const;

export function registerFlush(program: Command, ctx: CliContext): void {
  program.command("flush")
    .description("discard scheduled events: flush [cluster] [members...] restart|switchover")
    .argument("<words...>", "the cluster's name (optional), members (restart only), then restart or switchover")
    .option("-r, --role <role>", "restart only: members with this role: primary, replica or any", "any")
    .option("--force", "do not ask for confirmation")
    .action(async (words: string[], opts: { role: string; force?: boolean }) => flush(ctx, words, opts));
}

async function flush(ctx: CliContext, words: readonly string[], opts: { role: string; force?: boolean }): Promise<void> {
  const target = words[words.length - 1];
  if (target !== "restart" && target !== "switchover") throw usageError(`flush: the last word must be ${TARGETS.join(" or ")}, got ${JSON.stringify(target ?? "")}`);
  const cluster = await ctx.cluster();
  let names = words.slice(0, -1);
  if (names[0] !== undefined && names[0] === cluster.scope && !cluster.members.some((m) => m.name === names[0])) names = names.slice(1);
  if (target === "switchover") {
    if (names.length > 0) throw usageError(`flush switchover takes no member names (got ${names.join(", ")})`);
    const answer = await ctx.api.call("DELETE", "/switchover");
    if (answer.status === 200) return ctx.out(`Success: ${serverMessage(answer)}`);
    if (answer.status === 404) return ctx.out("No pending scheduled switchover");
    throw failed(`Failed: flush switchover, status code=${answer.status}, (${serverMessage(answer)})`);
  }
  const role = opts.role === "leader" || opts.role === "master" ? "primary" : opts.role;
  if (role !== "primary" && role !== "replica" && role !== "any") throw usageError(`--role ${JSON.stringify(opts.role)}: expected primary, replica or any`);
  for (const name of names) {
    if (!cluster.members.some((m) => m.name === name)) throw failed(`${name} is not a member of cluster ${cluster.scope ?? "?"} (members: ${cluster.members.map((m) => m.name).join(", ")})`);
  }
  const members = cluster.members.filter((m) => (names.length === 0 || names.includes(m.name)) && (role === "any" || (role === "primary") === isLeaderRole(m.role)));
  if (opts.force !== true && !(await ctx.prompt.confirm(`Are you sure you want to flush scheduled restarts of members ${members.map((m) => m.name).join(", ")}?`))) throw failed("Aborted flush");
  let failures = 0;
  for (const member of members) {
    if (member.apiUrl === null) {
      ctx.out(`Failed: flush scheduled restart for member ${member.name}: it publishes no REST API address`);
      failures++;
      continue;
    }
    const result = await ctx.api.send(member.apiUrl, "DELETE", "/restart");
    if (result.kind === "answered" && result.answer.status === 200) ctx.out(`Success: flush scheduled restart for member ${member.name}`);
    else if (result.kind === "answered" && result.answer.status === 404) ctx.out(`No scheduled restart on member ${member.name}`);
    else {
      ctx.out(result.kind === "unreachable" ? `Failed: flush scheduled restart for member ${member.name}: cannot reach ${result.url} (${result.error})` : `Failed: flush scheduled restart for member ${member.name}, status code=${result.answer.status}, (${serverMessage(result.answer)})`);
      failures++;
    }
  }
  if (failures > 0) throw new CliExit(EXIT.failed, `${failures} member(s) could not be flushed`);
}
