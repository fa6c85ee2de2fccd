/**
 * Acceptance: a standby cluster (issue 6 item 9) on real PostgreSQL. A one-node source cluster
 * keeps a permanent slot for it; a three-node raftgres cluster whose bootstrap.dcs names the
 * source as standby_cluster clones it, and its standby leader streams from the source through
 * that slot while the other members cascade from the standby leader. Rows written on the source
 * reach every member; the standby cluster is read-only and shows standby_leader in GET /cluster,
 * GET /patroni, the health checks and raftgres list. When the standby leader is killed another
member takes over and streams from the source. `raftgres promote-cluster` turns it into a
 * normal cluster: the standby leader is writable on a new timeline (history: "manual") and the
 * other members follow it.
 */
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { cli } from "../cli/support.js";

const SLOT = "standby_s";
const source = await PgCluster.create({ names: ["a1"], extraYaml: `bootstrap:\n  dcs:\n    slots:\n      ${SLOT}: { type: physical }\n` });
t.teardown(() => source.destroy());
const sourcePort = source.spec("a1").pgPort;
const standby = await PgCluster.create({
  names: ["s1", "s2", "s3"],
  extraYaml: `bootstrap:\n  dcs:\n    standby_cluster:\n      host: 127.0.0.1\n      port: ${sourcePort}\n      primary_slot_name: ${SLOT}\n`,
});
t.teardown(() => standby.destroy());
const NAMES = ["s1", "s2", "s3"];

async function api(name: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const answer = await standby.api(name, method, path, body, 10_000);
  return { status: answer.status, json: answer.json };
}

interface ClusterMemberJson {
  readonly name: string;
  readonly role: string;
  readonly state: string;
  readonly timeline?: number;
}

async function members(): Promise<ClusterMemberJson[]> {
  for (const name of NAMES) {
    const answer = await api(name, "GET", "/cluster").catch(() => null);
    const list = (answer?.json as { members?: ClusterMemberJson[] } | undefined)?.members;
    if (answer?.status === 200 && Array.isArray(list)) return list;
  }
  return [];
}

async function count(cluster: PgCluster, name: string): Promise<number> {
  const rows = await cluster.query<{ n: string }>(name, "SELECT count(*) AS n FROM items");
  return Number(rows[0]!.n);
}

async function systemId(cluster: PgCluster, name: string): Promise<string> {
  const rows = await cluster.query<{ id: string }>(name, "SELECT system_identifier::text AS id FROM pg_control_system()");
  return rows[0]!.id;
}

source.startAll();
await source.waitHealthy(60_000);
await source.query("a1", "CREATE TABLE items (id int PRIMARY KEY)");
await source.query("a1", "INSERT INTO items SELECT generate_series(1, 100)");
await waitFor(`the permanent slot ${SLOT} on the source`, 15_000, async () => {
  const rows = await source.query<{ n: string }>("a1", "SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = $1", [SLOT]).catch(() => []);
  return rows[0]?.n === "1" ? true : undefined;
});
standby.startAll();

let leader = "";

t.test("the standby cluster forms: a standby leader streaming from the source, the others cascading from it", async (t) => {
  const formed = await waitFor("a standby leader and two streaming replicas", 90_000, async () => {
    const list = await members();
    const lead = list.filter((m) => m.role === "standby_leader");
    const replicas = list.filter((m) => m.role === "replica" && m.state === "streaming");
    return lead.length === 1 && replicas.length === 2 ? list : undefined;
  }, 250);
  leader = formed.find((m) => m.role === "standby_leader")!.name;
  t.pass(`${leader} is the standby leader`);
  const walsender = await waitFor("the standby leader streaming from the source through the slot", 20_000, async () => {
    const rows = await source.query<{ application_name: string; state: string; active: boolean }>("a1", "SELECT r.application_name, r.state, s.active FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE r.application_name = $1", [leader]).catch(() => []);
    return rows[0]?.state === "streaming" && rows[0].active === true ? rows[0] : undefined;
  }, 250);
  t.equal(walsender.application_name, leader);
  t.equal(await systemId(standby, leader), await systemId(source, "a1"), "the standby cluster has the source's system identifier");
  const replicas = NAMES.filter((n) => n !== leader);
  for (const name of replicas) {
    const upstream = await standby.query<{ conninfo: string }>(name, "SELECT conninfo FROM pg_stat_wal_receiver");
    t.match(upstream[0]?.conninfo ?? "", new RegExp(`port=${standby.spec(leader).pgPort}`), `${name} streams from the standby leader`);
  }
});

