/**
 * `raftgres members`: the Raft group and its changes, over the REST API's /raft endpoints.
 *   members [list]                     the members (GET /raft, from the Raft leader when it can)
 *   members add <name> <host:port>     a new voter (added as a learner, promoted once caught up)
 *                [--learner]           …or a learner only
 *   members remove <name> [--force]    removes a node (asks first unless --force)
 *   members transfer <name>            hands the Raft leadership to a voter
 * Changes go to any node that answers: the server forwards them to the Raft leader.
 */
import type { Command } from "commander";
import { isJsonObject, type JsonObject, type JsonValue } from "../../../dcs/json.js";
import { expectSuccess, refusal, serverMessage } from "../answers.js";
import { type CliContext, timestamp } from "../context.js";
import { failed, usageError } from "../exit.js";
import { ACTION_TIMEOUT_MS, type Answer } from "../http.js";
import { type Cell, cellOf, type Format, parseFormat, renderRows } from "../format.js";

const FORMAT_HELP = "table, tsv, json or yaml";

export function registerMembers(program: Command, ctx: CliContext): void {
  const members = program.command("members")
    .description("show and change the Raft group: its members, their roles, match index and last contact")
    .option("-f, --format <format>", FORMAT_HELP, "table")
    .action(async (opts: { format: string }) => showMembers(ctx, parseFormat(opts.format, "table")));
  // `members list -f json`: -f belongs to `members`, which parses it wherever it stands.
  members.command("list")
    .description("show the Raft group (the default)")
    .action(async (_opts: unknown, command: Command) => showMembers(ctx, parseFormat(String(command.optsWithGlobals()["format"] ?? "table"), "table")));
  members.command("add")
    .description("add a node to the Raft group: as a learner, promoted to voter once it caught up")
    .argument("<name>", "the node's name (its raft node id: name in its node.yml)")
    .argument("<address>", "its Raft address, host:port (raft.listen in its node.yml)")
    .option("--learner", "add it as a learner only: it receives the log but does not vote")
    .action(async (name: string, address: string, opts: { learner?: boolean }) => add(ctx, name, address, opts.learner === true));
  members.command("remove")
    .description("remove a node from the Raft group")
    .argument("<name>", "the node")
    .option("--force", "do not ask for confirmation")
    .action(async (name: string, opts: { force?: boolean }) => remove(ctx, name, opts.force === true));
  members.command("transfer")
    .description("hand the Raft leadership to a voter (the PostgreSQL primary does not change)")
    .argument("<name>", "the voter to lead")
    .action(async (name: string) => transfer(ctx, name));
}

/** GET /raft of the first node that answers; from the Raft leader, which knows every match, when it can. */
async function readRaft(ctx: CliContext): Promise<JsonObject> {
  const first = expectSuccess(await ctx.api.call("GET", "/raft"), "GET /raft").json;
  if (!isJsonObject(first)) throw failed("GET /raft did not answer with a JSON object");
  const leaderUrl = first["leader_api_url"];
  if (first["role"] === "leader" || typeof leaderUrl !== "string") return first;
  const fromLeader = await ctx.api.send(leaderUrl, "GET", "/raft");
  if (fromLeader.kind !== "answered" || fromLeader.answer.status !== 200 || !isJsonObject(fromLeader.answer.json)) return first;
  return fromLeader.answer.json;
}

function membersOf(raft: JsonObject): JsonObject[] {
  const list = raft["members"];
  return Array.isArray(list) ? list.filter(isJsonObject) : [];
}

async function showMembers(ctx: CliContext, format: Format): Promise<void> {
  const raft = await readRaft(ctx);
  const rows: Cell[][] = membersOf(raft).map((m) => [cellOf(m["id"]), cellOf(m["address"]), cellOf(m["role"]), m["is_leader"] === true ? "*" : "", cellOf(m["match_index"]), lastContact(m["last_contact_ms"] ?? null)]);
  const title = ` Raft: term ${String(raft["term"] ?? "?")}, commit ${String(raft["commit_index"] ?? "?")}, seen from ${String(raft["node"] ?? "?")} `;
  ctx.out(renderRows({ title, columns: ["Node", "Address", "Role", "Leader", "Match", "Last Contact"], rows, alignRight: ["Match", "Last Contact"] }, format));
}

function lastContact(value: JsonValue): Cell {
  return typeof value === "number" ? `${Math.round(value)} ms ago` : cellOf(value);
}

async function change(ctx: CliContext, method: "POST" | "DELETE", path: string, what: string, body?: JsonObject): Promise<void> {
  const answer: Answer = await ctx.api.call(method, path, { timeoutMs: ACTION_TIMEOUT_MS, ...(body === undefined ? {} : { body }) });
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, what);
  ctx.out(`${timestamp()} ${serverMessage(answer)}`);
}

async function add(ctx: CliContext, name: string, address: string, learner: boolean): Promise<void> {
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(address)) throw usageError(`members add: ${JSON.stringify(address)} is not host:port (the node's raft.listen)`);
  await change(ctx, "POST", "/raft/members", "members add", { name, address, role: learner ? "learner" : "voter" });
  await showMembers(ctx, "table");
}

async function remove(ctx: CliContext, name: string, force: boolean): Promise<void> {
  if (!force) {
    const raft = await readRaft(ctx);
    const member = membersOf(raft).find((m) => m["id"] === name);
    if (member === undefined) throw failed(`${name} is not a member of the Raft group (members: ${membersOf(raft).map((m) => String(m["id"])).join(", ")})`);
    await showMembers(ctx, "table");
    const database = typeof member["api_url"] === "string" ? `; ${name} runs an agent, which loses the cluster state without it` : "";
    if (!(await ctx.prompt.confirm(`Are you sure you want to remove ${name} (${String(member["role"])} at ${String(member["address"])}) from the Raft group${database}?`))) throw failed("Aborted members remove");
  }
  await change(ctx, "DELETE", `/raft/members/${encodeURIComponent(name)}`, "members remove");
  await showMembers(ctx, "table");
}

async function transfer(ctx: CliContext, name: string): Promise<void> {
  await change(ctx, "POST", "/raft/transfer", "members transfer", { to: name });
  await showMembers(ctx, "table");
}
