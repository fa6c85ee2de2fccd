/**
 * Acceptance: Patroni's callbacks (postgresql.callbacks) run with (action, role, scope) — on_start
 * as each member's PostgreSQL starts, on_role_change on both sides of a switchover, on_reload.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { PgCluster, waitFor } from "../support/pg_cluster.js";

const cluster = await PgCluster.create({ extraYaml: "  callbacks: CALLBACKS\n" });
t.teardown(() => cluster.destroy());

// The script records which agent called it (the parent of its shell), the action, role and scope.
const log = join(cluster.root, "callbacks.log");
const script = join(cluster.root, "callback.sh");
writeFileSync(script, `#!/bin/sh\necho "$(ps -o ppid= -p $PPID | tr -d ' ') $1 $2 $3" >> ${log}\n`, { mode: 0o755 });
for (const name of cluster.nodes.keys()) {
  const path = cluster.configPath(name);
  const actions = ["on_start", "on_stop", "on_restart", "on_reload", "on_role_change"].map((a) => `${a}: ${script}`).join(", ");
  writeFileSync(path, readFileSync(path, "utf8").replace("CALLBACKS", `{ ${actions} }`));
}

/** The callback lines of member `name`, as "action role scope". */
function calls(name: string): string[] {
  const pid = String(cluster.agentPid(name));
  const text = (() => {
    try {
      return readFileSync(log, "utf8");
    } catch {
      return "";
    }
  })();
  return text.split("\n").filter((l) => l.startsWith(`${pid} `)).map((l) => l.slice(pid.length + 1));
}

t.test("callbacks run on start, on both sides of a switchover and on reload", async (t) => {
  cluster.startAll();
  const old = await cluster.waitHealthy(120_000);
  for (const name of cluster.nodes.keys()) {
    const role = name === old ? "primary" : "replica";
    await waitFor(`${name}'s on_start`, 10_000, () => (calls(name).includes(`on_start ${role} test`) ? true : undefined));
    t.pass(`${name} ran on_start as ${role}`);
  }
  const candidate = [...cluster.nodes.keys()].find((n) => n !== old)!;
  await waitFor("the candidate's reported lag to reach 0", 15_000, async () => {
    const body = (await (await fetch(`http://127.0.0.1:${cluster.spec(old).apiPort}/cluster`)).json()) as { members: { name: string; lag?: unknown }[] };
    return body.members.find((m) => m.name === candidate)?.lag === 0 ? true : undefined;
  });
  const answer = await fetch(`http://127.0.0.1:${cluster.spec(old).apiPort}/switchover`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ leader: old, candidate }) });
  t.equal(answer.status, 200, await answer.text());
  await cluster.waitHealthy(60_000);
  await waitFor("on_role_change on the new primary", 10_000, () => (calls(candidate).includes("on_role_change primary test") ? true : undefined));
  t.pass(`${candidate} ran on_role_change as primary`);
  await waitFor("on_role_change on the old primary", 10_000, () => (calls(old).includes("on_role_change replica test") ? true : undefined));
  t.ok(calls(old).includes("on_stop primary test"), `${old} ran on_stop before following ${candidate}`);
  const reload = await fetch(`http://127.0.0.1:${cluster.spec(candidate).apiPort}/reload`, { method: "POST" });
  t.equal(reload.status, 202);
  await waitFor("on_reload", 10_000, () => (calls(candidate).includes("on_reload primary test") ? true : undefined));
  t.pass("on_reload ran");
});
