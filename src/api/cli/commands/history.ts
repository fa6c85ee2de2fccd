/** `raftgres history`: the cluster's timeline switches (GET /history), patronictl's table. */
import type { Command } from "commander";
import { expectSuccess, readHistory } from "../answers.js";
import type { CliContext } from "../context.js";
import { cellOf, lsnText, parseFormat, renderRows } from "../format.js";

export function registerHistory(program: Command, ctx: CliContext): void {
  program.command("history")
    .description("show the timeline history: each promotion, its LSN, reason and new primary")
    .option("-f, --format <format>", "table, tsv, json or yaml", "table")
    .action(async (opts: { format: string }) => {
      const format = parseFormat(opts.format, "table");
      const history = readHistory(expectSuccess(await ctx.api.call("GET", "/history"), "GET /history").json);
      const rows = history.map((h) => [cellOf(h.timeline), typeof h.lsn === "number" ? h.lsn : lsnText(h.lsn), cellOf(h.reason), cellOf(h.timestamp), cellOf(h.newLeader)]);
      ctx.out(renderRows({ columns: ["TL", "LSN", "Reason", "Timestamp", "New Leader"], rows, alignRight: ["TL", "LSN"] }, format));
    });
}
