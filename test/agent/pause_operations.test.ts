/**
 * Acceptance (issue 15): a switchover and a failover requested in pause are carried out as
 * Patroni documents — the named candidate alone promotes, the others follow, the old primary
 * rejoins as a replica, the history records the right kind — and the cluster is never left
 * without a primary by an operator's request. Real PostgreSQL, real agents.
 */
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const api = (name: string, method: string, path: string, body?: unknown) => cluster.api(name, method, path, body, 60_000);

/** The last entry of /history once it names `primary`. */
async function lastChange(primary: string): Promise<unknown[]> {
  return waitFor(`${primary} in the history`, 15_000, async () => {
    const entries = (await api(primary, "GET", "/history")).json as unknown as unknown[][];
    return Array.isArray(entries) && entries.at(-1)?.[4] === primary ? entries.at(-1) : undefined;
  });
}

t.test("in pause, POST /switchover to a named candidate gives the cluster that primary, and the old one follows it", async (t) => {
  cluster.startAll();
  const old = await cluster.waitHealthy(120_000);
  await cluster.query(old, "CREATE TABLE paused (id int PRIMARY KEY)");
  await cluster.query(old, "INSERT INTO paused SELECT generate_series(1, 300)");
  t.equal((await api(old, "PATCH", "/config", { pause: true })).status, 200);
  for (const name of cluster.nodes.keys()) await waitFor(`${name} in pause`, 10_000, async () => ((await api(name, "GET", "/patroni")).json["pause"] === true ? true : undefined));
  const candidate = [...cluster.nodes.keys()].find((n) => n !== old)!;
  await waitFor(`${candidate}'s reported lag to reach 0`, 15_000, async () => {
    const members = (await api(old, "GET", "/cluster")).json["members"] as { name: string; lag: unknown }[] | undefined;
    return members?.find((m) => m.name === candidate)?.lag === 0 ? true : undefined;
  });
  const answer = await api(old, "POST", "/switchover", { leader: old, candidate });
  t.equal(answer.status, 200, `answered ${JSON.stringify(answer.json)}`);
  t.equal(await cluster.waitHealthy(60_000), candidate, `${candidate} is the primary, the others stream from it, still in pause`);
  t.equal((await api(candidate, "GET", "/patroni")).json["pause"], true, "the cluster is still paused");
  const last = await lastChange(candidate);
  t.equal(last[2], "switchover", "the history records a switchover");
  const rows = await cluster.query<{ n: string }>(candidate, "SELECT count(*) AS n FROM paused");
  t.equal(Number(rows[0]?.n), 300, "no row was lost");
  t.equal((await api(candidate, "POST", "/switchover", { leader: candidate })).status, 400, "a switchover without a candidate is refused in pause");
});

t.test("in pause, a crashed primary is left alone until POST /failover names a candidate, which alone promotes", async (t) => {
  const primary = await cluster.waitHealthy(30_000);
  const pid = cluster.postmasterPid(primary);
  t.ok(pid !== null, "the primary's postmaster runs");
  process.kill(pid!, "SIGKILL");
  await waitFor(`${primary}'s PostgreSQL to be down`, 15_000, async () => ((await cluster.status(primary))?.state === "crashed" || (await cluster.status(primary))?.state === "stopped" ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  t.equal(await cluster.primary(), null, "pause: nothing restarts it and nobody promotes by itself");
  const candidate = [...cluster.nodes.keys()].filter((n) => n !== primary).sort().at(-1)!;
  const answer = await api(candidate, "POST", "/failover", { candidate });
  t.equal(answer.status, 200, `answered ${JSON.stringify(answer.json)}`);
  t.equal(await cluster.waitHealthy(90_000), candidate, `${candidate} is the primary and ${primary} rejoined as its replica`);
  const last = await lastChange(candidate);
  t.equal(last[2], "failover", "the history records a failover");
  t.equal((await api(candidate, "PATCH", "/config", { pause: false })).status, 200, "resume");
  t.equal(await cluster.waitHealthy(60_000), candidate, "and the cluster stays as it is");
});
