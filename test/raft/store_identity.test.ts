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
