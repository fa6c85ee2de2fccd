/**
 * End to end on three real agents: `raftgres maintenance` takes the primary out (it switches over
 * first, and its agent then leaves PostgreSQL alone: a killed postmaster stays down) and puts it
 * back; `raftgres restart --switchover` restarts the primary as a replica after a switchover.
 */
import { readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { cli } from "./support.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

cluster.startAll();
await cluster.waitHealthy(120_000);
const urls = [...cluster.nodes.values()].map((n) => `http://127.0.0.1:${n.apiPort}`).join(",");
const raftgres = (args: string[]) => cli(["--url", urls, ...args], { realSleep: true });

async function clusterMembers(): Promise<{ name: string; role: string; maintenance?: boolean }[]> {
  const name = [...cluster.nodes.keys()][0]!;
  const response = await fetch(`http://127.0.0.1:${cluster.spec(name).apiPort}/cluster`, { signal: AbortSignal.timeout(5000) });
  return ((await response.json()) as { members: { name: string; role: string; maintenance?: boolean }[] }).members;
}

t.test("maintenance of the primary: a switchover first, then its PostgreSQL is left alone until it is put back", async (t) => {
  const old = await cluster.waitHealthy();
  const r = await raftgres(["maintenance", old, "on", "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`${old} is in maintenance after switching over to pg\\d`));
  const next = await waitFor("the new primary", 30_000, async () => (await cluster.primary()) ?? undefined);
  t.not(next, old, "another member is the primary");
  t.equal((await clusterMembers()).find((m) => m.name === old)?.maintenance, true, "GET /cluster shows the member in maintenance");
  const pid = await waitFor(`${old}'s postmaster as a replica`, 60_000, async () => ((await cluster.status(old))?.role === "replica" ? cluster.postmasterPid(old) ?? undefined : undefined));
  process.kill(pid, "SIGKILL");
  await new Promise((resolve) => setTimeout(resolve, 4000));
  t.equal(cluster.postmasterPid(old), null, "its killed postmaster stays down: the agent leaves it alone");
  t.match((await cluster.status(old))?.reason ?? "", /MAINTENANCE/, "and says why");
  const back = await raftgres(["maintenance", old, "off"]);
  t.equal(back.code, 0, back.stderr);
  t.equal(await cluster.waitHealthy(60_000), next, `${old} runs again as a replica of ${next}`);
  const unknown = await raftgres(["maintenance", "nobody", "on", "--force"]);
  t.equal(unknown.code, 1, "an unknown member is refused");
});

t.test("restart --switchover: the primary hands over, then restarts as a replica", async (t) => {
  const old = await cluster.waitHealthy();
  const before = cluster.postmasterPid(old);
  const r = await raftgres(["restart", old, "--switchover", "--force"]);
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.match(r.stdout, /Success: Successfully switched over to "pg\d" before restarting/);
  t.match(r.stdout, `Success: restart on member ${old}`);
  const next = await cluster.waitHealthy(60_000);
  t.not(next, old, "the primary changed");
  t.not(cluster.postmasterPid(old), before, `${old} runs a new postmaster`);
});

t.test("reinit --from: a replica rebuilt from another replica", async (t) => {
  const primary = await cluster.waitHealthy();
  const [target, source] = [...cluster.nodes.keys()].filter((n) => n !== primary) as [string, string];
  await cluster.query(primary, "CREATE TABLE IF NOT EXISTS rebuilt (id int)");
  await cluster.query(primary, "INSERT INTO rebuilt SELECT generate_series(1, 100)");
  const r = await raftgres(["reinit", target, "--from", source, "--force", "--wait"]);
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.match(cluster.agentLog(target), `reinitializing from ${source}`, `${target} cloned from ${source}`);
  t.equal(await cluster.waitHealthy(60_000), primary);
  const rows = await waitFor(`${target} to have the rows`, 30_000, async () => {
    const n = await cluster.query<{ n: string }>(target, "SELECT count(*) AS n FROM rebuilt").catch(() => []);
    return Number(n[0]?.n) === 100 ? 100 : undefined;
  });
  t.equal(rows, 100);
  const refused = await raftgres(["reinit", target, "--from", "nobody", "--force"]);
  t.equal(refused.code, 1, "a source that is not a member is refused");
  t.match(refused.stdout, /not a member/);
});

t.test("replicatefrom: a replica tagged to cascade streams from another replica, and falls back to the primary without it", async (t) => {
  const primary = await cluster.waitHealthy();
  const [via, cascading] = [...cluster.nodes.keys()].filter((n) => n !== primary).sort() as [string, string];
  const file = cluster.configPath(cascading);
  const original = readFileSync(file, "utf8");
  writeFileSync(file, `${original}\ntags:\n  replicatefrom: ${via}\n`);
  const reloaded = await fetch(`${cluster.apiUrl(cascading)}/reload`, { method: "POST", signal: AbortSignal.timeout(10_000) });
  t.equal(reloaded.status, 202);
  const upstreamPort = async (): Promise<number | undefined> => {
    const rows = await cluster.query<{ port: number | null; status: string }>(cascading, "SELECT sender_port AS port, status FROM pg_stat_wal_receiver").catch(() => []);
    return rows[0]?.status === "streaming" && rows[0].port !== null ? rows[0].port : undefined;
  };
  await waitFor(`${cascading} to stream from ${via}`, 30_000, async () => ((await upstreamPort()) === cluster.spec(via).pgPort ? true : undefined), 250);
  const senders = await cluster.query<{ name: string }>(via, "SELECT application_name AS name FROM pg_stat_replication");
  t.ok(senders.some((s) => s.name === cascading), `${via} has ${cascading} as a walsender client`);
  await cluster.query(primary, "CREATE TABLE IF NOT EXISTS cascade (id int)");
  await cluster.query(primary, "INSERT INTO cascade VALUES (1)");
  await waitFor(`the row on ${cascading} through ${via}`, 15_000, async () => {
    const rows = await cluster.query<{ n: string }>(cascading, "SELECT count(*) AS n FROM cascade").catch(() => []);
    return Number(rows[0]?.n) === 1 ? true : undefined;
  });
  t.pass("the change reached the cascading replica");
  writeFileSync(file, original);
  await fetch(`${cluster.apiUrl(cascading)}/reload`, { method: "POST", signal: AbortSignal.timeout(10_000) });
  await waitFor(`${cascading} back on the primary`, 30_000, async () => ((await upstreamPort()) === cluster.spec(primary).pgPort ? true : undefined), 250);
  t.pass(`without the tag ${cascading} streams from the primary again`);
});
