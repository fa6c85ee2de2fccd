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
import { either as E } from "fp-ts";
import { Level } from "level";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import type { LogIndex, Snapshot } from "../types.js";
import { ENTRY_KEYS_START, entryKey, IDENTITY_KEY, INCARNATION_KEY, type LogDb } from "./log_store_keys.js";
import { loadState } from "./log_store_load.js";
import { type LogPosition, type Plan, planCompaction, planWrite } from "./log_store_plan.js";
import {
  encodeIdentity,
  encodeIncarnation,
  LOG_STORE_FORMAT_VERSION,
  seal,
} from "./log_store_records.js";
import {
  fromLevelError,
  ioError,
  type LogStoreError,
  type LogStoreIdentity,
  type LogWrite,
  type StoredState,
} from "./log_store_types.js";

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

  private constructor(dir: string, db: LogDb, logger: Logger, position: LogPosition) {
    this.dir = dir;
    this.db = db;
    this.logger = logger;
    this.position = position;
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
    const db: LogDb = new Level<Uint8Array, Uint8Array>(dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    try {
      await db.open();
    } catch (error: unknown) {
      return E.left(fromLevelError(dir, "opening", error));
    }
    const loaded = await loadState(db, dir, identity);
    if (E.isLeft(loaded)) {
      await closeQuietly(db);
      return loaded;
    }
    const leftovers = await deleteBelowSnapshot(db, dir, loaded.right.snapshot);
    if (E.isLeft(leftovers)) {
      await closeQuietly(db);
      return leftovers;
    }
    const incarnation = loaded.right.incarnation + 1;
    const bumped = await bumpIncarnation(db, dir, identity, incarnation);
    if (E.isLeft(bumped)) {
      await closeQuietly(db);
      return bumped;
    }
    const { hardState, snapshot, entries } = loaded.right;
    const snapshotIndex = snapshot?.meta.index ?? (0 as LogIndex);
    const lastIndex = entries.at(-1)?.index ?? snapshotIndex;
    const log = logger.child({ component: "log_store", dir });
    const { commit, term } = hardState;
    const what = incarnation === 1 ? "created a new Raft log store" : "opened the Raft log store";
    log.info({ incarnation, snapshotIndex, lastIndex, commit, term }, what);
    const store = new LogStore(dir, db, log, { snapshotIndex, lastIndex, hardState });
    return E.right({ store, state: { hardState, snapshot, entries, incarnation } });
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
    await closeQuietly(this.db);
  }

  private enqueue(operation: () => Promise<Written>): Promise<Written> {
    assert(!this.closed, () => `writing to the closed Raft log store ${this.dir}`);
    // After a failure the position may not match the disk: nothing more is planned or written.
    const result = this.queue.then(() =>
      this.failure === null ? operation() : E.left(this.failure));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async apply(plan: Plan, operation: string): Promise<Written> {
    if (plan.operations.length > 0) {
      try {
        // A chained batch: several times cheaper per operation than the array form in
        // abstract-level, which validates and copies every operation in JavaScript first.
        const batch = this.db.batch();
        for (const op of plan.operations) {
          if (op.type === "put") batch.put(op.key, op.value);
          else batch.del(op.key);
        }
        await batch.write({ sync: true });
      } catch (error: unknown) {
        const failure = fromLevelError(this.dir, operation, error);
        this.failure =
          failure.code === "io" ? failure : ioError(this.dir, operation, failure.message);
        this.logger.error({ error: this.failure.message },
          "the Raft log store failed: it accepts no more writes");
        return E.left(this.failure);
      }
    }
    this.position = plan.next;
    return E.right(undefined);
  }
}

/** First open: identity and incarnation 1 in one batch; later opens: the incarnation alone. */
async function bumpIncarnation(
  db: LogDb,
  dir: string,
  identity: LogStoreIdentity,
  incarnation: number,
): Promise<E.Either<LogStoreError, void>> {
  const operations = [
    { type: "put" as const, key: INCARNATION_KEY, value: seal(encodeIncarnation(incarnation)) },
  ];
  if (incarnation === 1) {
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
