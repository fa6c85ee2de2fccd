import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import { Level } from "level";
import t from "tap";
import { AssertionError } from "../../src/lib/assert.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { encodeEntry, encodeHardState } from "../../src/raft/codec.js";
import {
  LOG_STORE_FORMAT_VERSION,
  LogStore,
  type LogStoreError,
  type LogStoreIdentity,
  type LogWrite,
  type StoredState,
} from "../../src/raft/runtime/log_store.js";
import {
  entryKey,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  SNAPSHOT_KEY,
} from "../../src/raft/runtime/log_store_keys.js";
import { encodeIdentity, seal } from "../../src/raft/runtime/log_store_records.js";
import {
  type Entry,
  type HardState,
  logIndex,
  nodeId,
  type Snapshot,
  term,
} from "../../src/raft/types.js";

/** The type of a subtest's `t` (the last overload of t.test takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];
type Opened = { store: LogStore; state: StoredState };
type Db = Level<Uint8Array, Uint8Array>;

const IDENTITY: LogStoreIdentity = { clusterId: "cluster-a", nodeId: nodeId("n1") };

function entry(index: number, entryTerm: number): Entry {
  return {
    index: logIndex(index),
    term: term(entryTerm),
    type: index % 3 === 0 ? "config" : "normal",
    timeMs: 1_700_000_000_000 + index,
    data: new TextEncoder().encode(`entry ${index} of term ${entryTerm}`),
  };
}

function entries(from: number, to: number, entryTerm: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, entryTerm));
  return out;
}

function hardState(stateTerm: number, vote: string | null, commit: number): HardState {
  return {
    term: term(stateTerm),
    vote: vote === null ? null : nodeId(vote),
    commit: logIndex(commit),
  };
}

function snapshot(index: number, snapshotTerm: number): Snapshot {
  const members = [{ id: nodeId("n1"), role: "voter" as const, address: "127.0.0.1:7001" }];
  return {
    meta: {
      index: logIndex(index),
      term: term(snapshotTerm),
      timeMs: 1_700_000_000_000 + index,
      confState: { members },
    },
    data: new TextEncoder().encode(`state machine at ${index}`),
  };
}

function write(
  state: HardState | null,
  appended: Entry[],
  installed: Snapshot | null = null,
): LogWrite {
  return { hardState: state, entries: appended, snapshot: installed };
}

/** Byte arrays as hex, so states compare by value whatever the Uint8Array subclass. */
/** The stored state to compare, without the directory's random store id (checked on its own). */
function plain(state: Omit<StoredState, "storeId" | "peerStores">): unknown {
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
  const stored = state.snapshot;
  return {
    hardState: state.hardState,
    snapshot: stored === null ? null : { meta: stored.meta, data: hex(stored.data) },
    entries: state.entries.map((e) => ({ ...e, data: hex(e.data) })),
    incarnation: state.incarnation,
  };
}

interface Fixture {
  readonly dir: string;
  open(identity?: LogStoreIdentity): Promise<E.Either<LogStoreError, Opened>>;
  /** Opens, and throws unless the store opens. */
  openOk(identity?: LogStoreIdentity): Promise<Opened>;
  /** Closes `store` and opens the directory again. */
  reopen(store: LogStore): Promise<Opened>;
  /** Opens the LevelDB directly, to leave it as a damaged disk or an operator would. */
  raw<T>(change: (db: Db) => Promise<T>): Promise<T>;
}

