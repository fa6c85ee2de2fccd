/**
 * `raftgres dsn`: a libpq connection string. For one member (--member, or --single-host for the
 * role's member) its host and port, as patronictl prints them; otherwise a multi-host URI over every member, where libpq finds the
 * right node itself (target_session_attrs: read-write for the primary, prefer-standby for a
 * replica, any) — the string survives a failover, which a single host does not.
 */
import type { Command } from "commander";
import { type ClusterMember, isLeaderRole } from "../answers.js";
import type { CliContext } from "../context.js";
import { failed, usageError } from "../exit.js";

const TARGET_SESSION_ATTRS = { primary: "read-write", replica: "prefer-standby", any: "any" } as const;

export function registerDsn(program: Command, ctx: CliContext): void {
  program.command("dsn")
    .description("print a libpq connection string (by default one that always reaches the primary)")
    .option("-r, --role <role>", "primary, replica or any", "primary")
    .option("-m, --member <name>", "one member's host and port")
    .option("-d, --dbname <name>", "the database to put in the connection string")
    .option("-1, --single-host", "one member's host= port= for --role, as patronictl prints it (it does not follow a failover)")
    .action(async (opts: { role: string; member?: string; dbname?: string; singleHost?: boolean }, command: Command) => {
      if (opts.member !== undefined && command.getOptionValueSource("role") === "cli") throw usageError("--role and --member are mutually exclusive options");
      const role = opts.role === "master" || opts.role === "leader" ? "primary" : opts.role;
      if (role !== "primary" && role !== "replica" && role !== "any") throw usageError(`--role ${JSON.stringify(opts.role)}: expected primary, replica or any`);
      const cluster = await ctx.cluster();
      if (opts.member !== undefined) {
        const member = cluster.members.find((m) => m.name === opts.member);
        if (member === undefined) throw failed(`${opts.member} is not a member of cluster ${cluster.scope ?? "?"}`);
        ctx.out(memberDsn(member, opts.dbname));
        return;
      }
      if (opts.singleHost === true) {
        const chosen = pickMember(cluster.members, role);
        if (chosen === undefined) throw failed(`no ${role === "any" ? "" : `${role} `}member of cluster ${cluster.scope ?? "?"} runs`);
        ctx.out(memberDsn(chosen, opts.dbname));
        return;
      }
      ctx.out(multiHostUri(cluster.members, role, opts.dbname));
    });
}

export function memberDsn(member: ClusterMember, dbname: string | undefined): string {
  if (member.host === null) throw failed(`${member.name} publishes no PostgreSQL address`);
  return [`host=${member.host}`, `port=${member.port ?? 5432}`, ...(dbname === undefined ? [] : [`dbname=${dbname}`])].join(" ");
}

/** The member patronictl's dsn names for a role: the leader; for replica the first running replica by name. */
export function pickMember(members: readonly ClusterMember[], role: keyof typeof TARGET_SESSION_ATTRS): ClusterMember | undefined {
  const leader = members.find((m) => isLeaderRole(m.role) && m.host !== null);
  if (role !== "replica") return leader ?? (role === "any" ? members.find((m) => m.host !== null) : undefined);
  return members.filter((m) => !isLeaderRole(m.role) && m.host !== null && (m.state === "streaming" || m.state === "running")).sort((a, b) => (a.name < b.name ? -1 : 1))[0];
}

/** The primary first, so that libpq's first try is usually the right one. */
export function multiHostUri(members: readonly ClusterMember[], role: keyof typeof TARGET_SESSION_ATTRS, dbname: string | undefined): string {
  const reachable = members.filter((m) => m.host !== null);
  if (reachable.length === 0) throw failed("no member publishes a PostgreSQL address");
  const ordered = [...reachable.filter((m) => isLeaderRole(m.role)), ...reachable.filter((m) => !isLeaderRole(m.role))];
  const hosts = ordered.map((m) => `${m.host!.includes(":") ? `[${m.host!}]` : m.host!}:${m.port ?? 5432}`).join(",");
  return `postgresql://${hosts}/${encodeURIComponent(dbname ?? "")}?target_session_attrs=${TARGET_SESSION_ATTRS[role]}`;
}
