/**
 * End to end: `raftgres members` against three real agents with real PostgreSQL, and a fourth,
 * Raft-only node (the witness, src/agent/witness_main.ts) that joins the group and leaves it.
 * The Raft leadership moves to a replica while the PostgreSQL primary stays where it is.
 * Every process started here is killed by its PID in the teardown.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { freePort } from "../../lab/sockets.js";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { cli } from "./support.js";

const WITNESS_MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "agent", "witness_main.ts");

interface Row {
  readonly Node: string;
  readonly Address: string;
  readonly Role: string;
  readonly Leader?: string;
}

const started = Date.now();
const cluster = await PgCluster.create();
let witness: ChildProcess | null = null;
t.teardown(async () => {
  if (witness?.pid !== undefined && witness.exitCode === null && witness.signalCode === null) process.kill(witness.pid, "SIGKILL");
  await cluster.destroy();
});

cluster.startAll();
const primary = await cluster.waitHealthy(60_000);
const urls = [...cluster.nodes.values()].map((n) => `http://127.0.0.1:${n.apiPort}`).join(",");
const raftgres = (args: string[]) => cli(["--url", urls, ...args]);

async function rows(): Promise<Row[]> {
  const r = await raftgres(["members", "-f", "json"]);
  if (r.code !== 0) throw new Error(`members exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Row[];
}

const raftLeader = (list: readonly Row[]): string | undefined => list.find((r) => r.Leader === "*")?.Node;

t.test("members lists the three agents as voters, one of them the Raft leader", async (t) => {
  const list = await waitFor("a Raft leader in members", 10_000, async () => {
    const found = await rows();
    return raftLeader(found) === undefined ? undefined : found;
  });
  t.same(list.map((r) => `${r.Node} ${r.Role}`), ["pg1 voter", "pg2 voter", "pg3 voter"]);
  for (const row of list) t.equal(row.Address, `127.0.0.1:${cluster.spec(row.Node).raftPort}`);
  const table = await raftgres(["members"]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^\+ Raft: term \d+, commit \d+, seen from pg\d /);
});

t.test("members transfer moves the Raft leadership to a replica; the primary does not change", async (t) => {
  const before = raftLeader(await rows());
  const target = [...cluster.nodes.keys()].find((n) => n !== primary && n !== before)!;
  const r = await raftgres(["members", "transfer", target]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `the Raft leadership moved from ${before ?? "?"} to ${target}`);
  t.equal(raftLeader(await waitFor(`${target} to lead in every view`, 5_000, async () => {
    const list = await rows();
    return raftLeader(list) === target ? list : undefined;
  })), target);
  t.equal(await cluster.primary(), primary, "the PostgreSQL primary stays");
  const unknown = await raftgres(["members", "transfer", "nobody"]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "nobody is not a member of the Raft group");
});

t.test("a Raft-only node joins as a voter with members add and leaves with members remove --force", async (t) => {
  const port = await freePort();
  const secret = /^\s*secret: (\S+)$/m.exec(readFileSync(cluster.configPath("pg1"), "utf8"))![1]!;
  const configPath = join(cluster.root, "w1.json");
  writeFileSync(configPath, JSON.stringify({
    name: "w1",
    clusterId: "test-cluster",
    secret,
    dataDir: join(cluster.root, "w1"),
    listen: `127.0.0.1:${port}`,
    join: [...cluster.nodes.values()].map((n) => ({ name: n.name, address: `127.0.0.1:${n.raftPort}` })),
  }));
  witness = spawn(process.execPath, ["--import", "tsx", WITNESS_MAIN, "--config", configPath], { stdio: ["ignore", "ignore", "inherit"] });
  // Sent to a node that is not the Raft leader: it forwards the change to the leader's REST API.
  const leader = raftLeader(await rows());
  const follower = [...cluster.nodes.values()].find((n) => n.name !== leader)!;
  const viaFollower = (args: string[]) => cli(["--url", `http://127.0.0.1:${follower.apiPort}`, ...args]);
  const added = await viaFollower(["members", "add", "w1", `127.0.0.1:${port}`]);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, `w1 (127.0.0.1:${port}) is a voter of the Raft group`);
  const four = await rows();
  t.same(four.map((r) => `${r.Node} ${r.Role}`), ["pg1 voter", "pg2 voter", "pg3 voter", "w1 voter"]);
  const again = await raftgres(["members", "add", "w1", `127.0.0.1:${port}`]);
  t.equal(again.code, 1);
  t.match(again.stderr, "w1 is already a voter of the Raft group");

  const removed = await viaFollower(["members", "remove", "w1", "--force"]);
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, "w1 was removed from the Raft group");
  t.same((await rows()).map((r) => r.Node), ["pg1", "pg2", "pg3"]);
  process.kill(witness.pid!, "SIGKILL");

  const unknown = await raftgres(["members", "remove", "w9", "--force"]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "w9 is not a member of the Raft group (members: pg1, pg2, pg3)");
  t.equal(await cluster.primary(), primary, "the PostgreSQL primary stays");
  t.comment(`members e2e took ${Math.round((Date.now() - started) / 1000)} s`);
});
