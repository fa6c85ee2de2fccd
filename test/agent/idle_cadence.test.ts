/**
 * Acceptance (issue 13): an idle cluster is quiet. Three agents with PostgreSQL, settled, add to
 * the Raft log only what the cadence allows — the lease renewed once per loop_wait, reports
 * when something changed or once per ttl/3 to stay seen. Counts with generous bounds, no timing:
 * over 20 s, fewer than 150 entries at loop_wait 1 (it was about 1,500), fewer than 30 at
 * loop_wait 10 (it was about 1,400).
 */
import t from "tap";
import { PgCluster } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());
cluster.startAll();
const primary = await cluster.waitHealthy(120_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function lastIndex(): Promise<number> {
  const text = (await cluster.api(primary, "GET", "/metrics")).text;
  const value = Number(/^raftgres_raft_last_index(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
  if (!Number.isFinite(value)) throw new Error(`no raftgres_raft_last_index in /metrics of ${primary}`);
  return value;
}

async function entriesOver(seconds: number): Promise<number> {
  const before = await lastIndex();
  await sleep(seconds * 1000);
  return (await lastIndex()) - before;
}

t.test("an idle cluster at loop_wait 1 adds fewer than 150 entries to the log in 20 s", async (t) => {
  await sleep(5000);
  const entries = await entriesOver(20);
  t.ok(entries < 150, `${entries} entries in 20 s`);
  t.ok(entries > 0, "the lease is still renewed");
  t.equal(await cluster.primary(), primary, "and kept");
});

t.test("at loop_wait 10 (ttl 30) fewer than 30", async (t) => {
  const patched = await cluster.api(primary, "PATCH", "/config", { loop_wait: 10, ttl: 30 });
  t.equal(patched.status, 200, patched.text);
  await sleep(12_000);
  const entries = await entriesOver(20);
  t.ok(entries < 30, `${entries} entries in 20 s`);
  t.equal(await cluster.primary(), primary, "the lease is kept with renewals ten seconds apart");
});
