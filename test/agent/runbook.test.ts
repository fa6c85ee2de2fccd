/**
 * Acceptance (issue 15 item 8): the runbook a Patroni production guide has a DBA follow, on three
 * real agents with real PostgreSQL, through the `raftgres` CLI as the DBA types it (patronictl's
 * commands and forms, `-c` the node's file). The nodes start from a patroni.yml in Patroni's
 * production shape — restapi with authentication, bootstrap.dcs/initdb/users/pg_hba, postgresql
 * with bin_dir and three roles, tags — whose etcd3 section is replaced by a raft section in
 * Patroni's own keys (self_addr, partner_addrs, data_dir) plus what raftgres needs beside them.
 *
 * One cluster, steps in order, each leaving it healthy for the next: every setting in force at
 * the first start; list; edit-config of a reload and a restart parameter; pause; switchover in
 * pause; resume; restart --pending; reinit of a replica; history; failover --candidate; a final
 * list; the rows written at the start present on every member at the end.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import t, { type Test } from "tap";
import { PgCluster, REPLICATION, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";
import { DEFAULT_BIN_DIR } from "../../src/pg/settings.js";
import { cli } from "../cli/support.js";

const SCOPE = "prod";
const REST = { username: "patroni", password: "rest-api-pw" };
const ADMIN = { username: "admin", password: "admin-pw-1" };
/** bootstrap.pg_hba as a guide writes it: the applications' lines, md5 as Patroni's sample has. */
const HBA = [
  "host replication replicator 127.0.0.1/32 md5",
  "host all admin 127.0.0.1/32 md5",
  "host all all 10.0.0.0/8 md5",
];
/** The rows written at the start, which every member must hold at the end. */
const ROWS = 500;

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());
const names = [...cluster.nodes.keys()];
const secretFile = join(cluster.root, "raft.secret");
/** unix_socket_directories, as the guides' /var/run/postgresql: inside the cluster's root, removed with it. */
const socketDir = join(cluster.root, "run");
mkdirSync(socketDir, { mode: 0o1777 });
chmodSync(socketDir, 0o1777);

/**
 * A patroni.yml as a production guide has it. Timing is scaled for a test (Patroni's guide:
 * ttl 30, loop_wait 10, retry_timeout 10); max_connections is kept small for a shared machine.
 */
function patroniYml(name: string): string {
  const spec = cluster.spec(name);
  const raft = (n: string) => `127.0.0.1:${cluster.spec(n).raftPort}`;
  const partners = names.filter((n) => n !== name).map((n) => `'${raft(n)}'`).join(", ");
  return `scope: ${SCOPE}
namespace: /service/
name: ${name}

restapi:
  listen: 127.0.0.1:${spec.apiPort}
  connect_address: 127.0.0.1:${spec.apiPort}
  authentication:
    username: ${REST.username}
    password: ${REST.password}

raft:
  data_dir: ${join(spec.dir, "raft")}
  self_addr: ${raft(name)}
  partner_addrs: [${partners}]
  # raftgres knows each Raft member by name, and authenticates peers with a shared secret.
  members: { ${names.map((n) => `${n}: '${raft(n)}'`).join(", ")} }
  cluster_id: ${SCOPE}
  secret_file: ${secretFile}

bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 50
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
  initdb:
  - encoding: UTF8
  - data-checksums
  pg_hba:
${HBA.map((line) => `  - ${line}`).join("\n")}
  users:
    ${ADMIN.username}:
      password: ${ADMIN.password}
      options:
        - createrole
        - createdb

postgresql:
  listen: 127.0.0.1:${spec.pgPort}
  connect_address: 127.0.0.1:${spec.pgPort}
  data_dir: ${join(spec.dir, "pgdata")}
  bin_dir: ${DEFAULT_BIN_DIR}
  pgpass: ${join(spec.dir, "pgpass")}
  authentication:
    replication:
      username: ${REPLICATION.username}
      password: ${REPLICATION.password}
    superuser:
      username: ${SUPERUSER.username}
      password: ${SUPERUSER.password}
    rewind:
      username: rewind_user
      password: rewind-pw
  parameters:
    shared_buffers: 16MB
    unix_socket_directories: '${socketDir}'

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
`;
}