/** A temporary directory; the teardown closes every store opened on it, then removes it. */
async function fixture(t: Test): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "raftgres-log-store-"));
  const stores: LogStore[] = [];
  t.teardown(async () => {
    for (const store of stores) await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const open = async (identity = IDENTITY): Promise<E.Either<LogStoreError, Opened>> => {
    const opened = await LogStore.open(dir, identity, SILENT_LOGGER);
    if (E.isRight(opened)) stores.push(opened.right.store);
    return opened;
  };
  const openOk = async (identity = IDENTITY): Promise<Opened> => {
    const opened = await open(identity);
    if (E.isLeft(opened)) throw new Error(`open failed: ${opened.left.message}`);
    return opened.right;
  };
  const raw = async <T>(change: (db: Db) => Promise<T>): Promise<T> => {
    const db: Db = new Level(dir, { keyEncoding: "view", valueEncoding: "view" });
    await db.open();
    try {
      return await change(db);
    } finally {
      await db.close();
    }
  };
  const reopen = async (store: LogStore): Promise<Opened> => {
    await store.close();
    return openOk();
  };
  return { dir, open, openOk, reopen, raw };
}

async function writeOk(t: Test, store: LogStore, batch: LogWrite): Promise<void> {
  const written = await store.write(batch);
  t.ok(E.isRight(written), "the write succeeds");
}

function expectError(
  t: Test,
  opened: E.Either<LogStoreError, unknown>,
  code: LogStoreError["code"],
): string {
  if (E.isRight(opened)) {
    t.fail(`expected a ${code} error, but the store opened`);
    return "";
  }
  t.equal(opened.left.code, code, opened.left.message);
  return opened.left.message;
}

t.test("a new store is empty, with incarnation 1", async (t) => {
  const f = await fixture(t);
  const { store, state } = await f.openOk();
  const empty = { hardState: hardState(0, null, 0), snapshot: null, entries: [], incarnation: 1 };
  t.same(plain(state), empty);
  t.equal(store.lastIndex(), 0);
  t.equal(store.firstIndex(), 1);
  t.equal(store.dir, f.dir);
});

t.test("reopening returns exactly what was written and increments the incarnation", async (t) => {
  const f = await fixture(t);
  let { store, state } = await f.openOk();
  await writeOk(t, store, write(hardState(1, "n1", 0), entries(1, 3, 1)));
  await writeOk(t, store, write(hardState(2, "n2", 3), entries(4, 5, 2)));
  await writeOk(t, store, write(null, []));
  t.equal(store.lastIndex(), 5);
  ({ store, state } = await f.reopen(store));
  const expected = {
    hardState: hardState(2, "n2", 3),
    snapshot: null,
    entries: [...entries(1, 3, 1), ...entries(4, 5, 2)],
  };
  t.same(plain(state), plain({ ...expected, incarnation: 2 }));
  t.equal(store.lastIndex(), 5);
  ({ store, state } = await f.reopen(store));
  t.same(plain(state), plain({ ...expected, incarnation: 3 }), "only the incarnation changes");
});

t.test("an append from index k deletes the persisted entries from k on", async (t) => {
  const f = await fixture(t);
  let { store, state } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 2), entries(1, 8, 1)));
  await writeOk(t, store, write(hardState(2, null, 2), entries(4, 5, 2)));
  t.equal(store.lastIndex(), 5, "the last index follows the new entries");
  ({ store, state } = await f.reopen(store));
  t.same(plain(state), plain({
    hardState: hardState(2, null, 2),
    snapshot: null,
    entries: [...entries(1, 3, 1), ...entries(4, 5, 2)],
    incarnation: 2,
  }), "entries 6 to 8 are gone and 4 and 5 are replaced");
  await writeOk(t, store, write(hardState(3, null, 2), entries(3, 9, 3)));
  ({ store, state } = await f.reopen(store));
  const terms = state.entries.map((e) => [e.index, e.term]);
  t.same(terms, [[1, 1], [2, 1], [3, 3], [4, 3], [5, 3], [6, 3], [7, 3], [8, 3], [9, 3]],
    "a longer overwrite replaces the suffix and extends it");
});

t.test("installing a snapshot replaces the whole log, and entries may follow it", async (t) => {
  const f = await fixture(t);
  let { store, state } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 5), entries(1, 30, 1)));
  await writeOk(t, store, write(hardState(3, null, 20), entries(21, 22, 3), snapshot(20, 3)));
  t.equal(store.lastIndex(), 22);
  t.equal(store.firstIndex(), 21);
  ({ store, state } = await f.reopen(store));
  t.same(plain(state), plain({
    hardState: hardState(3, null, 20),
    snapshot: snapshot(20, 3),
    entries: entries(21, 22, 3),
    incarnation: 2,
  }), "entries 1 to 30 are gone, including those past the snapshot");
  await writeOk(t, store, write(hardState(4, null, 40), [], snapshot(40, 4)));
  t.equal(store.lastIndex(), 40, "without entries the last index is the snapshot's");
  ({ store, state } = await f.reopen(store));
  t.same(plain(state), plain({
    hardState: hardState(4, null, 40),
    snapshot: snapshot(40, 4),
    entries: [],
    incarnation: 3,
  }));
});

t.test("compaction deletes the entries up to the snapshot and keeps the later ones", async (t) => {
  const f = await fixture(t);
  let { store, state } = await f.openOk();
  await writeOk(t, store, write(hardState(2, null, 8), entries(1, 10, 2)));
  t.ok(E.isRight(await store.compact(snapshot(6, 2))));
  t.equal(store.lastIndex(), 10);
  t.equal(store.firstIndex(), 7);
  t.ok(E.isRight(await store.compact(snapshot(4, 2))), "a compaction already covered is ignored");
  t.equal(store.firstIndex(), 7);
  ({ store, state } = await f.reopen(store));
  t.same(plain(state), plain({
    hardState: hardState(2, null, 8),
    snapshot: snapshot(6, 2),
    entries: entries(7, 10, 2),
    incarnation: 2,
  }));
  await store.close();
  const range = { gte: entryKey(logIndex(1)), lte: entryKey(logIndex(10)) };
  const keys = await f.raw((db) => db.keys(range).all());
  const indexes = keys.map((k) => Buffer.from(k).readUInt32BE(5));
  t.same(indexes, [7, 8, 9, 10], "the compacted entries' keys are deleted");
});

