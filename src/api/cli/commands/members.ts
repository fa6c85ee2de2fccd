/**
 * `raftgres members`: the Raft group as each node sees it (GET /patroni of every member, its
 * raftgres.raft section: role, term, the Raft leader), and — where the Raft leader publishes its
 * replication progress — each node's match index and last contact. Membership changes
 * (add, remove, transfer) have no REST endpoint yet: those subcommands say so and exit 1.
 */
import type { Command } from "commander";
import { isJsonObject, type JsonObject, type JsonValue } from "../../../dcs/json.js";
import type { CliContext } from "../context.js";
import { failed } from "../exit.js";
import { type Cell, cellOf, parseFormat, renderRows } from "../format.js";

interface NodeView {
  readonly member: string;
  readonly raft: JsonObject | null;
}

export function registerMembers(program: Command, ctx: CliContext): void {
  const members = program.command("members")
    .description("show the Raft group: each node's Raft role and term, match index and last contact")
    .option("-f, --format <format>", "table, tsv, json or yaml", "table")
    .action(async (opts: { format: string }) => showMembers(ctx, parseFormat(opts.format, "table")));
  for (const [name, what] of [["add", "add a node to the Raft group"], ["remove", "remove a node from the Raft group"], ["transfer", "hand the Raft leadership to a node"]] as const) {
    members.command(name)
      .description(`${what} (not supported yet)`)
      .argument("<node>", "the node")
      .action(() => {
        throw failed(`members ${name}: not supported yet: the REST API has no endpoint for Raft membership changes. The Raft group is set by raft.members in each node.yml.`);
      });
  }
}

async function showMembers(ctx: CliContext, format: ReturnType<typeof parseFormat>): Promise<void> {
  const cluster = await ctx.cluster();
  const views: NodeView[] = await Promise.all(cluster.members.map(async (m) => {
    if (m.apiUrl === null) return { member: m.name, raft: null };
    const result = await ctx.api.send(m.apiUrl, "GET", "/patroni");
    const body = result.kind === "answered" ? result.answer.json : undefined;
    const raftgres = isJsonObject(body) ? body["raftgres"] : undefined;
    const raft = isJsonObject(raftgres) ? raftgres["raft"] : undefined;
    return { member: m.name, raft: isJsonObject(raft) ? raft : null };
  }));
  if (views.every((v) => v.raft === null)) throw failed("no member's GET /patroni has a raftgres.raft section: the agents do not publish their Raft status (yet)");
  const progress = leaderProgress(views);
  const rows: Cell[][] = views.map((v) => {
    const p = progress.get(v.member) ?? {};
    return [v.member, v.raft === null ? "unreachable" : cellOf(v.raft["role"] ?? null), cellOf(v.raft?.["term"] ?? null), cellOf(v.raft?.["leader"] ?? null), cellOf(pick(p, ["match", "match_index", "matchIndex"])), lastContact(pick(p, ["last_contact_ms", "lastContactMs", "last_contact"]))];
  });
  ctx.out(renderRows({ columns: ["Node", "Raft Role", "Term", "Raft Leader", "Match", "Last Contact"], rows, alignRight: ["Term", "Match", "Last Contact"] }, format));
}

function lastContact(value: JsonValue): Cell {
  return typeof value === "number" ? `${Math.round(value)} ms ago` : cellOf(value);
}

function pick(object: JsonObject, keys: readonly string[]): JsonValue {
  for (const key of keys) if (object[key] !== undefined) return object[key]!;
  return null;
}

/** The Raft leader's view of its followers: a list under members/peers/progress, or a map by id. */
function leaderProgress(views: readonly NodeView[]): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  const leader = views.find((v) => v.raft?.["role"] === "leader")?.raft;
  if (leader === undefined || leader === null) return out;
  const list = leader["members"] ?? leader["peers"] ?? leader["progress"] ?? null;
  if (Array.isArray(list)) {
    for (const entry of list) if (isJsonObject(entry)) out.set(String(entry["id"] ?? entry["name"] ?? ""), entry);
  } else if (isJsonObject(list)) {
    for (const [id, entry] of Object.entries(list)) if (isJsonObject(entry)) out.set(id, entry);
  }
  return out;
}
