/**
 * `raftgres pause` and `raftgres resume`: maintenance mode, no automatic failover. As patronictl
 * does, it writes the dynamic configuration's `pause` key (PATCH /config {"pause": true|false}),
 * which the server turns into the cluster state's pause. --wait polls every member's GET /patroni
 * until each reports the new mode.
 */
import type { Command } from "commander";
import { isJsonObject } from "../../../dcs/json.js";
import { refusal } from "../answers.js";
import { CLUSTER_ARGUMENT, checkClusterName } from "../cluster_name.js";
import type { CliContext } from "../context.js";
import { failed } from "../exit.js";

const WAIT_POLL_MS = 1000;
/** Every member reports the mode within a few HA cycles; beyond this something is wrong. */
const WAIT_MS_MAX = 120_000;

export function registerPause(program: Command, ctx: CliContext): void {
  for (const [name, paused] of [["pause", true], ["resume", false]] as const) {
    program.command(name)
      .description(paused ? "enter maintenance mode: no automatic failover, PostgreSQL left alone" : "leave maintenance mode")
      .argument("[cluster]", CLUSTER_ARGUMENT)
      .option("--wait", "wait until every member reports the new mode")
      .action(async (clusterName: string | undefined, opts: { wait?: boolean }) => setPause(ctx, clusterName, paused, opts.wait === true));
  }
}

async function setPause(ctx: CliContext, clusterName: string | undefined, paused: boolean, wait: boolean): Promise<void> {
  const cluster = await ctx.cluster();
  checkClusterName(cluster, clusterName);
  if (cluster.pause === paused) throw failed(paused ? "Cluster is already paused" : "Cluster is not paused");
  const answer = await ctx.api.call("PATCH", "/config", { body: { pause: paused } });
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, paused ? "pause" : "resume");
  if (wait) {
    ctx.out(`'${paused ? "pause" : "resume"}' request sent, waiting until it is recognized by all nodes`);
    await waitForMode(ctx, paused, cluster.members.flatMap((m) => (m.apiUrl === null ? [] : [m.apiUrl])));
  }
  ctx.out(`Success: cluster management is ${paused ? "paused" : "resumed"}`);
}

async function waitForMode(ctx: CliContext, paused: boolean, urls: readonly string[]): Promise<void> {
  for (let waitedMs = 0; waitedMs <= WAIT_MS_MAX; waitedMs += WAIT_POLL_MS) {
    const answers = await Promise.all(urls.map((url) => ctx.api.send(url, "GET", "/patroni")));
    const done = answers.every((a) => a.kind === "answered" && isJsonObject(a.answer.json) && (a.answer.json["pause"] === true) === paused);
    if (done) return;
    await ctx.io.sleep(WAIT_POLL_MS);
  }
  throw failed(`not every member reported ${paused ? "pause" : "resume"} within ${WAIT_MS_MAX / 1000} s`);
}