t.test("rows written on the source reach every member; the standby cluster is read-only", async (t) => {
  await source.query("a1", "INSERT INTO items SELECT generate_series(101, 150)");
  for (const name of NAMES) await waitFor(`150 rows on ${name}`, 20_000, async () => ((await count(standby, name).catch(() => 0)) === 150 ? true : undefined), 200);
  t.pass("150 rows on every member");
  await t.rejects(standby.query(leader, "INSERT INTO items VALUES (1000)"), /read-only/, "the standby leader refuses writes");
  t.equal((await api(leader, "GET", "/primary")).status, 503, "GET /primary: 503 on the standby leader");
  t.equal((await api(leader, "GET", "/standby-leader")).status, 200, "GET /standby-leader: 200");
  t.equal((await api(leader, "GET", "/leader")).status, 200, "GET /leader: 200");
  t.equal(((await api(leader, "GET", "/patroni")).json as { role?: string }).role, "standby_leader");
  const other = NAMES.find((n) => n !== leader)!;
  t.equal((await api(other, "GET", "/standby-leader")).status, 503, "a replica is not the standby leader");
  const list = await cli(["--url", `http://127.0.0.1:${standby.spec(leader).apiPort}`, "list"]);
  t.match(list.stdout, /Standby Leader/, "raftgres list shows the Standby Leader");
  const config = await api(leader, "GET", "/config");
  t.match(config.json, { standby_cluster: { host: "127.0.0.1", port: sourcePort } }, "bootstrap.dcs was written as the cluster's config");
});

t.test("kill -9 of the standby leader: another member becomes standby leader and streams from the source; the old one rejoins as a replica", async (t) => {
  const old = leader;
  const postmaster = standby.postmasterPid(old);
  t.ok(postmaster, "the standby leader's postmaster runs");
  standby.signalAgent(old, "SIGKILL");
  process.kill(postmaster!, "SIGKILL");
  leader = await waitFor("a new standby leader", 30_000, async () => {
    const list = await members();
    const next = list.find((m) => m.role === "standby_leader" && m.name !== old);
    return next?.name;
  }, 250);
  t.pass(`${leader} took over as standby leader`);
  await waitFor(`${leader} streaming from the source through the slot`, 30_000, async () => {
    const rows = await source.query<{ state: string }>("a1", "SELECT r.state FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE r.application_name = $1 AND s.slot_name = $2", [leader, SLOT]).catch(() => []);
    return rows[0]?.state === "streaming" ? true : undefined;
  }, 250);
  t.pass("the new standby leader streams from the source");
  await source.query("a1", "INSERT INTO items SELECT generate_series(151, 160)");
  const other = NAMES.find((n) => n !== old && n !== leader)!;
  for (const name of [leader, other]) await waitFor(`160 rows on ${name}`, 30_000, async () => ((await count(standby, name).catch(() => 0)) === 160 ? true : undefined), 200);
  t.pass(`${other} follows the new standby leader`);
  standby.start(old);
  await waitFor(`${old} back as a streaming replica with 160 rows`, 60_000, async () => {
    const me = (await members()).find((m) => m.name === old);
    return me?.role === "replica" && me.state === "streaming" && (await count(standby, old).catch(() => 0)) === 160 ? true : undefined;
  }, 250);
  t.pass(`${old} rejoined as a replica of ${leader}`);
});

t.test("raftgres promote-cluster: the standby leader becomes a writable primary on a new timeline, the others follow", async (t) => {
  const before = await standby.query<{ tl: number }>(leader, "SELECT timeline_id AS tl FROM pg_control_checkpoint()");
  const promoted = await cli(["--url", `http://127.0.0.1:${standby.spec(leader).apiPort}`, "promote-cluster", "--force"], { realSleep: true });
  t.equal(promoted.code, 0, promoted.stderr);
  t.match(promoted.stdout, new RegExp(`Success: .* ${leader} is the primary`));
  await standby.query(leader, "INSERT INTO items VALUES (1000)");
  t.pass("the promoted cluster takes writes");
  const history = await waitFor("the new timeline in the history", 10_000, async () => {
    const answer = await api(leader, "GET", "/history");
    const rows = answer.json as unknown[][];
    return Array.isArray(rows) && rows.length > 0 ? rows : undefined;
  }, 200);
  const last = history[history.length - 1]!;
  t.equal(last[2], "manual", "recorded as a manual change of primary");
  // Patroni's history names the timeline that ended (the new one's parent).
  t.equal(Number(last[0]), before[0]!.tl, `the history line ends timeline ${before[0]!.tl}`);
  const now = await standby.query<{ tl: string }>(leader, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl");
  t.equal(Number.parseInt(now[0]!.tl, 16), before[0]!.tl + 1, "the primary writes on a new timeline");
  for (const name of NAMES.filter((n) => n !== leader)) {
    await waitFor(`row 1000 on ${name}`, 20_000, async () => {
      const rows = await standby.query<{ n: string }>(name, "SELECT count(*) AS n FROM items WHERE id = 1000").catch(() => []);
      return rows[0]?.n === "1" ? true : undefined;
    }, 200);
  }
  t.pass("the other members follow the new primary");
  const list = await members();
  t.same(list.map((m) => m.role).sort(), ["leader", "replica", "replica"]);
  t.equal((await api(leader, "GET", "/primary")).status, 200, "GET /primary: 200");
  await source.query("a1", "INSERT INTO items VALUES (2000)");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rows = await standby.query<{ n: string }>(leader, "SELECT count(*) AS n FROM items WHERE id = 2000");
  t.equal(rows[0]?.n, "0", "the source's new writes no longer arrive");
  const again = await cli(["--url", `http://127.0.0.1:${standby.spec(leader).apiPort}`, "promote-cluster", "--force"]);
  t.equal(again.code, 1, "promote-cluster on a normal cluster is refused");
});