// The DBA's node: the CLI reads its patroni.yml for the REST API's address and credentials.
const dbaNode = names[0]!;
const dbaFile = cluster.configPath(dbaNode);
/** `raftgres -c patroni.yml …` in-process (sleeping for real: it waits on real agents). */
const raftgres = (args: readonly string[]) => cli(["-c", dbaFile, ...args], { realSleep: true, files: { [dbaFile]: readFileSync(dbaFile, "utf8") } });

/** One value of `SHOW`-able settings on a member. */
async function setting(name: string, parameter: string): Promise<string | undefined> {
  const rows = await cluster.query<{ value: string }>(name, "SELECT current_setting($1) AS value", [parameter]);
  return rows[0]?.value;
}

/** The member's PostgreSQL log (raftgres keeps it beside the data directory). */
function serverLog(name: string): string {
  const dir = join(cluster.spec(name).dir, "pgdata.log.d");
  return existsSync(dir) ? readdirSync(dir).map((file) => readFileSync(join(dir, file), "utf8")).join("") : "";
}

/** GET /patroni of a member. */
async function patroni(name: string): Promise<Record<string, unknown>> {
  return (await cluster.api(name, "GET", "/patroni", undefined, 5000)).json;
}

/** Waits until `name` is the primary and every other member streams from it. */
async function primaryIs(name: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${name} primary with streaming replicas`, timeoutMs, async () => {
    if ((await cluster.primary()) !== name) return undefined;
    for (const other of names.filter((n) => n !== name)) {
      const rows = await cluster.query<{ port: number | null; status: string }>(other, "SELECT sender_port AS port, status FROM pg_stat_wal_receiver").catch(() => []);
      if (rows[0]?.status !== "streaming" || rows[0].port !== cluster.spec(name).pgPort) return undefined;
    }
    return true;
  }, 250);
}

/** The table rows of `list` output: member → its cells. */
function listRows(stdout: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length > 3 && names.includes(cells[0]!)) rows.set(cells[0]!, cells);
  }
  return rows;
}

/** The first step that failed: the later ones build on it, so they are skipped, not timed out. */
let stoppedAt: string | null = null;

/** A subtest, in order: each leaves the cluster healthy for the next. */
function step(name: string, body: (t: Test) => Promise<void>): void {
  void t.test(name, async (t) => {
    if (stoppedAt !== null) return t.plan(0, `skipped: the runbook stopped at "${stoppedAt}"`);
    try {
      await body(t);
    } catch (error: unknown) {
      // A rejection is counted only after this returns, so t.passing() cannot see it yet.
      stoppedAt = name;
      throw error;
    } finally {
      if (!t.passing()) stoppedAt = name;
    }
  });
}

let primary = "";

step("a secret from the real binary, a patroni.yml per node, and the cluster starts", async (t) => {
  const made = cluster.cli(["secret", "--out", secretFile]);
  t.equal(made.code, 0, made.stderr);
  t.equal(statSync(secretFile).mode & 0o777, 0o600, "the secret file is the owner's only");
  for (const name of names) writeFileSync(cluster.configPath(name), patroniYml(name));
  cluster.startAll();
  primary = await cluster.waitHealthy(120_000).catch((error: unknown) => {
    // What the agents said is the only clue to a start that never got healthy.
    for (const name of names) t.comment(`${name}'s agent log, last lines:\n${cluster.agentLog(name).trimEnd().split("\n").slice(-15).join("\n")}`);
    throw error;
  });
  await cluster.query(primary, "CREATE TABLE runbook (id int PRIMARY KEY, note text)");
  await cluster.query(primary, "INSERT INTO runbook SELECT g, 'row ' || g FROM generate_series(1, $1::int) g", [ROWS]);
  t.match(cluster.agentLog(primary), /partner_addrs: Patroni's key, the same addresses as raft\.members/, "Patroni's raft keys were read");
});

