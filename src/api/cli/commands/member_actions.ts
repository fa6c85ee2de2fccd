/**
 * `raftgres restart`, `reload` and `reinit`: actions on members, each sent to that member's own
 * REST API (its api_url in GET /cluster), one line of outcome per member as patronictl prints
 * it. Exit code: 0 when every member did it, 3 when no member could be reached, 1 otherwise.
 */
import type { Command } from "commander";
import { isJsonObject, type JsonObject } from "../../../dcs/json.js";
import { type ClusterMember, type ClusterView, isLeaderRole, serverMessage } from "../answers.js";
import type { CliContext } from "../context.js";
import { CliExit, EXIT, failed, usageError } from "../exit.js";
import { memberWords } from "../cluster_name.js";
import { ACTION_TIMEOUT_MS, type SendResult } from "../http.js";
import { printMembers } from "./list.js";

type Role = "primary" | "replica" | "any";
/** How long reinit --wait waits for the member to run again: a base backup of a big cluster is slow. */
const REINIT_WAIT_MS_MAX = 60 * 60 * 1000;
const REINIT_POLL_MS = 1000;
/** How long restart --switchover waits for the old primary to run as a replica. */
const SWITCHOVER_REJOIN_MS_MAX = 120_000;

interface Selection {
  role?: string;
  force?: boolean;
}

export function registerMemberActions(program: Command, ctx: CliContext): void {
  program.command("restart")
    .description("restart PostgreSQL on members (all of --role when none is named)")
    .argument("[members...]", "members to restart, after the cluster's name if given (patronictl's restart CLUSTER [MEMBER...])")
    .option("-r, --role <role>", "only members with this role: primary, replica or any", "any")
    .option("--pending", "only members whose settings wait for a restart")
    .option("--scheduled <time>", "when: an ISO 8601 time with a time zone, or now")
    .option("--switchover", "restart the primary as a replica: switch over to the best replica first (no write downtime beyond the switchover)")
    .option("--force", "do not ask for confirmation")
    .action(async (names: string[], opts: RestartOptions) => restart(ctx, names, opts));
  program.command("reload")
    .description("reload the configuration of members (the agent's and PostgreSQL's)")
    .argument("[members...]", "members to reload, after the cluster's name if given (patronictl's reload CLUSTER [MEMBER...])")
    .option("-r, --role <role>", "only members with this role: primary, replica or any", "any")
    .option("--force", "do not ask for confirmation")
    .action(async (names: string[], opts: Selection) => reload(ctx, names, opts));
  program.command("reinit")
    .description("rebuild replicas from scratch (a new base backup)")
    .argument("<members...>", "replicas to rebuild, after the cluster's name if given (patronictl's reinit CLUSTER MEMBER...)")
    .option("--force", "do not ask; cancel an action the member is running")
    .option("--from-leader", "take the base backup from the primary")
    .option("--from <member>", "take the base backup from this member (default: a running member tagged clonefrom, else the primary)")
    .option("--wait", "wait until each member runs again")
    .action(async (names: string[], opts: ReinitOptions) => reinit(ctx, names, opts));
}

function parseRole(role: string | undefined): Role {
  if (role === undefined || role === "any") return "any";
  if (role === "primary" || role === "leader" || role === "master") return "primary";
  if (role === "replica" || role === "standby") return "replica";
  throw usageError(`--role ${JSON.stringify(role)}: expected primary, replica or any`);
}

async function select(ctx: CliContext, cluster: ClusterView, words: readonly string[], opts: Selection, action: string): Promise<ClusterMember[]> {
  const role = parseRole(opts.role);
  const names = memberWords(cluster, words);
  const force = opts.force === true;
  if (cluster.members.length === 0) throw failed(`cluster ${cluster.scope ?? "?"} has no members`);
  if (!force) await printMembers(ctx, { format: "table", extended: false, topology: false });
  const ofRole = cluster.members.filter((m) => role === "any" || (role === "primary") === isLeaderRole(m.role));
  let chosen = [...names];
  if (chosen.length === 0 && !force) {
    const answer = await ctx.prompt.ask(`Which member do you want to ${action} [${ofRole.map((m) => m.name).join(", ")}]?`, "all");
    chosen = answer === "all" ? [] : answer.split(/[\s,]+/).filter((n) => n !== "");
  }
  for (const name of chosen) {
    if (!cluster.members.some((m) => m.name === name)) throw failed(`${name} is not a member of cluster ${cluster.scope ?? "?"} (members: ${cluster.members.map((m) => m.name).join(", ")})`);
  }
  const members = chosen.length === 0 ? ofRole : ofRole.filter((m) => chosen.includes(m.name));
  if (members.length === 0) throw failed(`no ${role} among the members named (${chosen.join(", ")})`);
  return members;
}

