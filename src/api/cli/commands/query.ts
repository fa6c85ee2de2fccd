/**
 * `raftgres query [cluster] (--command SQL | -f file) [-r role | -m member]`, patronictl's query: one
 * statement on one member's PostgreSQL (the primary by default), its rows as tsv (or a table,
 * json, yaml). The user is -U, else the superuser of -c node.yml; the password comes from
 * --password (asked), PGPASSWORD, or node.yml — never from the command line.
 */
import type { Command } from "commander";
import { isLeaderRole, type ClusterMember } from "../answers.js";
import type { CliContext } from "../context.js";
import { failed, usageError } from "../exit.js";
import { parseFormat, renderRows } from "../format.js";

interface QueryOptions {
  role: string;
  member?: string;
  command?: string;
  file?: string;
  username?: string;
  password?: boolean;
  dbname: string;
  format: string;
}

export function registerQuery(program: Command, ctx: CliContext): void {
  program.command("query")
    .description("run one SQL statement on a member's PostgreSQL (the primary by default)")
    .argument("[cluster]", "the cluster's name, as patronictl takes it (checked against the scope)")
    .option("-r, --role <role>", "primary, replica or any", "primary")
    .option("-m, --member <name>", "this member")
    .option("--command <sql>", "the statement (patronictl's -c: here -c names the node file, before the command)")
    .option("-f, --file <path>", "read the statement from a file (- for standard input)")
    .option("-U, --username <user>", "the database user (default: the superuser of -c node.yml)")
    .option("--password", "ask for the password")
    .option("-d, --dbname <name>", "the database", "postgres")
    .option("--format <format>", "tsv, table, json or yaml", "tsv")
    .action(async (clusterName: string | undefined, opts: QueryOptions, command: Command) => query(ctx, clusterName, opts, command));
}

async function query(ctx: CliContext, clusterName: string | undefined, opts: QueryOptions, command: Command): Promise<void> {
  if ((opts.command === undefined) === (opts.file === undefined)) throw usageError("query needs one of --command and -f/--file");
  if (opts.member !== undefined && command.getOptionValueSource("role") === "cli") throw usageError("--role and --member are mutually exclusive options");
  const format = parseFormat(opts.format, "tsv");
  const run = ctx.io.query;
  if (run === undefined) throw failed("this build of the CLI has no PostgreSQL client: run raftgres query from the raftgres binary");
  const statement = opts.file === undefined ? opts.command! : readStatement(ctx, opts.file);
  const cluster = await ctx.cluster();
  if (clusterName !== undefined && cluster.scope !== null && clusterName !== cluster.scope) throw failed(`this node serves cluster ${cluster.scope}, not ${clusterName}`);
  const member = chooseMember(cluster.members, opts);
  if (member.host === null) throw failed(`${member.name} publishes no PostgreSQL address`);
  const user = opts.username ?? ctx.nodeFileString(["postgresql", "authentication", "superuser", "username"]);
  if (user === null) throw usageError("query needs a database user: -U <user>, or -c node.yml with postgresql.authentication.superuser");
  const password = opts.password === true ? await ctx.prompt.ask("Password", "") : (ctx.io.env["PGPASSWORD"] ?? (opts.username === undefined ? (ctx.nodeFileString(["postgresql", "authentication", "superuser", "password"]) ?? undefined) : undefined));
  let result;
  try {
    result = await run({ host: member.host, port: member.port ?? 5432, user, password, database: opts.dbname }, statement);
  } catch (error) {
    throw failed(`query on ${member.name} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (result.columns.length > 0) ctx.out(renderRows({ columns: result.columns, rows: result.rows }, format));
}

function readStatement(ctx: CliContext, path: string): string {
  try {
    return ctx.io.readFile(path);
  } catch (error) {
    throw usageError(`--file ${JSON.stringify(path)} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function chooseMember(members: readonly ClusterMember[], opts: QueryOptions): ClusterMember {
  if (opts.member !== undefined) {
    const found = members.find((m) => m.name === opts.member);
    if (found === undefined) throw failed(`${opts.member} is not a member (members: ${members.map((m) => m.name).join(", ")})`);
    return found;
  }
  const role = opts.role === "leader" || opts.role === "master" ? "primary" : opts.role;
  if (role !== "primary" && role !== "replica" && role !== "any") throw usageError(`--role ${JSON.stringify(opts.role)}: expected primary, replica or any`);
  const running = members.filter((m) => m.state === "running" || m.state === "streaming");
  const chosen = role === "any" ? running[0] : running.find((m) => (role === "primary") === isLeaderRole(m.role));
  if (chosen === undefined) throw failed(`no running ${role === "any" ? "member" : role}`);
  return chosen;
}