step("every setting is in force from the first start, on every member", async (t) => {
  for (const name of names) {
    const expected = { max_connections: "50", wal_level: "replica", max_wal_senders: "10", wal_log_hints: "on", shared_buffers: "16MB", data_checksums: "on", server_encoding: "UTF8" };
    const shown: Record<string, string | undefined> = {};
    for (const parameter of Object.keys(expected)) shown[parameter] = await setting(name, parameter);
    t.same(shown, expected, `${name} runs with bootstrap.dcs's, postgresql's and initdb's settings`);
    const [role] = await cluster.query<{ createrole: boolean; createdb: boolean; login: boolean }>(name, "SELECT rolcreaterole AS createrole, rolcreatedb AS createdb, rolcanlogin AS login FROM pg_roles WHERE rolname = $1", [ADMIN.username]);
    t.same(role, { createrole: true, createdb: true, login: true }, `${name} has bootstrap.users' ${ADMIN.username} with its options`);
    const rules = await cluster.query<{ type: string; database: string[]; user_name: string[]; address: string | null; netmask: string | null; auth_method: string; error: string | null }>(name, "SELECT type, database, user_name, address, netmask, auth_method, error FROM pg_hba_file_rules ORDER BY line_number");
    const asLines = rules.map((r) => [r.type, r.database.join(","), r.user_name.join(","), r.address === null ? null : `${r.address}/${maskBits(r.netmask)}`, r.auth_method].filter((c) => c !== null).join(" "));
    t.same(asLines.slice(0, HBA.length), HBA, `${name}'s pg_hba.conf starts with bootstrap.pg_hba's lines, as given`);
    t.same(rules.filter((r) => r.error !== null), [], `${name}'s pg_hba.conf has no line PostgreSQL refuses`);
    const added = asLines.slice(HBA.length).filter((l) => l.startsWith("host"));
    t.notOk(added.some((l) => /^host \S+ all /.test(l) || /0\.0\.0\.0\/0|::\/0/.test(l)), `${name}: raftgres added no host line for every role or from anywhere: ${added.join("; ")}`);
    const status = await patroni(name);
    t.notOk(status["pending_restart"], `${name} has no restart pending: ${JSON.stringify(status["pending_restart_reason"] ?? null)}`);
    t.notMatch(serverLog(name), /cannot be changed without restarting/, `${name}'s PostgreSQL was never told to change a restart parameter`);
  }
  const local = spawnSync("runuser", ["-u", "postgres", "--", join(DEFAULT_BIN_DIR, "psql"), "-h", socketDir, "-p", String(cluster.spec(primary).pgPort), "-d", "postgres", "-Atc", "SELECT current_user"], { encoding: "utf8", timeout: 10_000 });
  t.equal(local.stdout.trim(), SUPERUSER.username, `the DBA's local psql as the postgres OS user, through unix_socket_directories: ${local.stderr}`);
  for (const name of [primary, names.find((n) => n !== primary)!]) {
    const client = new pg.Client({ host: "127.0.0.1", port: cluster.spec(name).pgPort, user: ADMIN.username, password: ADMIN.password, database: "postgres", connectionTimeoutMillis: 5000 });
    await client.connect();
    const [who] = (await client.query<{ user: string }>("SELECT current_user AS user")).rows;
    await client.end();
    t.equal(who?.user, ADMIN.username, `${ADMIN.username} logs in to ${name} with its password, through the md5 line`);
  }
});

/** The prefix length of a netmask (pg_hba_file_rules shows the mask, the file the length). */
function maskBits(netmask: string | null): number {
  const ipv6 = (netmask ?? "").includes(":");
  const groups = (netmask ?? "").split(ipv6 ? ":" : ".").filter((g) => g !== "");
  return groups.reduce((bits, group) => bits + parseInt(group, ipv6 ? 16 : 10).toString(2).replace(/0/g, "").length, 0);
}

step("list, through the real binary with -c patroni.yml: one leader, two streaming replicas", async (t) => {
  const run = cluster.cli(["-c", dbaFile, "list", SCOPE]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, new RegExp(`^\\+ Cluster: ${SCOPE} \\(\\d+\\) `));
  const rows = listRows(run.stdout);
  t.same([...rows.keys()].sort(), names, "every member is listed");
  t.same(rows.get(primary)?.slice(2, 4), ["Leader", "running"]);
  for (const name of names.filter((n) => n !== primary)) t.same(rows.get(name)?.slice(2, 4), ["Replica", "streaming"], `${name} streams`);
});