async function confirm(ctx: CliContext, members: readonly ClusterMember[], action: string, force: boolean, scheduled: string | null = null): Promise<void> {
  if (force) return;
  const names = members.map((m) => m.name).join(", ");
  const question = scheduled === null ? `Are you sure you want to ${action} members ${names}?` : `Are you sure you want to schedule ${action} of members ${names} at ${scheduled}?`;
  if (!(await ctx.prompt.confirm(question))) throw failed(`Aborted ${action}`);
}

/** Sends to the member's own API; a member without one is reported as unreachable. */
async function sendTo(ctx: CliContext, member: ClusterMember, path: string, body: JsonObject): Promise<SendResult> {
  if (member.apiUrl === null) return { kind: "unreachable", url: "(no api_url)", error: `${member.name} publishes no REST API address` };
  return ctx.api.send(member.apiUrl, "POST", path, { body, timeoutMs: ACTION_TIMEOUT_MS });
}

/** Tallies outcomes: the exit code the summary rule gives. */
class Outcomes {
  private ok = 0;
  private unreachable = 0;
  private refused = 0;
  succeeded(): void {
    this.ok++;
  }
  failedTo(result: SendResult): void {
    if (result.kind === "unreachable") this.unreachable++;
    else this.refused++;
  }
  finish(): void {
    if (this.refused === 0 && this.unreachable === 0) return;
    const code = this.ok === 0 && this.refused === 0 ? EXIT.unreachable : EXIT.failed;
    throw new CliExit(code, `${this.refused + this.unreachable} member(s) did not do it (${this.unreachable} unreachable)`);
  }
}

function failure(action: string, member: ClusterMember, result: SendResult): string {
  if (result.kind === "unreachable") return `Failed: ${action} for member ${member.name}: cannot reach ${result.url} (${result.error})`;
  return `Failed: ${action} for member ${member.name}, status code=${result.answer.status}, (${serverMessage(result.answer)})`;
}

type RestartOptions = Selection & { pending?: boolean; scheduled?: string; switchover?: boolean };

async function restart(ctx: CliContext, names: string[], opts: RestartOptions): Promise<void> {
  const cluster = await ctx.cluster();
  const members = await select(ctx, cluster, names, opts, "restart");
  let scheduled: string | null = null;
  if (opts.scheduled !== undefined && opts.scheduled !== "now") {
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(opts.scheduled) || Number.isNaN(Date.parse(opts.scheduled))) throw usageError(`--scheduled ${JSON.stringify(opts.scheduled)}: expected an ISO 8601 time with a time zone, or now`);
    if (cluster.pause) throw failed("Can't schedule restart in the paused state");
    scheduled = opts.scheduled;
  }
  await confirm(ctx, members, "restart", opts.force === true, scheduled);
  const body: JsonObject = { ...(opts.pending === true ? { restart_pending: true } : {}), ...(scheduled === null ? {} : { schedule: scheduled }) };
  const outcomes = new Outcomes();
  // Replicas first, the primary last, one at a time (each POST /restart returns once PostgreSQL
  // runs again): the cluster never has two members down for a restart.
  const ordered = [...members.filter((m) => !isLeaderRole(m.role)), ...members.filter((m) => isLeaderRole(m.role))];
  if (opts.switchover === true && scheduled !== null) throw usageError("--switchover restarts now; it cannot be combined with --scheduled");
  for (const member of ordered) {
    // --pending restarts the members that wait for it; the others are not failures (exit 0).
    if (opts.pending === true && scheduled === null && !member.pendingRestart && !(await pendingRestart(ctx, member))) {
      ctx.out(`Skipped: no restart pending on member ${member.name}`);
      continue;
    }
    if (opts.switchover === true && isLeaderRole(member.role)) {
      if (!(await switchOverFrom(ctx, member, outcomes))) continue;
    }
    const result = await sendTo(ctx, member, "/restart", body);
    if (result.kind === "answered" && (result.answer.status === 200 || result.answer.status === 202)) {
      ctx.out(result.answer.status === 200 ? `Success: restart on member ${member.name}` : `Success: restart scheduled on member ${member.name}`);
      outcomes.succeeded();
      continue;
    }
    ctx.out(result.kind === "answered" && result.answer.status === 409 ? `Failed: another restart is already scheduled on member ${member.name}` : failure("restart", member, result));
    outcomes.failedTo(result);
  }
  outcomes.finish();
}

/** Whether the member's PostgreSQL waits for a restart (its GET /patroni). */
async function pendingRestart(ctx: CliContext, member: ClusterMember): Promise<boolean> {
  if (member.apiUrl === null) return false;
  const status = await ctx.api.send(member.apiUrl, "GET", "/patroni");
  return status.kind === "answered" && isJsonObject(status.answer.json) && status.answer.json["pending_restart"] === true;
}

