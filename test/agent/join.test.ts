/**
 * Acceptance: a fourth database node joins a running cluster. Its node.yml names members to
 * contact (raft.join) instead of founding voters; it waits, outside the Raft group, until an
 * operator adds it (POST /raft/members, what `raftgres members add` calls); then it receives the
 * cluster state, clones the primary with pg_basebackup and streams.
 */
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create({ names: ["pg1", "pg2", "pg3", "pg4"], joining: ["pg4"] });
t.teardown(() => cluster.destroy());

t.test("a node configured with raft.join becomes a streaming replica once added to the Raft group", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(120_000);
  await cluster.query(primary, "CREATE TABLE joined (id int PRIMARY KEY)");
  await cluster.query(primary, "INSERT INTO joined SELECT generate_series(1, 100)");
  cluster.start("pg4");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.equal(cluster.postmasterPid("pg4"), null, "before it is added, the new node does nothing to PostgreSQL");
  const other = [...cluster.nodes.keys()].find((n) => n !== primary && n !== "pg4")!;
  const added = await fetch(`http://127.0.0.1:${cluster.spec(other).apiPort}/raft/members`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "pg4", address: `127.0.0.1:${cluster.spec("pg4").raftPort}` }),
    signal: AbortSignal.timeout(60_000),
  });
  t.equal(added.status, 200, `added: ${await added.text()}`);
  await cluster.waitHealthy(120_000);
  const rows = await waitFor("pg4 to replay the rows", 30_000, async () => {
    const r = await cluster.query<{ n: string }>("pg4", "SELECT count(*) AS n FROM joined");
    return Number(r[0]?.n) === 100 ? 100 : undefined;
  });
  t.equal(rows, 100, "pg4 streams from the primary and has its rows");
  const raft = (await (await fetch(`http://127.0.0.1:${cluster.spec("pg4").apiPort}/raft`)).json()) as { members: { name?: string; id?: string; role: string }[] };
  t.equal(raft.members.filter((m) => m.role === "voter").length, 4, "the Raft group has four voters");
});
