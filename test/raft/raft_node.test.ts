import { either as E } from "fp-ts";
import { Level } from "level";
import t from "tap";
import { RaftNodeFailure } from "../../src/raft/runtime/raft_node_types.js";
import { nodeId } from "../../src/raft/types.js";
import { bytes, eventually, NodeCluster } from "./node_cluster.js";

t.test("three real nodes elect a leader and apply proposals from any node, in one order", async (t) => {
  const cluster = await NodeCluster.create(["a", "b", "c"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  const results = await Promise.all(["a", "b", "c"].map((id, i) => cluster.get(id).node!.propose(bytes(`from-${id}-${i}`))));
  t.same(results.map((r) => r.result).sort(), [1, 2, 3], "each proposal got the state machine's result");
  t.ok(results.every((r) => r.index > 0), "each proposal got its log index");
  await eventually(() => (cluster.running().every((n) => n.machine.items.length === 3) ? true : undefined), 5000, "all nodes applied");
  const orders = cluster.running().map((n) => n.machine.items.join(","));
  t.equal(new Set(orders).size, 1, "every node applied the same sequence");
  t.ok(cluster.get(leader.id).machine.lastTimeMs > Date.now() - 60_000, "entries carry the leader's time");
  const status = leader.node!.status();
  t.equal(status.peers.length, 2, "the leader reports both followers");
  await eventually(() => (leader.node!.status().peers.every((p) => p.match === leader.node!.status().lastIndex) ? true : undefined), 5000, "followers to match the leader's log");
  t.ok(status.writes > 0 && status.entriesWritten >= 3, "writes are counted");
});

t.test("readIndex waits until this node has applied every write committed before the read", async (t) => {
  const cluster = await NodeCluster.create(["a", "b", "c"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  const follower = cluster.running().find((n) => n.id !== leader.id)!;
  await leader.node!.propose(bytes("w1"));
  const written = await leader.node!.propose(bytes("w2"));
  const index = await follower.node!.readIndex();
  t.ok(index >= written.index, "the read index covers the acknowledged write");
  t.ok(follower.machine.items.includes("w2"), "the follower applied the write before answering");
});

t.test("the cluster survives the leader stopping, and a restarted node recovers its state from disk", async (t) => {
  const cluster = await NodeCluster.create(["a", "b", "c"], 5);
  t.teardown(() => cluster.destroy());
  const first = await cluster.leader();
  for (let i = 0; i < 12; i++) await first.node!.propose(bytes(`before-${i}`));
  await cluster.stop(first.id);
  const second = await cluster.leader();
  t.not(second.id, first.id, "another node took over");
  await second.node!.propose(bytes("after"));
  const restarted = await cluster.start(first.id);
  t.ok(E.isRight(restarted), "the old leader restarts from its data directory");
  const node = cluster.get(first.id);
  await eventually(() => (node.machine.items.includes("after") ? true : undefined), 10_000, "the restarted node catches up");
  t.equal(node.machine.items.filter((i) => i.startsWith("before-")).length, 12, "nothing applied twice or lost after snapshot and restart");
  t.ok(node.node!.status().snapshotIndex > 0, "the log was compacted by snapshots");
});

t.test("a new node joins as a learner, catches up through the log, and becomes a voter", async (t) => {
  const cluster = await NodeCluster.create(["a", "b", "c"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  await leader.node!.propose(bytes("x"));
  const joiner = await cluster.addJoiner("d");
  await leader.node!.proposeConfChange({ kind: "addLearner", id: nodeId("d"), address: `127.0.0.1:${joiner.port}` });
  await eventually(() => (joiner.machine.items.includes("x") ? true : undefined), 10_000, "the learner catches up");
  await leader.node!.proposeConfChange({ kind: "addVoter", id: nodeId("d"), address: `127.0.0.1:${joiner.port}` });
  const conf = leader.node!.status().confState;
  t.same(conf.members.map((m) => `${m.id}:${m.role}`), ["a:voter", "b:voter", "c:voter", "d:voter"]);
  const refused = await leader.node!.proposeConfChange({ kind: "addVoter", id: nodeId("d"), address: "" }).catch((e: unknown) => e);
  t.ok(refused instanceof RaftNodeFailure && refused.code === "invalidConfChange" && refused.message.includes("already a voter"), "an invalid change is refused with its reason");
});

t.test("proposals to a node without a quorum fail with a clear error instead of hanging", async (t) => {
  const cluster = await NodeCluster.create(["a", "b", "c"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  const others = cluster.running().filter((n) => n.id !== leader.id);
  for (const other of others) await cluster.stop(other.id);
  const error = await leader.node!.propose(bytes("lost"), 300).catch((e: unknown) => e);
  t.ok(error instanceof RaftNodeFailure && (error.code === "timeout" || error.code === "noLeader"), `got ${String(error)}`);
});

t.test("a data directory in use by another node process is refused with a clear error", async (t) => {
  const cluster = await NodeCluster.create(["a"]);
  t.teardown(() => cluster.destroy());
  const second = await cluster.start("a");
  t.ok(E.isLeft(second), "the second start fails");
  if (E.isLeft(second)) t.match(second.left.message, /in use|locked|another/i);
});

t.test("a corrupted log record stops the node at start with an error naming the record", async (t) => {
  const cluster = await NodeCluster.create(["a"]);
  t.teardown(() => cluster.destroy());
  const node = cluster.get("a");
  await cluster.leader();
  await node.node!.propose(bytes("precious"));
  await cluster.stop("a");
  const db = new Level<Uint8Array, Uint8Array>(node.dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  for await (const [key, value] of db.iterator()) {
    if (key[0] !== 0x10) continue;
    const damaged = Uint8Array.from(value);
    damaged[damaged.length - 1]! ^= 0xff;
    await db.put(key, damaged);
    break;
  }
  await db.close();
  const restarted = await cluster.start("a");
  t.ok(E.isLeft(restarted), "the node refuses to start");
  if (E.isLeft(restarted)) t.match(restarted.left.message, /entry \d+.*checksum/);
});

t.test("a stall of the Raft loop is measured from when its work fell due, reported and logged", async (t) => {
  const cluster = await NodeCluster.create(["a"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  const before = leader.node!.status();
  t.ok(before.loopStallMaxMs < 200, `an idle loop does not stall (${before.loopStallMaxMs} ms)`);
  // Hold the event loop while the leader's next tick falls due, as a starved process would.
  const until = performance.now() + 300;
  while (performance.now() < until);
  await eventually(() => (leader.node!.status().loopStallMaxMs >= 250 ? true : undefined), 2000, "the stall to be recorded");
  const after = leader.node!.status();
  t.ok(after.loopStallRecentMaxMs >= 250 && after.loopStallRecentMaxMs <= after.loopStallMaxMs, "the last minute holds it too");
  const warned = cluster.lines.filter((l) => l.level === "warn" && /^the raft loop stalled for \d+ ms: it ran \d+ ms late and worked \d+ ms/.test(l.message));
  t.ok(warned.length >= 1, "a warning says how long and why");
});
