/**
 * Acceptance (issue 15): a cluster bootstraps as configured — bootstrap.dcs's PostgreSQL
 * parameters are in force from the first start (no restart pending after the bootstrap),
 * wal_level replica from the cluster's config is honoured, bootstrap.users are created with their
 * options and passwords, post_bootstrap runs. Real PostgreSQL, real agents.
 */
import pg from "pg";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create({
  extraYaml: "bootstrap:\n  dcs:\n    postgresql:\n      parameters:\n        max_locks_per_transaction: 128\n        wal_level: replica\n  users:\n    admin: { password: adm1n-pw, options: [createrole, createdb] }\n  post_bootstrap: psql -v ON_ERROR_STOP=1 -c 'CREATE DATABASE app'\n",
});
t.teardown(() => cluster.destroy());

t.test("bootstrap.dcs's parameters are in force from the first start, with no restart pending", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(120_000);
  for (const name of cluster.nodes.keys()) {
    const [row] = await cluster.query<{ locks: string; level: string }>(name, "SELECT current_setting('max_locks_per_transaction') AS locks, current_setting('wal_level') AS level");
    t.same(row, { locks: "128", level: "replica" }, `${name} runs with them`);
  }
  const pending = await waitFor("the primary's status", 10_000, async () => (await cluster.api(primary, "GET", "/patroni")).json);
  t.notOk(pending["pending_restart"], `${primary} has no restart pending after its bootstrap: ${JSON.stringify(pending["pending_restart_reason"] ?? null)}`);
});

t.test("bootstrap.users: the role exists on every member with its options, and logs in with its password", async (t) => {
  const primary = await cluster.waitHealthy(30_000);
  for (const name of cluster.nodes.keys()) {
    const [row] = await cluster.query<{ createrole: boolean; createdb: boolean; login: boolean; super: boolean }>(name, "SELECT rolcreaterole AS createrole, rolcreatedb AS createdb, rolcanlogin AS login, rolsuper AS super FROM pg_roles WHERE rolname = 'admin'");
    t.same(row, { createrole: true, createdb: true, login: true, super: false }, `${name} has it`);
  }
  const spec = cluster.spec(primary);
  const client = new pg.Client({ host: cluster.host(primary), port: spec.pgPort, user: "admin", password: "adm1n-pw", database: "postgres", connectionTimeoutMillis: 5000 });
  await client.connect();
  t.teardown(() => client.end());
  const [who] = (await client.query<{ user: string }>("SELECT current_user AS user")).rows;
  t.equal(who?.user, "admin", "it logs in with the configured password");
  const apps = await cluster.query<{ n: string }>(primary, "SELECT count(*) AS n FROM pg_database WHERE datname = 'app'");
  t.equal(Number(apps[0]?.n), 1, "post_bootstrap ran once, with the superuser's URL and PGPASSFILE");
});
