/**
 * The durable storage of the Raft runtime: hard state, snapshot and log entries of one node in a
 * LevelDB directory (through `level`), one process per directory (LevelDB's LOCK file).
 *
 * Durability: every write() and compact() is ONE atomic LevelDB batch written with sync (fsync of
 * LevelDB's write-ahead log) before its promise resolves. write() is the group commit: the runtime
 * calls it once per Raft "ready" batch and sends the messages that depend on it only afterwards
 * (Raft thesis §3.8, persist before responding). A crash leaves either the whole batch or none of
 * it. The incarnation bump at open is its own synced write, done only after the directory has
 * been verified, so a damaged directory is never modified.
 *
 * Layout and framing: log_store_keys.ts and log_store_records.ts. Verification at open:
 * log_store_load.ts. Batch planning and the invariants asserted on every write: log_store_plan.ts.
 */
import { chmod, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { Level } from "level";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { encodeHardState } from "../codec.js";
import type { HardState, LogIndex, NodeId, Snapshot } from "../types.js";
import { BoundFile } from "./log_store_bound.js";
import { ENTRY_KEYS_START, entryKey, HARD_STATE_KEY, IDENTITY_KEY, INCARNATION_KEY, type LogDb, PEER_STORES_KEY, REPLACED_KEY, STORE_ID_KEY } from "./log_store_keys.js";
import { encodePeerStores, encodeStoreId, isStoreId, newStoreId, PEER_STORES_MAX } from "./log_store_peers.js";
import { type LoadedState, loadState } from "./log_store_load.js";
import { type LogPosition, type Plan, planCompaction, planWrite } from "./log_store_plan.js";
import {
  encodeIdentity,
  encodeIncarnation,
  LOG_STORE_FORMAT_VERSION,
  seal,
} from "./log_store_records.js";
import {
  corruptError,
  fromLevelError,
  ioError,
  type LogStoreError,
  type LogStoreIdentity,
  type LogWrite,
  type StoredState,
} from "./log_store_types.js";
import { lastPosition, levelDbRecoveryNotes, type Verified, verifyAgainstBound } from "./log_store_verify.js";

export type { LogStoreError, LogStoreIdentity, LogWrite, StoredState } from "./log_store_types.js";
export { LOG_STORE_FORMAT_VERSION } from "./log_store_records.js";

type Written = E.Either<LogStoreError, void>;

/** Cluster ids are configuration, validated at the edge; this bounds the identity record. */
const CLUSTER_ID_LENGTH_MAX = 128;

export class LogStore {
  readonly dir: string;
  private readonly db: LogDb;
  private readonly logger: Logger;
  private position: LogPosition;
  /** write() and compact() run one at a time, in call order: each plans from the one before. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Deletions of compacted entries, which run beside the write queue. */
  private background: Promise<void> = Promise.resolve();
  /** Set by a failed batch: what reached the disk is unknown, so every later write fails too. */
  private failure: LogStoreError | null = null;
  private closed = false;

  private readonly peers: Map<NodeId, string>;

  private constructor(
    dir: string,
    db: LogDb,
    logger: Logger,
    position: LogPosition,
    private readonly bound: BoundFile,
    /** This directory's random id (log_store_peers.ts). */
    readonly storeId: string,
    peers: ReadonlyMap<NodeId, string>,
  ) {
    this.dir = dir;
    this.db = db;
    this.logger = logger;
    this.position = position;
    this.peers = new Map(peers);
  }

  /** The store ids this node saw for its peers, as persisted. */
  peerStores(): ReadonlyMap<NodeId, string> {
    return this.peers;
  }

  /** Remembers (synced) the store id a peer presented for the first time. */
  recordPeerStore(peer: NodeId, storeId: string): Promise<E.Either<LogStoreError, void>> {
    assert(isStoreId(storeId), () => `recording a malformed store id for ${peer}`);
    return this.enqueue(async () => {
      if (this.peers.get(peer) === storeId) return E.right(undefined);
      if (!this.peers.has(peer) && this.peers.size >= PEER_STORES_MAX) {
        this.logger.warn({ peer }, `not remembering the store id of ${peer}: ${PEER_STORES_MAX} peers are remembered already`);
        return E.right(undefined);
      }
      const next = new Map(this.peers).set(peer, storeId);
      return this.putPeers(next, "recording a peer's store id");
    });
  }

  /**
   * Peers refused this directory as the replacement of one they knew (handshake "storeChanged"):
   * record why, synced, so the node refuses to start with it from now on.
   */
  markReplaced(why: string): Promise<E.Either<LogStoreError, void>> {
    return this.enqueue(async () => {
      try {
        await this.db.put(REPLACED_KEY, seal(new TextEncoder().encode(why.slice(0, 2000))), { sync: true });
        return E.right(undefined);
      } catch (error: unknown) {
        return E.left(fromLevelError(this.dir, "recording that the directory was replaced", error));
      }
    });
  }

  /** Forgets a peer's store id: it left the group, and may come back with a new directory. */
  forgetPeerStore(peer: NodeId): Promise<E.Either<LogStoreError, void>> {
    return this.enqueue(async () => {
      if (!this.peers.has(peer)) return E.right(undefined);
      const next = new Map(this.peers);
      next.delete(peer);
      return this.putPeers(next, "forgetting a peer's store id");
    });
  }

  private async putPeers(next: Map<NodeId, string>, operation: string): Promise<Written> {
    try {
      await this.db.put(PEER_STORES_KEY, seal(encodePeerStores(next)), { sync: true });
    } catch (error: unknown) {
      this.failure = ioError(this.dir, operation, fromLevelError(this.dir, operation, error).message);
      this.logger.error({ error: this.failure.message }, "the Raft log store failed: it accepts no more writes");
      return E.left(this.failure);
    }
    this.peers.clear();
    for (const [id, storeId] of next) this.peers.set(id, storeId);
    return E.right(undefined);
  }

  /**
   * Opens (creating it if needed) the data directory, verifies every record, bumps the
   * incarnation and returns the complete verified state. Errors: locked, corrupt, identity,
   * version, io. The store does not log failures to open: the caller reports them.
   */
  static async open(
    dir: string,
    identity: LogStoreIdentity,
    logger: Logger,
  ): Promise<E.Either<LogStoreError, { store: LogStore; state: StoredState }>> {
    const clusterIdLength = identity.clusterId.length;
    assert(clusterIdLength > 0 && clusterIdLength <= CLUSTER_ID_LENGTH_MAX, () =>
      `cluster id must be 1 to ${CLUSTER_ID_LENGTH_MAX} characters, ` +
      `got ${JSON.stringify(identity.clusterId)}`);
    const private_ = await makePrivate(dir);
    if (E.isLeft(private_)) return private_;
    const db: LogDb = new Level<Uint8Array, Uint8Array>(dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    try {
      await db.open();
    } catch (error: unknown) {
      return E.left(unreadable(dir, fromLevelError(dir, "opening", error), await levelDbRecoveryNotes(dir)));
    }
    const opened = await openVerified(db, dir, identity);
    if (E.isLeft(opened)) {
      await closeQuietly(db);
      return opened;
    }
    const { loaded, bound, verified } = opened.right;
    const log = logger.child({ component: "log_store", dir });
    if (verified.restored !== null) log.warn({}, `the Raft hard state lagged its acknowledged bound: ${verified.restored}`);
    const incarnation = loaded.incarnation + 1;
    const upgrade = loaded.formatVersion < LOG_STORE_FORMAT_VERSION || incarnation === 1;
    const storeId = loaded.storeId ?? newStoreId();
    const bumped = await bumpIncarnation(db, dir, { identity, storeId: upgrade ? storeId : null }, incarnation, verified.restored === null ? null : verified.hardState);
    if (E.isLeft(bumped)) {
      await bound.close();
      await closeQuietly(db);
      return bumped;
    }
    await restrictFiles(dir, log);
    const { snapshot, entries } = loaded;
    const hardState = verified.hardState;
    const snapshotIndex = snapshot?.meta.index ?? (0 as LogIndex);
    const { index: lastIndex, term: lastTerm } = lastPosition(loaded);
    const { commit, term } = hardState;
    const what = incarnation === 1 ? "created a new Raft log store" : "opened the Raft log store";
    log.info({ incarnation, snapshotIndex, lastIndex, commit, term }, what);
    const store = new LogStore(dir, db, log, { snapshotIndex, lastIndex, lastTerm, hardState }, bound, storeId, loaded.peerStores);
    return E.right({ store, state: { hardState, snapshot, entries, incarnation, storeId, peerStores: loaded.peerStores } });
  }

  /** The last persisted entry index, or the snapshot index when the log is empty. */
  lastIndex(): LogIndex {
    return this.position.lastIndex;
  }

  /** The first index the log can hold: one past the persisted snapshot (1 without a snapshot). */
  firstIndex(): LogIndex {
    return (this.position.snapshotIndex + 1) as LogIndex;
  }

  /**
   * Persists one Raft ready batch atomically and synced: the snapshot (replacing the whole log),
   * the deletion of a conflicting suffix, the new entries and the hard state. A broken Raft
   * invariant in `write` is a bug and throws (see log_store_plan.ts).
   */
  write(write: LogWrite): Promise<E.Either<LogStoreError, void>> {
    return this.enqueue(() => this.apply(planWrite(this.position, write), "writing a ready batch"));
  }

  /**
   * Local log compaction: stores the snapshot and deletes the entries up to its index, atomically
   * and synced. A compaction to an index the stored snapshot already covers (a snapshot from the
   * leader was installed meanwhile) is ignored.
   */
  compact(snapshot: Snapshot): Promise<E.Either<LogStoreError, void>> {
    return this.enqueue(async () => {
      const index = snapshot.meta.index;
      if (index <= this.position.snapshotIndex) {
        this.logger.info({ index, snapshotIndex: this.position.snapshotIndex },
          `ignoring compaction to index ${index}: the stored snapshot already covers it`);
        return E.right(undefined);
      }
      const obsoleteFrom = this.position.snapshotIndex + 1;
      const applied = await this.apply(planCompaction(this.position, snapshot), "compacting the log");
      if (E.isRight(applied)) this.deleteInBackground(obsoleteFrom, index);
      return applied;
    });
  }

  /**
   * Deletes the entries a durable snapshot covers, outside the write queue: later writes touch
   * only keys above the snapshot, so they need not wait. Leftovers of an interrupted deletion are
   * ignored and removed at the next open.
   */
  private deleteInBackground(from: number, to: number): void {
    if (from > to) return;
    const range = { gte: entryKey(from as LogIndex), lte: entryKey(to as LogIndex) };
    this.background = this.background.then(() => this.db.clear(range)).catch((error: unknown) => {
      this.logger.warn({ from, to, error: error instanceof Error ? error.message : String(error) },
        "could not delete compacted log entries; they will be removed at the next start");
    });
  }

  /** Waits for the writes in flight, then closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.background;
    await this.finalizeBound();
    await this.bound.close();
    await closeQuietly(this.db);
  }

  /**
   * At a clean close no batch is in flight: the bound's floor becomes the last entry itself, so a
   * later loss of even the last batch is noticed (after a crash, the last batch may have been torn
   * and is not counted as acknowledged; see log_store_bound.ts).
   */
  private async finalizeBound(): Promise<void> {
    if (this.failure !== null) return;
    const { lastIndex, lastTerm, hardState } = this.position;
    const written = await this.bound.write({ floorIndex: lastIndex, floorTerm: lastTerm, term: hardState.term, vote: hardState.vote });
    if (E.isLeft(written)) this.logger.warn({ error: written.left.message }, "could not record the final acknowledged bound at close");
  }

  private enqueue(operation: () => Promise<Written>): Promise<Written> {
    assert(!this.closed, () => `writing to the closed Raft log store ${this.dir}`);
    // After a failure the position may not match the disk: nothing more is planned or written.
    const result = this.queue.then(() =>
      this.failure === null ? operation() : E.left(this.failure));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * The LevelDB batch and the acknowledged bound, in parallel: the batch is durable (and may be
   * acknowledged) when both are. The bound names the plan's floor, which holds either way.
   */
  private async apply(plan: Plan, operation: string): Promise<Written> {
    if (plan.operations.length === 0) {
      this.position = plan.next;
      return E.right(undefined);
    }
    const hardState = plan.next.hardState;
    const [written, bounded] = await Promise.all([
      this.writeBatch(plan),
      this.bound.write({ floorIndex: plan.floor.index, floorTerm: plan.floor.term, term: hardState.term, vote: hardState.vote }),
    ]);
    const failure = E.isLeft(written) ? written.left : E.isLeft(bounded) ? bounded.left.message : null;
    if (failure !== null) {
      this.failure = ioError(this.dir, operation, failure);
      this.logger.error({ error: this.failure.message },
        "the Raft log store failed: it accepts no more writes");
      return E.left(this.failure);
    }
    this.position = plan.next;
    return E.right(undefined);
  }

  private async writeBatch(plan: Plan): Promise<E.Either<string, void>> {
    try {
      // A chained batch: several times cheaper per operation than the array form in
      // abstract-level, which validates and copies every operation in JavaScript first.
      const batch = this.db.batch();
      for (const op of plan.operations) {
        if (op.type === "put") batch.put(op.key, op.value);
        else batch.del(op.key);
      }
      await batch.write({ sync: true });
      return E.right(undefined);
    } catch (error: unknown) {
      return E.left(fromLevelError(this.dir, "writing a batch", error).message);
    }
  }
}

/**
 * The verified state and the bound that vouches for it. A new directory gets its bound file
 * before its identity record (a crash between the two leaves a directory that is new again);
 * a directory of format 1, from before the bound existed, gets one from its verified state.
 */
async function openVerified(db: LogDb, dir: string, identity: LogStoreIdentity): Promise<E.Either<LogStoreError, { loaded: LoadedState; bound: BoundFile; verified: Verified }>> {
  const notes = await levelDbRecoveryNotes(dir);
  const loaded = await loadState(db, dir, identity);
  if (E.isLeft(loaded)) return E.left(unreadable(dir, loaded.left, notes));
  const state = loaded.right;
  const leftovers = await deleteBelowSnapshot(db, dir, state.snapshot);
  if (E.isLeft(leftovers)) return leftovers;
  if (state.incarnation === 0 || state.formatVersion < LOG_STORE_FORMAT_VERSION) {
    const last = lastPosition(state);
    const created = await BoundFile.create(dir, { floorIndex: last.index, floorTerm: last.term, term: state.hardState.term, vote: state.hardState.vote });
    if (E.isLeft(created)) return E.left(ioError(dir, "creating the acknowledged bound", created.left.message));
    return E.right({ loaded: state, bound: created.right, verified: { hardState: state.hardState, restored: null } });
  }
  const opened = await BoundFile.open(dir);
  if (E.isLeft(opened)) {
    if (opened.left.code === "io") return E.left(ioError(dir, "reading the acknowledged bound", opened.left.message));
    const why = `${opened.left.message}: whether this node lost entries it acknowledged cannot be known`;
    return E.left(corruptError(dir, "acknowledged bound", why));
  }
  const verified = verifyAgainstBound(dir, state, opened.right.bound, notes);
  if (E.isLeft(verified)) {
    await opened.right.file.close();
    return verified;
  }
  return E.right({ loaded: state, bound: opened.right.file, verified: verified.right });
}

/**
 * An error while opening or reading the store, as the operator should see it: what LevelDB cannot
 * read (a truncated table, a lost manifest, a damaged CURRENT) is damage, not a passing I/O error,
 * unless the system refused access. LevelDB's own complaints at open are quoted.
 */
function unreadable(dir: string, error: LogStoreError, notes: readonly string[]): LogStoreError {
  const cause = notes.length === 0 ? "" : ` (LevelDB reported at open: ${notes.join(" | ")})`;
  if (error.code === "io" && !/permission denied|no space left|read-only file system/i.test(error.message)) {
    return corruptError(dir, "LevelDB files", `${error.message.replace(/\.$/, "")}${cause}`);
  }
  return cause === "" ? error : { ...error, message: `${error.message}${cause}` };
}

/** The data directory is this node's alone: 0700, created so when missing. */
async function makePrivate(dir: string): Promise<E.Either<LogStoreError, void>> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    return E.right(undefined);
  } catch (error: unknown) {
    return E.left(ioError(dir, "creating the data directory", error instanceof Error ? error.message : String(error)));
  }
}

/** LevelDB creates its files with the process umask; the log holds the cluster's state: 0600. */
async function restrictFiles(dir: string, log: Logger): Promise<void> {
  try {
    for (const name of await readdir(dir)) await chmod(join(dir, name), 0o600);
  } catch (error: unknown) {
    log.warn({ error: error instanceof Error ? error.message : String(error) }, "could not make the Raft data files private (0600)");
  }
}

/**
 * The incarnation, with the identity record on the first open or an upgrade of the format, and
 * the hard state when it was taken over from the acknowledged bound.
 */
async function bumpIncarnation(
  db: LogDb,
  dir: string,
  first: { readonly identity: LogStoreIdentity; readonly storeId: string | null },
  incarnation: number,
  hardState: HardState | null,
): Promise<E.Either<LogStoreError, void>> {
  const { identity, storeId } = first;
  const operations = [
    { type: "put" as const, key: INCARNATION_KEY, value: seal(encodeIncarnation(incarnation)) },
  ];
  if (hardState !== null) operations.push({ type: "put", key: HARD_STATE_KEY, value: seal(encodeHardState(hardState)) });
  if (storeId !== null) {
    operations.push({ type: "put", key: STORE_ID_KEY, value: seal(encodeStoreId(storeId)) });
    const record = {
      formatVersion: LOG_STORE_FORMAT_VERSION,
      clusterId: identity.clusterId,
      nodeId: identity.nodeId,
    };
    operations.push({ type: "put", key: IDENTITY_KEY, value: seal(encodeIdentity(record)) });
  }
  try {
    await db.batch(operations, { sync: true });
    return E.right(undefined);
  } catch (error: unknown) {
    return E.left(fromLevelError(dir, "recording the incarnation", error));
  }
}

/** Removes entries an interrupted compaction left at or below the snapshot index. */
async function deleteBelowSnapshot(db: LogDb, dir: string, snapshot: Snapshot | null): Promise<E.Either<LogStoreError, void>> {
  if (snapshot === null) return E.right(undefined);
  try {
    await db.clear({ gte: ENTRY_KEYS_START, lte: entryKey(snapshot.meta.index) });
    return E.right(undefined);
  } catch (error: unknown) {
    return E.left(fromLevelError(dir, "deleting compacted log entries", error));
  }
}

async function closeQuietly(db: LogDb): Promise<void> {
  try {
    await db.close();
  } catch {
    // Closing after a failure: the failure already reported is the one that matters.
  }
}
