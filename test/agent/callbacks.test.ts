/**
 * Acceptance: Patroni's callbacks (postgresql.callbacks) run with (action, role, scope) — on_start
 * as each member's PostgreSQL starts, on_role_change on both sides of a switchover, on_reload —
 * and the pre_promote hook, whose failure cancels a promotion until it succeeds.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create({ extraYaml: "  callbacks: CALLBACKS\n  pre_promote: PRE_PROMOTE\n" });
t.teardown(() => cluster.destroy());

// The script records which agent called it (the parent of its shell), the action, role and scope.
const log = join(cluster.root, "callbacks.log");
const script = join(cluster.root, "callback.sh");
// pre_promote passes while this file exists.
const allow = join(cluster.root, "allow-promotion");
writeFileSync(allow, "");
writeFileSync(script, `#!/bin/sh\necho "$(ps -o ppid= -p $PPID | tr -d ' ') $1 $2 $3" >> ${log}\n`, { mode: 0o755 });
for (const name of cluster.nodes.keys()) {
  const path = cluster.configPath(name);
  const actions = ["on_start", "on_stop", "on_restart", "on_reload", "on_role_change"].map((a) => `${a}: ${script}`).join(", ");
  writeFileSync(path, readFileSync(path, "utf8").replace("CALLBACKS", `{ ${actions} }`).replace("PRE_PROMOTE", `"test -e ${allow}"`));
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

t.test("a failing pre_promote hook cancels the promotion: the lease is released, nobody promotes until the hook passes", async (t) => {
  const old = await cluster.waitHealthy(60_000);
  rmSync(allow);
  const postmaster = cluster.postmasterPid(old);
  cluster.signalAgent(old, "SIGKILL");
  process.kill(postmaster!, "SIGKILL");
  await waitFor("a cancelled promotion", 20_000, () => ([...cluster.nodes.keys()].some((n) => n !== old && cluster.agentLog(n).includes("not promoting: pre_promote exited with 1")) ? true : undefined));
  t.pass("a replica took the lease, ran pre_promote, and gave the lease back");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.equal(await cluster.primary(), null, "no member promoted while the hook fails");
  writeFileSync(allow, "");
  const next = await waitFor("a primary once the hook passes", 30_000, async () => (await cluster.primary()) ?? undefined);
  t.not(next, old, `${next} promoted`);
  cluster.start(old);
  t.equal(await cluster.waitHealthy(90_000), next, "and the old primary rejoins");
});
