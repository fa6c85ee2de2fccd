/**
 * A Raft data directory has an identity of its own (a random store id) and remembers the store
 * ids of its peers' directories (src/raft/runtime/log_store_peers.ts): so a node whose directory
 * was emptied cannot come back as a fresh voter that forgot what it acknowledged.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import { Level } from "level";
import t from "tap";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { LogStore } from "../../src/raft/runtime/log_store.js";
import { STORE_ID_KEY } from "../../src/raft/runtime/log_store_keys.js";
import { isStoreId } from "../../src/raft/runtime/log_store_peers.js";
import { nodeId } from "../../src/raft/types.js";

const IDENTITY = { clusterId: "cluster-a", nodeId: nodeId("n1") };

async function open(dir: string): Promise<LogStore> {
  const opened = await LogStore.open(dir, IDENTITY, SILENT_LOGGER);
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  return opened.right.store;
}

t.test("a directory keeps its random store id and the store ids it saw for its peers", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "raftgres-store-id-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  let store = await open(join(root, "a"));
  const id = store.storeId;
  t.ok(isStoreId(id), `a store id: ${id}`);
  const other = await open(join(root, "b"));
  t.not(other.storeId, id, "another directory has another id");
  await other.close();
  const recorded = await store.recordPeerStore(nodeId("n2"), "0123456789abcdef0123456789abcdef");
  t.ok(E.isRight(recorded));
  await store.recordPeerStore(nodeId("n3"), "fedcba9876543210fedcba9876543210");
  await store.close();
  store = await open(join(root, "a"));
  t.equal(store.storeId, id, "the id survives a restart");
  t.same([...store.peerStores()], [["n2", "0123456789abcdef0123456789abcdef"], ["n3", "fedcba9876543210fedcba9876543210"]]);
  await store.forgetPeerStore(nodeId("n2"));
  await store.close();
  store = await open(join(root, "a"));
  t.same([...store.peerStores()], [["n3", "fedcba9876543210fedcba9876543210"]], "a forgotten peer stays forgotten");
  await store.close();
});

t.test("a directory that lost its store id record is damaged", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "raftgres-store-id-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "a");
  await (await open(dir)).close();
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.del(STORE_ID_KEY);
  await db.close();
  const opened = await LogStore.open(dir, IDENTITY, SILENT_LOGGER);
  t.ok(E.isLeft(opened) && opened.left.code === "corrupt", "refused as corrupt");
  t.match(E.isLeft(opened) ? opened.left.message : "", /store id: the record is missing/);
});

t.test("a member whose Raft directory was emptied is refused by its peers, stops, and never starts with it again", async (t) => {
  const { NodeCluster, bytes, eventually } = await import("./node_cluster.js");
  const { readdirSync, renameSync } = await import("node:fs");
  const cluster = await NodeCluster.create(["a", "b", "c"]);
  t.teardown(() => cluster.destroy());
  const leader = await cluster.leader();
  for (let i = 0; i < 20; i++) await leader.node!.propose(bytes(`before-${i}`));
  await eventually(() => (cluster.get("c").machine.items.length === 20 ? true : undefined), 10_000, "c to apply");
  // Every node has talked to every other (the proposals went around): their directories are known.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const victim = cluster.get("c");
  await cluster.stop("c");
  for (const name of readdirSync(victim.dir)) rmSync(join(victim.dir, name), { recursive: true, force: true });

  const started = await cluster.start("c");
  t.ok(E.isRight(started), "the emptied directory opens as a new one (its disk alone cannot tell)");
  await eventually(() => (victim.fatal !== null ? true : undefined), 10_000, "the peers to refuse c");
  t.equal(victim.fatal?.code, "damagedLog");
  t.match(victim.fatal?.message ?? "", /knew node c with another Raft data directory: this one .* replaced it/);
  t.ok(cluster.lines.some((l) => l.fields["node"] !== "c" && /node c presents Raft data directory [0-9a-f]{32}, but this node knew it with directory [0-9a-f]{32}/.test(l.message)), "its peers say why they refuse it");
  await cluster.stop("c");
  const again = await cluster.start("c");
  t.ok(E.isLeft(again) && again.left.code === "damagedLog", "it refuses to start with that directory from now on");
  t.match(E.isLeft(again) ? again.left.message : "", /replaced it/);
  const after = await cluster.leader();
  await after.node!.propose(bytes("after"));
  t.ok(after.id !== "c", "the others went on without it");

  // The way back: removed (its peers forget its directory), started empty as a joining node, added.
  await after.node!.proposeConfChange({ kind: "remove", id: victim.id, address: "" });
  renameSync(victim.dir, `${victim.dir}.replaced`);
  victim.fatal = null;
  const rejoined = await cluster.start("c", { join: true });
  if (E.isLeft(rejoined)) throw new Error(rejoined.left.message);
  const address = cluster.members.find((m) => m.id === victim.id)!.address;
  await after.node!.proposeConfChange({ kind: "addLearner", id: victim.id, address });
  await eventually(() => (victim.machine.items.length >= after.machine.items.length ? true : undefined), 15_000, "c to catch up as a learner");
  await after.node!.proposeConfChange({ kind: "addVoter", id: victim.id, address });
  t.equal(victim.fatal, null, "its new directory is accepted");
  t.same(victim.machine.items, after.machine.items, "and holds every entry");
});