step("edit-config: a reload parameter is in force at once, a restart parameter waits for a restart", async (t) => {
  const before = new Map(names.map((n) => [n, cluster.postmasterPid(n)]));
  const edited = await raftgres(["edit-config", SCOPE, "--pg", "work_mem=12MB", "--pg", "max_connections=64", "--force"]);
  t.equal(edited.code, 0, edited.stderr);
  t.match(edited.stdout, /\+ {4}work_mem: 12MB/);
  for (const name of names) {
    await waitFor(`work_mem 12MB on ${name}`, 15_000, async () => ((await setting(name, "work_mem")) === "12MB" ? true : undefined), 250);
    const reason = await waitFor(`${name}'s pending restart`, 15_000, async () => {
      const status = await patroni(name);
      return status["pending_restart"] === true ? status["pending_restart_reason"] : undefined;
    }, 250);
    t.match(reason, { max_connections: { old_value: "50", new_value: "64" } }, `${name} says which parameter waits for the restart`);
    t.equal(await setting(name, "max_connections"), "50", `${name} still runs with the old max_connections`);
    t.equal(cluster.postmasterPid(name), before.get(name), `${name}'s PostgreSQL was not restarted`);
  }
  // Each member reports its pending restart into the cluster state: every row shows it.
  const pending = await waitFor("list -e to show the pending restart on every row", 15_000, async () => {
    const listed = await raftgres(["list", "-e", "-f", "json"]);
    const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
    return rows.length === names.length && rows.every((r) => r["Pending restart"] === "*") ? rows : undefined;
  }, 500);
  for (const row of pending) t.match(row["Pending restart reason"], /max_connections: 50->64/, `${String(row["Member"])}'s row says why`);
  t.match((await raftgres(["list", "-e"])).stdout, /\| Pending restart \| Pending restart reason +\|/, "list -e has patronictl's columns");
});

step("pause, then switchover --candidate --force in pause: the candidate is the primary, the others follow", async (t) => {
  const paused = await raftgres(["pause", SCOPE, "--wait"]);
  t.equal(paused.code, 0, paused.stderr);
  t.match((await raftgres(["list"])).stdout, / Maintenance mode: on/);
  const candidate = names.find((n) => n !== primary)!;
  await waitFor(`${candidate}'s lag to reach 0`, 15_000, async () => {
    const members = (await cluster.api(primary, "GET", "/cluster")).json["members"] as { name: string; lag: unknown }[] | undefined;
    return members?.find((m) => m.name === candidate)?.lag === 0 ? true : undefined;
  }, 250);
  const switched = await raftgres(["switchover", SCOPE, "--candidate", candidate, "--force"]);
  t.equal(switched.code, 0, `${switched.stdout}\n${switched.stderr}`);
  await primaryIs(candidate);
  const old = primary;
  primary = candidate;
  t.equal((await patroni(primary))["pause"], true, "the cluster is still paused");
  const entries = await waitFor("the switchover in the history", 15_000, async () => {
    const shown = JSON.parse((await raftgres(["history", "-f", "json"])).stdout) as { Reason: string; "New Leader": string }[];
    return shown.at(-1)?.["New Leader"] === candidate ? shown : undefined;
  }, 500);
  t.equal(entries.at(-1)?.Reason, "switchover", `the history records a switchover from ${old} to ${candidate}`);
});

step("resume", async (t) => {
  const resumed = await raftgres(["resume", SCOPE, "--wait"]);
  t.equal(resumed.code, 0, resumed.stderr);
  t.notMatch((await raftgres(["list"])).stdout, /Maintenance mode/);
  await primaryIs(primary);
});

