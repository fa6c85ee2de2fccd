/**
 * Acceptance: `raftgres demote-cluster` and `promote-cluster` (issue 15 item 5) on real
 * PostgreSQL. A one-node source cluster A; a two-node cluster S made a copy of it (a standby
 * cluster of A, then promoted, so both share A's system identifier) that runs its own primary and
 * takes writes A never sees while A takes writes of its own: the histories diverged.
 *
 * demote-cluster turns S back into a standby cluster of A. Its lease holder stops the primary,
 * keeps the lease throughout (same generation, no second writable primary at any sample), is
 * rewound against A and streams from it through the named slot; the other member is rewound
 * against the standby leader and follows it. What S wrote alone is gone, A's rows arrive. A
 * plain PATCH /config adding standby_cluster is refused, pointing at the command. Then
 * promote-cluster makes S a normal cluster again, its timeline recorded as "manual".
 */
import t from "tap";
import { isAlive, PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { cli } from "../cli/support.js";

const SLOT = "demoted_s";
const NAMES = ["s1", "s2"];
const source = await PgCluster.create({ names: ["a1"], extraYaml: `bootstrap:\n  dcs:\n    slots:\n      ${SLOT}: { type: physical }\n` });
t.teardown(() => source.destroy());
const sourcePort = source.spec("a1").pgPort;
const cluster = await PgCluster.create({
  names: NAMES,
  extraYaml: `bootstrap:\n  dcs:\n    standby_cluster:\n      host: 127.0.0.1\n      port: ${sourcePort}\n      primary_slot_name: ${SLOT}\n`,
});
t.teardown(() => cluster.destroy());

interface MemberJson {
  readonly name: string;
  readonly role: string;
  readonly state: string;
}

async function members(): Promise<MemberJson[]> {
  for (const name of NAMES) {
    const answer = await cluster.api(name, "GET", "/cluster", undefined, 5_000).catch(() => null);
    const list = (answer?.json as { members?: MemberJson[] } | undefined)?.members;
    if (answer?.status === 200 && Array.isArray(list)) return list;
  }
  return [];
}

async function ids(on: PgCluster, name: string): Promise<number[]> {
  const rows = await on.query<{ id: number }>(name, "SELECT id FROM items ORDER BY id");
  return rows.map((r) => r.id);
}

async function has(on: PgCluster, name: string, id: number): Promise<boolean> {
  const rows = await on.query<{ n: string }>(name, "SELECT count(*) AS n FROM items WHERE id = $1", [id]).catch(() => []);
  return rows[0]?.n === "1";
}

const url = (name: string): string => `http://127.0.0.1:${cluster.spec(name).apiPort}`;

/** On a failed run, what the agents said last is in the test's output. */
t.afterEach((t) => {
  if (t.passing()) return;
  for (const name of NAMES) {
    const pid = cluster.agentPid(name);
    t.comment(`--- ${name}'s agent (pid ${pid ?? "none"}${pid !== null && isAlive(pid) ? ", alive" : ", gone"}) log, last lines ---\n${cluster.agentLog(name).split("\n").slice(-60).join("\n")}`);
  }
});

source.startAll();
await source.waitHealthy(60_000);
await source.query("a1", "CREATE TABLE items (id int PRIMARY KEY)");
await source.query("a1", "INSERT INTO items SELECT generate_series(1, 100)");
await waitFor(`the permanent slot ${SLOT} on the source`, 15_000, async () => {
  const rows = await source.query<{ n: string }>("a1", "SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name = $1", [SLOT]).catch(() => []);
  return rows[0]?.n === "1" ? true : undefined;
});
cluster.startAll();

let leader = "";

t.test("setup: S is a copy of A that ran its own primary and took writes A never saw", async (t) => {
  const formed = await waitFor("a standby leader and a streaming replica", 90_000, async () => {
    const list = await members();
    return list.some((m) => m.role === "standby_leader") && list.some((m) => m.role === "replica" && m.state === "streaming") ? list : undefined;
  }, 250);
  leader = formed.find((m) => m.role === "standby_leader")!.name;
  for (const name of NAMES) await waitFor(`100 rows on ${name}`, 30_000, async () => ((await ids(cluster, name).catch(() => [])).length === 100 ? true : undefined), 200);
  const promoted = await cli(["--url", url(leader), "promote-cluster", "--force"], { realSleep: true });
  t.equal(promoted.code, 0, promoted.stderr);
  await cluster.query(leader, "INSERT INTO items SELECT generate_series(1001, 1010)");
  await source.query("a1", "INSERT INTO items SELECT generate_series(101, 110)");
  for (const name of NAMES) await waitFor(`S's own rows on ${name}`, 30_000, async () => ((await has(cluster, name, 1010)) ? true : undefined), 200);
  t.notOk(await has(source, "a1", 1001), "A never saw S's writes");
  t.notOk(await has(cluster, leader, 101), "nor S A's: the histories diverged");
});

t.test("a plain PATCH /config adding standby_cluster is refused, pointing at demote-cluster", async (t) => {
  const answer = await cluster.api(leader, "PATCH", "/config", { standby_cluster: { host: "127.0.0.1", port: sourcePort } }, 10_000);
  t.equal(answer.status, 400);
  t.match(answer.text, /adding standby_cluster demotes it .* use raftgres demote-cluster/);
  const edit = await cli(["--url", url(leader), "edit-config", "--set", `standby_cluster.port=${sourcePort}`, "--force"]);
  t.equal(edit.code, 1, "so is edit-config");
  t.match(edit.stderr, /use raftgres demote-cluster/);
  const usage = await cli(["--url", url(leader), "demote-cluster", "--primary-slot-name", SLOT, "--force"]);
  t.equal(usage.code, 2, "demote-cluster wants a source");
  t.match(usage.stderr, /at least --host, --port or --restore-command/);
  const wrong = await cli(["--url", url(leader), "demote-cluster", "other", "--port", String(sourcePort), "--force"]);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /serves cluster .*, not other/);
  t.equal((await cluster.api(leader, "GET", "/primary")).status, 200, "nothing changed: S still has its primary");
});

