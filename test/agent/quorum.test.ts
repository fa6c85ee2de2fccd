/**
 * Acceptance: quorum commit on four real nodes (a primary and three replicas) with
 * synchronous_mode quorum and synchronous_node_count 2 — every commit waits for ANY 2 of the three
 * standbys; with one of them killed, writes go on and it leaves the quorum; it rejoins it when it
 * comes back. The claim in the cluster state follows (three voters, quorum 2).
 */
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create({ names: ["pg1", "pg2", "pg3", "pg4"] });
t.teardown(() => cluster.destroy());

async function syncNames(name: string): Promise<string> {
  const rows = await cluster.query<{ v: string }>(name, "SELECT current_setting('synchronous_standby_names') AS v");
  return rows[0]!.v;
}

async function quorumStandbys(name: string): Promise<string[]> {
  const response = await fetch(`${cluster.apiUrl(name)}/cluster`, { signal: AbortSignal.timeout(5000) });
  const members = ((await response.json()) as { members: { name: string; role: string }[] }).members;
  return members.filter((m) => m.role === "quorum_standby").map((m) => m.name).sort();
}

t.test("ANY 2 of three standbys; one killed, writes go on", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(180_000);
  const patched = await fetch(`${cluster.apiUrl(primary)}/config`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ synchronous_mode: "quorum", synchronous_node_count: 2 }), signal: AbortSignal.timeout(10_000) });
  t.equal(patched.status, 200);
  const replicas = [...cluster.nodes.keys()].filter((n) => n !== primary).sort();
  const all = `ANY 2 (${replicas.map((r) => `"${r}"`).join(", ")})`;
  await waitFor(`synchronous_standby_names = ${all} and three voters`, 30_000, async () => (((await syncNames(primary)) === all && (await quorumStandbys(primary)).length === 3) ? true : undefined), 250);
  t.pass(`the primary waits for ${all}`);
  await cluster.query(primary, "CREATE TABLE q (id int)");
  const down = replicas[0]!;
  const postmaster = cluster.postmasterPid(down);
  cluster.signalAgent(down, "SIGKILL");
  if (postmaster !== null) process.kill(postmaster, "SIGKILL");
  const client = await cluster.connect(primary);
  try {
    const written = await Promise.race([client.query("INSERT INTO q VALUES (1)").then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000))]);
    t.ok(written, `a commit is confirmed by ANY 2 of the other two standbys with ${down} down`);
  } finally {
    await client.end().catch(() => {});
  }
  const rest = replicas.slice(1);
  const two = `ANY 2 (${rest.map((r) => `"${r}"`).join(", ")})`;
  await waitFor(`${down} out of the quorum`, 20_000, async () => ((await syncNames(primary)) === two ? true : undefined), 250);
  t.same(await waitFor("two voters in the cluster state", 10_000, async () => {
    const voters = await quorumStandbys(primary);
    return voters.length === 2 ? voters : undefined;
  }), rest, "the cluster state lists the two voters");
  cluster.start(down);
  await cluster.waitHealthy(90_000);
  await waitFor(`${down} back in the quorum`, 30_000, async () => ((await syncNames(primary)) === all ? true : undefined), 250);
  t.pass(`${down} votes again`);
});
