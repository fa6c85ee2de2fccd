/**
 * HAProxy routing follows a partition (issue 16, item 4): three agents with PostgreSQL, each in a
 * network namespace of the fault-injection harness, behind a real HAProxy in the root namespace
 * configured from packaging/haproxy.cfg with the production guides' checks (`inter 3s fall 3
 * rise 2`), every agent pushing to its admin socket. The primary is cut off from its peers while
 * HAProxy still reaches it, for several lease ttls, then healed.
 *
 * Checked: while cut off, writes through HAProxy never land on a member other than the one the
 * write backend shows up; once another member is promoted the writes land on it and the old
 * primary is out of the write backend; after the heal the old primary is back as a replica, in
 * the read backend, and the writes still land on the new primary. Needs root, iproute2, iptables
 * (namespaces) and haproxy; everything it starts is killed by PID in the teardown.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import t, { type Test } from "tap";
import { HaproxyProcess, haproxyMissing, type HaproxyPorts, localHaproxyConfig, packagedHaproxyConfig, serverStates } from "../../lab/haproxy.js";
import { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { missingPrerequisite } from "../../lab/jepsen/net/command.js";
import { SUPERUSER, waitFor } from "../../lab/pg_cluster.js";
import { freePort } from "../../lab/sockets.js";

const CHECKS = "inter 3s fall 3 rise 2";
/** Several lease ttls (5 s): the cut-off primary has demoted and another has been promoted. */
const PARTITION_MS = 20_000;

const missing = missingPrerequisite() ?? haproxyMissing();
if (missing !== null) t.plan(0, `skipped: ${missing}`);
else {
  t.setTimeout(400_000);
  t.test("the write backend follows a partitioned primary's replacement, and the heal", run);
}

/** The member that answered a write through HAProxy's write port (its cluster_name), or null. */
async function writeThrough(port: number): Promise<string | null> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: SUPERUSER.username, password: SUPERUSER.password, database: "postgres", connectionTimeoutMillis: 1000, query_timeout: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    const rows = await client.query<{ member: string }>("INSERT INTO routed (at) VALUES (now()) RETURNING current_setting('cluster_name') AS member");
    return rows.rows[0]!.member;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

async function run(t: Test): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "raftgres-haproxy-partition-"));
  const socket = join(dir, "admin.sock");
  const names = ["n1", "n2", "n3"];
  const server = (member: string): string => `pg${member.slice(1)}`;
  const pushYaml = `haproxy:
  sockets: [${socket}]
  write_backend: primary
  read_backend: replicas
  servers: { ${names.map((n) => `${n}: ${server(n)}`).join(", ")} }
  timeout_ms: 500
`;
  const cluster = await ClusterUnderTest.create({ id: `hq${process.pid.toString(36)}`.slice(0, 6), nodes: 3, extraYaml: pushYaml });
  let haproxy: HaproxyProcess | null = null;
  t.teardown(async () => {
    await haproxy?.kill();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  cluster.pg.startAll();
  const old = await cluster.pg.waitHealthy(180_000);
  await cluster.pg.query(old, "CREATE TABLE routed (at timestamptz)");
  const ports: HaproxyPorts = { write: await freePort(), read: await freePort(), stats: await freePort() };
  const servers = names.map((n) => ({ name: server(n), host: cluster.target(n).host, pgPort: cluster.pg.spec(n).pgPort, apiPort: cluster.pg.spec(n).apiPort }));
  haproxy = HaproxyProcess.start(join(dir, "haproxy.cfg"), localHaproxyConfig(packagedHaproxyConfig(), servers, ports, { adminSocket: socket, checks: CHECKS }));
  const writeUp = async (): Promise<string[]> => [...(await serverStates({ kind: "unix", path: socket }, "primary"))].filter(([, s]) => s === "up").map(([n]) => n);
  await waitFor("the primary alone up in the write backend", 60_000, async () => ((await writeUp()).join() === server(old) ? true : undefined));
  t.equal(await writeThrough(ports.write), old, "writes land on the primary before the fault");

  const others = names.filter((n) => n !== old);
  await cluster.partition([[old], others], { clients: true });
  const landed: { member: string; up: string[] }[] = [];
  let promoted: string | null = null;
  const until = Date.now() + PARTITION_MS;
  while (Date.now() < until) {
    const member = await writeThrough(ports.write);
    const up = await writeUp().catch(() => []);
    if (member !== null) landed.push({ member, up });
    if (member !== null && member !== old) promoted ??= member;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(promoted !== null && others.includes(promoted), `writes through HAProxy reached a promoted member while ${old} was cut off (landed on: ${[...new Set(landed.map((l) => l.member))].join(", ")})`);
  const stray = landed.filter((l) => !l.up.includes(server(l.member)) && l.up.length > 0);
  t.same(stray, [], "no write landed on a member the write backend did not show up");
  const afterPromotion = landed.slice(landed.findIndex((l) => l.member === promoted));
  t.notOk(afterPromotion.some((l) => l.member === old), `no write landed on ${old} once ${promoted} took writes`);
  t.notOk((await writeUp()).includes(server(old)), `${old} is out of the write backend while cut off`);

  await cluster.healNetwork();
  await waitFor(`${old} back as a streaming replica`, 90_000, async () => ((await cluster.pg.waitHealthy(5_000).catch(() => null)) === promoted ? true : undefined));
  const readUp = async (): Promise<string[]> => [...(await serverStates({ kind: "unix", path: socket }, "replicas"))].filter(([, s]) => s === "up").map(([n]) => n);
  await waitFor(`${old} in the read backend`, 30_000, async () => ((await readUp()).includes(server(old)) ? true : undefined));
  t.same(await writeUp(), [server(promoted!)], "the write backend holds the new primary alone after the heal");
  t.equal(await writeThrough(ports.write), promoted, "writes still land on the new primary");
}