t.test("a flipped byte is reported as corrupt, naming the directory and the record", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["entry 3", entryKey(logIndex(3))],
    ["hard state", HARD_STATE_KEY],
    ["snapshot", SNAPSHOT_KEY],
  ];
  for (const [record, key] of cases) {
    await t.test(record, async (t) => {
      const f = await fixture(t);
      const { store } = await f.openOk();
      await writeOk(t, store, write(hardState(1, null, 3), entries(1, 5, 1)));
      t.ok(E.isRight(await store.compact(snapshot(2, 1))));
      await store.close();
      await f.raw(async (db) => {
        const value = await db.get(key);
        if (value === undefined) throw new Error(`no record for ${record}`);
        const damaged = Uint8Array.from(value);
        damaged[damaged.length - 1]! ^= 0x40;
        await db.put(key, damaged);
      });
      const message = expectError(t, await f.open(), "corrupt");
      t.match(message, f.dir);
      t.match(message, `${record}: stored checksum 0x`);
      t.match(message, /but computed 0x[0-9a-f]{8}/);
      t.match(message, "move the directory aside and re-add the node");
    });
  }
});

t.test("a missing entry in the middle is reported as a log that is not contiguous", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 2), entries(1, 5, 1)));
  await store.close();
  await f.raw((db) => db.del(entryKey(logIndex(3))));
  const message = expectError(t, await f.open(), "corrupt");
  t.match(message, f.dir);
  t.match(message, "entry 4: the log is not contiguous: entry 3 is missing");
});

t.test("entries an interrupted compaction left below the snapshot are ignored and removed at open", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 4), entries(1, 5, 1)));
  t.ok(E.isRight(await store.compact(snapshot(3, 1))));
  await store.close();
  await f.raw((db) => db.put(entryKey(logIndex(2)), seal(encodeEntry(entry(2, 1)))));
  const { store: reopened, state } = await f.openOk();
  t.same(state.entries.map((e) => e.index), [4, 5], "the log starts after the snapshot");
  await reopened.close();
  await f.raw(async (db) => t.equal(await db.get(entryKey(logIndex(2))), undefined, "the leftover was deleted"));
});

t.test("compaction deletes the entries the snapshot covers", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 4), entries(1, 5, 1)));
  t.ok(E.isRight(await store.compact(snapshot(3, 1))));
  await store.close();
  await f.raw(async (db) => {
    for (const i of [1, 2, 3]) t.equal(await db.get(entryKey(logIndex(i))), undefined, `entry ${i} is gone`);
    t.not(await db.get(entryKey(logIndex(4))), undefined, "entry 4 stays");
  });
});

t.test("a record with a valid checksum that cannot be decoded is corrupt", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 2), entries(1, 3, 1)));
  await store.close();
  await f.raw((db) => db.put(entryKey(logIndex(2)), seal(Uint8Array.of(1, 2, 3))));
  t.match(expectError(t, await f.open(), "corrupt"), "entry 2: malformed entry");
});

t.test("an entry stored under another index is corrupt", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 2), entries(1, 3, 1)));
  await store.close();
  await f.raw((db) => db.put(entryKey(logIndex(2)), seal(encodeEntry(entry(7, 1)))));
  const message = expectError(t, await f.open(), "corrupt");
  t.match(message, "entry 2: the record stored under this index says index 7");
});

t.test("a commit index beyond the last entry is corrupt", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 2), entries(1, 3, 1)));
  await store.close();
  await f.raw((db) => db.put(HARD_STATE_KEY, seal(encodeHardState(hardState(1, null, 9)))));
  const message = expectError(t, await f.open(), "corrupt");
  t.match(message, "hard state: commit index 9 is beyond the last index 3");
});

t.test("a directory with records but no identity is corrupt, and is left unchanged", async (t) => {
  const f = await fixture(t);
  await f.raw((db) => db.put(Uint8Array.of(0x7f), Uint8Array.of(1)));
  t.match(expectError(t, await f.open(), "corrupt"), "identity record: the record is missing");
  const keys = await f.raw((db) => db.keys().all());
  t.equal(keys.length, 1, "nothing was written");
});