/** Hands the primary role over (the server picks the candidate) and waits for it; false when it did not happen. */
async function switchOverFrom(ctx: CliContext, member: ClusterMember, outcomes: Outcomes): Promise<boolean> {
  const result = await sendTo(ctx, member, "/switchover", { leader: member.name });
  if (result.kind === "answered" && result.answer.status === 200) {
    ctx.out(`Success: ${serverMessage(result.answer)} before restarting ${member.name}`);
    // The old primary stops for the handover and starts again as a replica: restart that one.
    for (let waitedMs = 0; waitedMs < SWITCHOVER_REJOIN_MS_MAX; waitedMs += REINIT_POLL_MS) {
      const status = await ctx.api.send(member.apiUrl ?? "", "GET", "/patroni");
      const json = status.kind === "answered" && isJsonObject(status.answer.json) ? status.answer.json : {};
      if (json["role"] === "replica" && json["state"] === "running") return true;
      await ctx.io.sleep(REINIT_POLL_MS);
    }
    ctx.out(`Failed: ${member.name} did not run as a replica within ${SWITCHOVER_REJOIN_MS_MAX / 1000} s after the switchover; not restarting it`);
    outcomes.failedTo({ kind: "unreachable", url: member.apiUrl ?? "", error: "not running as a replica" });
    return false;
  }
  ctx.out(failure("switchover", member, result));
  outcomes.failedTo(result);
  return false;
}

async function reload(ctx: CliContext, names: string[], opts: Selection): Promise<void> {
  const cluster = await ctx.cluster();
  const members = await select(ctx, cluster, names, opts, "reload");
  await confirm(ctx, members, "reload", opts.force === true);
  const loopWait = await loopWaitSeconds(ctx);
  const outcomes = new Outcomes();
  for (const member of members) {
    const result = await sendTo(ctx, member, "/reload", {});
    if (result.kind === "answered" && (result.answer.status === 200 || result.answer.status === 202)) {
      ctx.out(result.answer.status === 200 ? `No changes to apply on member ${member.name}` : `Reload request received for member ${member.name} and will be processed within ${loopWait} seconds`);
      outcomes.succeeded();
      continue;
    }
    ctx.out(failure("reload", member, result));
    outcomes.failedTo(result);
  }
  outcomes.finish();
}

async function loopWaitSeconds(ctx: CliContext): Promise<number> {
  const answer = await ctx.api.call("GET", "/config");
  const value = isJsonObject(answer.json) ? answer.json["loop_wait"] : undefined;
  return typeof value === "number" ? value : 10;
}

type ReinitOptions = { force?: boolean; fromLeader?: boolean; from?: string; wait?: boolean };

async function reinit(ctx: CliContext, names: string[], opts: ReinitOptions): Promise<void> {
  if (opts.from !== undefined && opts.fromLeader === true) throw usageError("--from and --from-leader exclude each other");
  const cluster = await ctx.cluster();
  // Without names select() takes every member: never a rebuild of all, primary included.
  if (memberWords(cluster, names).length === 0) throw usageError(`reinit needs the replicas to rebuild: reinit ${cluster.scope ?? "CLUSTER"} MEMBER...`);
  const members = await select(ctx, cluster, names, { force: opts.force === true }, "reinitialize");
  await confirm(ctx, members, "reinitialize", opts.force === true);
  const outcomes = new Outcomes();
  const started: ClusterMember[] = [];
  for (const member of members) {
    const result = await sendTo(ctx, member, "/reinitialize", { force: opts.force === true, from_leader: opts.fromLeader === true, ...(opts.from === undefined ? {} : { from: opts.from }) });
    if (result.kind === "answered" && result.answer.status >= 200 && result.answer.status < 300) {
      ctx.out(`Success: reinitialize for member ${member.name}`);
      outcomes.succeeded();
      started.push(member);
      continue;
    }
    ctx.out(failure("reinitialize", member, result));
    outcomes.failedTo(result);
  }
  if (opts.wait === true) for (const member of started) await waitRunning(ctx, member);
  outcomes.finish();
}

/**
 * Waits until the member's PostgreSQL runs again. The rebuild starts asynchronously, so "running"
 * counts only after another state was seen, or once it has lasted a few polls.
 */
async function waitRunning(ctx: CliContext, member: ClusterMember): Promise<void> {
  ctx.out(`Waiting for reinitialize to complete on: ${member.name}`);
  let sawOther = false;
  let runningPolls = 0;
  for (let waitedMs = 0; waitedMs < REINIT_WAIT_MS_MAX; waitedMs += REINIT_POLL_MS) {
    await ctx.io.sleep(REINIT_POLL_MS);
    const result = await ctx.api.send(member.apiUrl ?? "", "GET", "/patroni");
    const state = result.kind === "answered" && isJsonObject(result.answer.json) ? result.answer.json["state"] : undefined;
    if (state !== "running") sawOther = true;
    else runningPolls++;
    if (state === "running" && (sawOther || runningPolls >= 5)) {
      ctx.out(`Reinitialize is completed on: ${member.name}`);
      return;
    }
  }
  throw failed(`${member.name} did not run again within ${REINIT_WAIT_MS_MAX / 60_000} minutes`);
}
