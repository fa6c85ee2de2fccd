/** `raftgres history`: the cluster's timeline switches (GET /history), patronictl's table. */
import type { Command } from "commander";
import { expectSuccess, readHistory } from "../answers.js";
import { CLUSTER_ARGUMENT, checkClusterNameOf } from "../cluster_name.js";
import type { CliContext } from "../context.js";
import { cellOf, lsnText, parseFormat, renderRows } from "../format.js";

export function registerHistory(program: Command, ctx: CliContext): void {
  program.command("history")
    .description("show the timeline history: each promotion, its LSN, reason and new primary")
    .argument("[cluster]", CLUSTER_ARGUMENT)
    .option("-f, --format <format>", "table, tsv, json or yaml", "table")
    .action(async (clusterName: string | undefined, opts: { format: string }) => {
      const format = parseFormat(opts.format, "table");
      await checkClusterNameOf(ctx, clusterName);
      const history = readHistory(expectSuccess(await ctx.api.call("GET", "/history"), "GET /history").json);
      const rows = history.map((h) => [cellOf(h.timeline), typeof h.lsn === "number" ? h.lsn : lsnText(h.lsn), cellOf(h.reason), cellOf(h.timestamp), cellOf(h.newLeader)]);
      ctx.out(renderRows({ columns: ["TL", "LSN", "Reason", "Timestamp", "New Leader"], rows, alignRight: ["TL", "LSN"] }, format));
    });
}