step("restart --pending: exit 0, the parameter in force everywhere, nothing pending", async (t) => {
  const restarted = await raftgres(["restart", SCOPE, "--pending", "--force"]);
  t.equal(restarted.code, 0, `${restarted.stdout}\n${restarted.stderr}`);
  t.match(restarted.stdout, /^Success: restart on member /m, "the members waiting for it were restarted");
  t.notMatch(restarted.stdout, /Failed/);
  await primaryIs(primary);
  for (const name of names) {
    t.equal(await setting(name, "max_connections"), "64", `${name} runs with max_connections 64`);
    const status = await waitFor(`${name} without a pending restart`, 15_000, async () => {
      const s = await patroni(name);
      return s["pending_restart"] === undefined || s["pending_restart"] === false ? s : undefined;
    }, 250);
    t.notOk(status["pending_restart_reason"], `${name} has nothing pending`);
  }
  await waitFor("list -e to show no pending restart", 15_000, async () => {
    const rows = JSON.parse((await raftgres(["list", "-e", "-f", "json"])).stdout) as Record<string, unknown>[];
    return rows.length === names.length && rows.every((r) => r["Pending restart"] === undefined || r["Pending restart"] === null || r["Pending restart"] === "") ? true : undefined;
  }, 500);
  t.pass("list -e shows no pending restart on any row");
});

step("reinit of a replica: it is rebuilt and comes back streaming with the data", async (t) => {
  const replica = names.find((n) => n !== primary)!;
  const marker = join(cluster.spec(replica).dir, "pgdata", "runbook.marker");
  writeFileSync(marker, "the data directory before reinit\n");
  const rebuilt = await raftgres(["reinit", SCOPE, replica, "--force", "--wait"]);
  t.equal(rebuilt.code, 0, `${rebuilt.stdout}\n${rebuilt.stderr}`);
  t.match(rebuilt.stdout, `Success: reinitialize for member ${replica}`);
  t.notOk(existsSync(marker), `${replica}'s data directory is a new copy`);
  await primaryIs(primary);
  const [row] = await cluster.query<{ n: string }>(replica, "SELECT count(*) AS n FROM runbook");
  t.equal(Number(row?.n), ROWS, `${replica} has the rows`);
});

step("history lists every promotion with its new primary", async (t) => {
  const shown = await raftgres(["history"]);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /\| TL \| +LSN \| Reason +\| Timestamp +\| New Leader +\|/);
  t.match(shown.stdout, new RegExp(`\\| +1 \\| +\\d+ \\| switchover +\\| \\S+ +\\| ${primary} +\\|`), `timeline 1 ended in the switchover to ${primary}`);
});

step("failover --candidate --force: the named replica is the primary, the others follow", async (t) => {
  const candidate = names.filter((n) => n !== primary).sort().at(-1)!;
  const r = await raftgres(["failover", SCOPE, "--candidate", candidate, "--force"]);
  t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  await primaryIs(candidate);
  primary = candidate;
  await waitFor(`${candidate} in the history`, 15_000, async () => {
    const shown = JSON.parse((await raftgres(["history", "-f", "json"])).stdout) as { "New Leader": string }[];
    return shown.at(-1)?.["New Leader"] === candidate ? true : undefined;
  }, 500);
  t.pass(`the history names ${candidate}`);
});

step("the final list shows one leader and streaming replicas, and every member has the rows", async (t) => {
  const listed = await waitFor("a settled list", 30_000, async () => {
    const shown = await raftgres(["list", SCOPE]);
    const rows = listRows(shown.stdout);
    const states = names.map((n) => rows.get(n)?.slice(2, 4).join(" "));
    return states.filter((s) => s === "Leader running").length === 1 && states.filter((s) => s === "Replica streaming").length === 2 ? rows : undefined;
  }, 500);
  t.same(listed.get(primary)?.slice(2, 4), ["Leader", "running"]);
  for (const name of names) {
    const rows = await waitFor(`the rows on ${name}`, 15_000, async () => {
      const [row] = await cluster.query<{ n: string; sum: string }>(name, "SELECT count(*) AS n, sum(id) AS sum FROM runbook");
      return Number(row?.n) === ROWS ? row : undefined;
    }, 250);
    t.equal(Number(rows.sum), (ROWS * (ROWS + 1)) / 2, `${name} has every row written at the start`);
  }
});