t.test("a directory of another cluster or node is refused, naming both identities", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await store.close();
  const otherCluster = { clusterId: "cluster-b", nodeId: nodeId("n1") };
  const clusterMessage = expectError(t, await f.open(otherCluster), "identity");
  t.match(clusterMessage, `${f.dir} belongs to cluster "cluster-a", node "n1"`);
  t.match(clusterMessage, `configured as cluster "cluster-b", node "n1"`);
  const otherNode = { clusterId: "cluster-a", nodeId: nodeId("n2") };
  const nodeMessage = expectError(t, await f.open(otherNode), "identity");
  t.match(nodeMessage, `belongs to cluster "cluster-a", node "n1"`);
  t.match(nodeMessage, `configured as cluster "cluster-a", node "n2"`);
  const { state } = await f.openOk();
  t.equal(state.incarnation, 2, "refused opens do not bump the incarnation");
});

t.test("a directory in a newer on-disk format is refused with the version code", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await store.close();
  const newer = LOG_STORE_FORMAT_VERSION + 1;
  const record = { formatVersion: newer, clusterId: "cluster-a", nodeId: "n1" };
  await f.raw((db) => db.put(IDENTITY_KEY, seal(encodeIdentity(record))));
  const message = expectError(t, await f.open(), "version");
  t.match(message, `format version ${newer}`);
  t.match(message, f.dir);
});

t.test("a directory held by another process is reported as locked", async (t) => {
  const f = await fixture(t);
  await holdInOtherProcess(t, f.dir);
  const message = expectError(t, await f.open(), "locked");
  t.match(message, f.dir);
  t.match(message, "another raftgres process");
});

t.test("a second open in the same process is reported as locked too", async (t) => {
  const f = await fixture(t);
  await f.openOk();
  t.match(expectError(t, await f.open(), "locked"), f.dir);
});

t.test("a failed batch is an io error, and the store then refuses every write", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(1, null, 1), entries(1, 2, 1)));
  // Closing the database under the store makes LevelDB fail the next batch, as a full or
  // vanished disk would.
  await (store as unknown as { db: Db }).db.close();
  const failed = await store.write(write(null, entries(3, 3, 1)));
  t.ok(E.isLeft(failed) && failed.left.code === "io" && failed.left.message.includes(f.dir));
  t.equal(store.lastIndex(), 2, "the last index stays at what is known to be on disk");
  const later = await store.compact(snapshot(1, 1));
  t.ok(E.isLeft(later) && later.left.code === "io", "later writes fail too");
});

t.test("writes that break a Raft invariant are bugs: they throw and write nothing", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(2, "n1", 3), entries(1, 5, 2)));
  const bad: [string, LogWrite][] = [
    ["a gap after the last index", write(null, entries(7, 8, 2))],
    ["truncating committed entries", write(null, entries(3, 4, 3))],
    ["entries that are not contiguous", write(null, [entry(6, 2), entry(8, 2)])],
    ["a term going back", write(hardState(1, null, 3), [])],
    ["a commit going back", write(hardState(2, "n1", 2), [])],
    ["another vote in the same term", write(hardState(2, "n2", 3), [])],
    ["a commit beyond the log", write(hardState(2, "n1", 6), [])],
    ["a snapshot beyond the commit index left uncommitted", write(null, [], snapshot(9, 2))],
  ];
  for (const [what, batch] of bad) {
    await t.rejects(store.write(batch), AssertionError, what);
  }
  await t.rejects(store.compact(snapshot(6, 2)), AssertionError, "compaction beyond the last index");
  t.equal(store.lastIndex(), 5);
  await store.close();
  const { state } = await f.openOk();
  t.same(state.entries.map((e) => e.index), [1, 2, 3, 4, 5], "the log is unchanged");
  t.same(state.hardState, hardState(2, "n1", 3));
});

t.test("compacting beyond the stored commit index raises it: a snapshot holds only committed entries", async (t) => {
  const f = await fixture(t);
  const { store } = await f.openOk();
  await writeOk(t, store, write(hardState(2, "n1", 2), entries(1, 5, 2)));
  const compacted = await store.compact(snapshot(4, 2));
  t.ok(E.isRight(compacted));
  await store.close();
  const { state } = await f.openOk();
  t.equal(state.hardState.commit, 4, "the commit index follows the snapshot");
  t.same(state.entries.map((e) => e.index), [5]);
});

/** Spawns a node process that opens `dir` with level and keeps it open until killed. */
async function holdInOtherProcess(t: Test, dir: string): Promise<ChildProcess> {
  const script = [
    'import { Level } from "level";',
    `const db = new Level(${JSON.stringify(dir)});`,
    "await db.open();",
    'process.stdout.write("ready\\n");',
    "setInterval(() => {}, 1000);",
  ].join("\n");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  });
  await new Promise<void>((resolve, reject) => {
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`the holder process exited (${code}): ${stderr}`)));
  });
  return child;
}