t.test("demote-cluster: the primary stops, keeps the lease, is rewound against A and streams from it; the other member follows", async (t) => {
  const before = await cluster.api(leader, "GET", "/patroni");
  const generation = (before.json["raftgres"] as { lease?: { generation: number } }).lease?.generation;
  t.ok(generation, `${leader} holds the lease at generation ${generation}`);
  // Sample the cluster while the demotion runs: never two writable servers, never another holder.
  const violations: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const writable: string[] = [];
      for (const name of NAMES) {
        const rows = await cluster.query<{ r: boolean }>(name, "SELECT pg_is_in_recovery() AS r").catch(() => []);
        if (rows[0]?.r === false) writable.push(name);
      }
      if (writable.length > 1) violations.push(`two writable primaries: ${writable.join(", ")}`);
      const holders = (await members()).filter((m) => m.role === "leader" || m.role === "standby_leader").map((m) => m.name);
      if (holders.some((h) => h !== leader)) violations.push(`the lease holder was ${holders.join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  const demoted = await cli(["--url", url(leader), "demote-cluster", "--host", "127.0.0.1", "--port", String(sourcePort), "--primary-slot-name", SLOT, "--force"], { realSleep: true });
  sampling = false;
  await sampler;
  t.equal(demoted.code, 0, demoted.stderr);
  t.match(demoted.stdout, new RegExp(`Success: cluster .* is a standby cluster of 127\\.0\\.0\\.1:${sourcePort}: ${leader} is the standby leader`));
  t.match(demoted.stdout, /rewinding/, "the wait showed the rewind");
  t.same(violations, [], "no second writable primary and no other lease holder at any sample");
  const after = await cluster.api(leader, "GET", "/patroni");
  t.equal((after.json["raftgres"] as { lease?: { generation: number } }).lease?.generation, generation, "the same lease generation: it was never released");
  t.equal(after.json["role"], "standby_leader");

  await waitFor(`${leader} streaming from A through the slot`, 30_000, async () => {
    const rows = await source.query<{ state: string }>("a1", "SELECT r.state FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE r.application_name = $1 AND s.slot_name = $2", [leader, SLOT]).catch(() => []);
    return rows[0]?.state === "streaming" ? true : undefined;
  }, 250);
  await source.query("a1", "INSERT INTO items VALUES (200)");
  for (const name of NAMES) await waitFor(`A's row 200 on ${name}`, 60_000, async () => ((await has(cluster, name, 200)) ? true : undefined), 250);
  t.pass("a row written on A reaches every member of S");
  const expected = [...Array.from({ length: 110 }, (_, i) => i + 1), 200];
  for (const name of NAMES) t.same(await ids(cluster, name), expected, `${name} holds A's rows and none of S's own`);
  await t.rejects(cluster.query(leader, "INSERT INTO items VALUES (5000)"), /read-only/, "S is read-only");
  const other = NAMES.find((n) => n !== leader)!;
  const upstream = await cluster.query<{ conninfo: string }>(other, "SELECT conninfo FROM pg_stat_wal_receiver");
  t.match(upstream[0]?.conninfo ?? "", new RegExp(`port=${cluster.spec(leader).pgPort}`), `${other} streams from the standby leader`);
  t.match(cluster.agentLog(leader), /rewound against remote 127\.0\.0\.1:\d+ slot demoted_s/, `${leader}'s data directory was rewound against A`);
  t.match(cluster.agentLog(other), new RegExp(`rewound against ${leader}`), `${other}'s was rewound against the standby leader (its timeline was S's own)`);
  t.comment(demoted.stdout);
  const again = await cli(["--url", url(leader), "demote-cluster", "--port", String(sourcePort), "--force"]);
  t.equal(again.code, 1, "demote-cluster of a standby cluster is refused");
  t.match(again.stderr, /is a standby cluster already/);
});

t.test("promote-cluster makes S a normal cluster again; the others follow", async (t) => {
  const historyBefore = ((await cluster.api(leader, "GET", "/history")).json as unknown as unknown[][]).length;
  const promoted = await cli(["--url", url(leader), "promote-cluster", "--force"], { realSleep: true });
  t.equal(promoted.code, 0, promoted.stderr);
  await cluster.query(leader, "INSERT INTO items VALUES (3000)");
  const other = NAMES.find((n) => n !== leader)!;
  await waitFor(`row 3000 on ${other}`, 30_000, async () => ((await has(cluster, other, 3000)) ? true : undefined), 200);
  t.pass(`${other} follows the new primary`);
  const history = await waitFor("the new timeline in the history", 10_000, async () => {
    const rows = (await cluster.api(leader, "GET", "/history")).json as unknown as unknown[][];
    return Array.isArray(rows) && rows.length > historyBefore ? rows : undefined;
  }, 200);
  t.equal(history[history.length - 1]![2], "manual", "recorded as a manual change of primary, whatever its timeline's number");
  t.comment(`history: ${JSON.stringify(history)}`);
  await source.query("a1", "INSERT INTO items VALUES (4000)");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.notOk(await has(cluster, leader, 4000), "A's writes no longer arrive");
});
