/**
 * Witness mode: a process with Raft and the cluster state but no PostgreSQL keeps two database
 * nodes in the majority when one of them is gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import { type DcsNode, startDcsNode } from "../../src/agent/dcs_node.js";
import { parseWitnessConfig } from "../../src/agent/witness_main.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { eventually } from "../raft/node_cluster.js";
import { freePort } from "../../lab/sockets.js";
import { m, SCOPE, status } from "./fixtures.js";

t.test("the witness configuration is checked key by key", async (t) => {
  const good = { name: "w1", clusterId: "c", secret: "s", dataDir: "/tmp/x", listen: "127.0.0.1:7003", initialMembers: [{ name: "db1", address: "127.0.0.1:7001" }] };
  t.ok(E.isRight(parseWitnessConfig(JSON.stringify(good), "w.json")));
  const cases: [object, RegExp][] = [
    [{ ...good, colour: "blue" }, /unknown key "colour"/],
    [{ ...good, name: "" }, /"name" must be a non-empty string/],
    [{ ...good, name: "has space" }, /"name" "has space" may hold/],
    [{ ...good, listen: "7003" }, /"listen" must be host:port/],
    [{ ...good, initialMembers: undefined }, /give "initialMembers" \(a new cluster\) or "join"/],
  ];
  for (const [config, message] of cases) {
    const parsed = parseWitnessConfig(JSON.stringify(config), "w.json");
    t.match(E.isLeft(parsed) ? parsed.left : "accepted", message);
  }
  t.match(E.isLeft(parseWitnessConfig("{", "w.json")) ? (parseWitnessConfig("{", "w.json") as E.Left<string>).left : "", /w\.json: not valid JSON/);
});

t.test("two database nodes and a witness keep a majority when one database node is gone", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "witness-"));
  const members: ConfMember[] = [];
  for (const id of ["db1", "db2", "w1"]) members.push({ id: nodeId(id), role: "voter", address: `127.0.0.1:${await freePort()}` });
  const nodes = new Map<string, DcsNode>();
  let witness: ChildProcess | null = null;
  t.teardown(async () => {
    witness?.kill("SIGKILL");
    for (const node of nodes.values()) await node.raft.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const configPath = join(root, "w1.json");
  writeFileSync(configPath, JSON.stringify({
    name: "w1",
    clusterId: "witness-test",
    secret: "s",
    dataDir: join(root, "w1"),
    listen: members[2]!.address,
    initialMembers: members.map((x) => ({ name: x.id, address: x.address })),
    heartbeatMs: 50,
    electionTimeoutMs: 500,
  }));
  witness = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../../src/agent/witness_main.ts"), "--config", configPath], { stdio: ["ignore", "ignore", "inherit"] });
  for (const member of members.slice(0, 2)) {
    const started = await startDcsNode({
      nodeId: member.id,
      clusterId: "witness-test",
      secret: "s",
      dataDir: join(root, member.id),
      listenHost: "127.0.0.1",
      listenPort: Number(member.address.split(":")[1]),
      initialMembers: members,
      heartbeatMs: 50,
      electionTimeoutMs: 500,
      snapshotEveryEntries: 1000,
      logger: SILENT_LOGGER,
      onFatal: () => {},
    });
    if (E.isLeft(started)) throw new Error(started.left.message);
    nodes.set(member.id, started.right);
  }
  const db1 = nodes.get("db1")!;
  await eventually(async () => (E.isRight(await db1.client.execute(SCOPE, { kind: "upsertMember", status: status("pg1") }, { author: "pg1", timeoutMs: 1000 })) ? true : undefined), 15_000, "the three-member group to accept a command");
  await nodes.get("db2")!.raft.stop();
  nodes.delete("db2");
  const done = await eventually(async () => {
    const executed = await db1.client.execute(SCOPE, { kind: "initializeCluster", member: m("pg1"), systemId: "1" }, { author: "pg1", timeoutMs: 1000 });
    return E.isRight(executed) ? executed : undefined;
  }, 15_000, "a command to commit with db1 and the witness");
  t.ok(E.isRight(done), "db1 and the witness still commit");
  t.equal(db1.client.local(SCOPE)?.initialization?.by, "pg1");
});
