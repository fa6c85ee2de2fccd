/** `raftgres version`: this CLI's version, then each member's agent and PostgreSQL versions. */
import type { Command } from "commander";
import { isJsonObject } from "../../../dcs/json.js";
import type { CliContext } from "../context.js";
import { CLI_VERSION } from "../version.js";

export function registerVersion(program: Command, ctx: CliContext): void {
  program.command("version")
    .description("print the CLI's version and each member's agent and PostgreSQL versions")
    .argument("[members...]", "only these members")
    .action(async (names: string[]) => {
      ctx.out(`raftgres version ${CLI_VERSION}`);
      const cluster = await ctx.cluster();
      for (const member of cluster.members.filter((m) => names.length === 0 || names.includes(m.name))) {
        const result = member.apiUrl === null ? null : await ctx.api.send(member.apiUrl, "GET", "/patroni");
        const body = result?.kind === "answered" && isJsonObject(result.answer.json) ? result.answer.json : null;
        if (body === null) {
          ctx.out(`${member.name}: unreachable${result?.kind === "unreachable" ? ` (${result.error})` : ""}`);
          continue;
        }
        const agent = isJsonObject(body["patroni"]) ? body["patroni"]["version"] : undefined;
        ctx.out(`${member.name}: raftgres ${typeof agent === "string" ? agent : "?"} PostgreSQL ${postgresVersion(body["server_version"])}`);
      }
    });
}

/** 150004 → 15.4, 90624 → 9.6.24 (PostgreSQL's server_version_num). */
export function postgresVersion(value: unknown): string {
  if (typeof value !== "number" || !Number.isInteger(value)) return typeof value === "string" ? value : "?";
  if (value >= 100_000) return `${Math.floor(value / 10_000)}.${value % 10_000}`;
  return `${Math.floor(value / 10_000)}.${Math.floor(value / 100) % 100}.${value % 100}`;
}
