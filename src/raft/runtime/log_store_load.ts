/**
 * Reading a Raft log store at open: every record is read, its checksum verified and its payload
 * decoded, and the whole is checked for the invariants the Raft core relies on. The result is all
 * or nothing: either the complete verified state or the first problem found, never partial data.
 */
import * as E from "fp-ts/lib/Either.js";
import { decodeEntry, decodeHardState, decodeSnapshot } from "../codec.js";
import type { Entry, HardState, LogIndex, NodeId, Snapshot, Term } from "../types.js";
import {
  ENTRY_KEYS_END,
  ENTRY_KEYS_START,
  entryKey,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  INCARNATION_KEY,
  indexOfEntryKey,
  type LogDb,
  PEER_STORES_KEY,
  REPLACED_KEY,
  SNAPSHOT_KEY,
  STORE_ID_KEY,
} from "./log_store_keys.js";
import { decodePeerStores, decodeStoreId } from "./log_store_peers.js";
import {
  decodeFormatVersion,
  decodeIdentity,
  decodeIncarnation,
  LOG_STORE_FORMAT_VERSION,
  unseal,
} from "./log_store_records.js";
import {
  corruptError,
  fromLevelError,
  identityError,
  type LogStoreError,
  type LogStoreIdentity,
  versionError,
} from "./log_store_types.js";

export const EMPTY_HARD_STATE: HardState = { term: 0 as Term, vote: null, commit: 0 as LogIndex };

/** What is on disk; `incarnation` is 0 for a directory never opened before (no records at all). */
export interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly incarnation: number;
  /** The on-disk format the directory was written in (LOG_STORE_FORMAT_VERSION for a new one). */
  readonly formatVersion: number;
  /** The directory's random id (log_store_peers.ts); null for a new or a format-1 directory. */
  readonly storeId: string | null;
  /** The store ids this node saw for its peers. */
  readonly peerStores: ReadonlyMap<NodeId, string>;
}

type Loaded<T> = Promise<E.Either<LogStoreError, T>>;

export async function loadState(
  db: LogDb,
  dir: string,
  identity: LogStoreIdentity,
): Loaded<LoadedState> {
  const identityRecord = await readRecord(db, dir, IDENTITY_KEY, "identity record");
  if (E.isLeft(identityRecord)) return identityRecord;
  if (identityRecord.right === undefined) return loadNewDirectory(db, dir);
  const checked = checkIdentity(dir, identityRecord.right, identity);
  if (E.isLeft(checked)) return checked;
  const formatVersion = checked.right;
  const replaced = await readRecord(db, dir, REPLACED_KEY, "replacement record");
  if (E.isLeft(replaced)) return replaced;
  if (replaced.right !== undefined) return E.left(corruptError(dir, "the whole directory", new TextDecoder().decode(replaced.right)));

  const incarnation = await readDecoded(db, dir, INCARNATION_KEY, "incarnation", decodeIncarnation);
  if (E.isLeft(incarnation)) return incarnation;
  if (incarnation.right === undefined) {
    return E.left(corruptError(dir, "incarnation", "the record is missing"));
  }
  const hardState = await readDecoded(db, dir, HARD_STATE_KEY, "hard state", decodeHardState);
  if (E.isLeft(hardState)) return hardState;
  const snapshot = await readDecoded(db, dir, SNAPSHOT_KEY, "snapshot", decodeSnapshot);
  if (E.isLeft(snapshot)) return snapshot;
  const entries = await readEntries(db, dir, snapshot.right ?? null);
  if (E.isLeft(entries)) return entries;
  const storeId = await readDecoded(db, dir, STORE_ID_KEY, "store id", decodeStoreId);
  if (E.isLeft(storeId)) return storeId;
  if (storeId.right === undefined && formatVersion >= 2) return E.left(corruptError(dir, "store id", "the record is missing"));
  const peerStores = await readDecoded(db, dir, PEER_STORES_KEY, "peer store registry", decodePeerStores);
  if (E.isLeft(peerStores)) return peerStores;

  const state: LoadedState = {
    hardState: hardState.right ?? EMPTY_HARD_STATE,
    snapshot: snapshot.right ?? null,
    entries: entries.right,
    incarnation: incarnation.right,
    formatVersion,
    storeId: storeId.right ?? null,
    peerStores: peerStores.right ?? new Map(),
  };
  const consistent = checkHardState(dir, state);
  return E.isLeft(consistent) ? consistent : E.right(state);
}

/** No identity record: the directory is new, unless it holds other records (not ours then). */
async function loadNewDirectory(db: LogDb, dir: string): Loaded<LoadedState> {
  try {
    for await (const _key of db.keys({ limit: 1 })) {
      return E.left(corruptError(dir, "identity record",
        "the record is missing but the directory holds other records (it is not a raftgres Raft " +
        "directory, or its identity record was lost)"));
    }
  } catch (error: unknown) {
    return E.left(fromLevelError(dir, "reading the records", error));
  }
  return E.right({ hardState: EMPTY_HARD_STATE, snapshot: null, entries: [], incarnation: 0, formatVersion: LOG_STORE_FORMAT_VERSION, storeId: null, peerStores: new Map() });
}

/** The directory's format version when the identity record matches this node. */
function checkIdentity(
  dir: string,
  payload: Uint8Array,
  expected: LogStoreIdentity,
): E.Either<LogStoreError, number> {
  const version = decodeFormatVersion(payload);
  if (E.isLeft(version)) return E.left(corruptError(dir, "identity record", version.left));
  if (version.right > LOG_STORE_FORMAT_VERSION) {
    return E.left(versionError(dir, version.right, LOG_STORE_FORMAT_VERSION));
  }
  if (version.right < 1) {
    return E.left(corruptError(dir, "identity record", `invalid format version ${version.right}`));
  }
  const stored = decodeIdentity(payload);
  if (E.isLeft(stored)) return E.left(corruptError(dir, "identity record", stored.left));
  if (stored.right.clusterId !== expected.clusterId || stored.right.nodeId !== expected.nodeId) {
    return E.left(identityError(dir, stored.right, expected));
  }
  return E.right(version.right);
}

/** The verified payload under `key`, or undefined when there is no such record. */
async function readRecord(
  db: LogDb,
  dir: string,
  key: Uint8Array,
  what: string,
): Loaded<Uint8Array | undefined> {
  let value: Uint8Array | undefined;
  try {
    value = await db.get(key);
  } catch (error: unknown) {
    return E.left(fromLevelError(dir, `reading the ${what}`, error));
  }
  if (value === undefined) return E.right(undefined);
  const payload = unseal(value);
  return E.isLeft(payload) ? E.left(corruptError(dir, what, payload.left)) : E.right(payload.right);
}

async function readDecoded<T>(
  db: LogDb,
  dir: string,
  key: Uint8Array,
  what: string,
  decode: (payload: Uint8Array) => E.Either<string, T>,
): Loaded<T | undefined> {
  const payload = await readRecord(db, dir, key, what);
  if (E.isLeft(payload)) return payload;
  if (payload.right === undefined) return E.right(undefined);
  const decoded = decode(payload.right);
  return E.isLeft(decoded) ? E.left(corruptError(dir, what, decoded.left)) : E.right(decoded.right);
}

/**
 * Reads the entries after the snapshot in index order, checking each one and the contiguity of
 * the whole. Entries at or below the snapshot index are not read: compaction deletes them after
 * the snapshot is durable, so an interrupted compaction may leave some (the store deletes them at
 * open).
 */
async function readEntries(db: LogDb, dir: string, snapshot: Snapshot | null): Loaded<Entry[]> {
  const entries: Entry[] = [];
  const after = snapshot === null ? { gte: ENTRY_KEYS_START } : { gt: entryKey(snapshot.meta.index) };
  try {
    for await (const [key, value] of db.iterator({ ...after, lt: ENTRY_KEYS_END })) {
      const entry = verifyEntry(dir, key, value, entries.at(-1) ?? null, snapshot);
      if (E.isLeft(entry)) return entry;
      entries.push(entry.right);
    }
  } catch (error: unknown) {
    return E.left(fromLevelError(dir, "reading the log entries", error));
  }
  return E.right(entries);
}

/** Checks one stored entry against its key and against what precedes it (entry or snapshot). */
function verifyEntry(
  dir: string,
  key: Uint8Array,
  value: Uint8Array,
  previous: Entry | null,
  snapshot: Snapshot | null,
): E.Either<LogStoreError, Entry> {
  const index = indexOfEntryKey(key);
  if (E.isLeft(index)) return E.left(corruptError(dir, "log entries", index.left));
  const record = `entry ${index.right}`;
  const payload = unseal(value);
  if (E.isLeft(payload)) return E.left(corruptError(dir, record, payload.left));
  const entry = decodeEntry(payload.right);
  if (E.isLeft(entry)) return E.left(corruptError(dir, record, entry.left));
  if (entry.right.index !== index.right) {
    const says = `the record stored under this index says index ${entry.right.index}`;
    return E.left(corruptError(dir, record, says));
  }
  const expected = (previous?.index ?? snapshot?.meta.index ?? 0) + 1;
  if (index.right !== expected) {
    const problem = contiguityProblem(index.right, expected, previous, snapshot);
    return E.left(corruptError(dir, record, problem));
  }
  const previousTerm = previous?.term ?? snapshot?.meta.term ?? 0;
  if (entry.right.term < previousTerm) {
    const problem = `its term ${entry.right.term} is below the term ${previousTerm} before it`;
    return E.left(corruptError(dir, record, problem));
  }
  return E.right(entry.right);
}

function contiguityProblem(
  index: number,
  expected: number,
  previous: Entry | null,
  snapshot: Snapshot | null,
): string {
  if (index < expected) {
    // Keys come in increasing order, so only the first entry can be below the expected index.
    return `the log is not contiguous: the entry is covered by the snapshot at index ` +
      `${expected - 1} but was not deleted`;
  }
  const missing =
    expected === index - 1 ? `entry ${expected} is` : `entries ${expected} to ${index - 1} are`;
  const context = previous !== null
    ? `the entry before it is ${previous.index}`
    : snapshot !== null
      ? `the snapshot ends at index ${snapshot.meta.index}, so the log should start at ` +
        `entry ${expected}`
      : "the log should start at entry 1";
  return `the log is not contiguous: ${missing} missing (${context})`;
}

/** The commit index lies between the snapshot (committed by definition) and the last entry. */
function checkHardState(dir: string, state: LoadedState): E.Either<LogStoreError, void> {
  const snapshotIndex = state.snapshot?.meta.index ?? 0;
  const lastIndex = state.entries.at(-1)?.index ?? snapshotIndex;
  const commit = state.hardState.commit;
  if (commit > lastIndex) {
    const problem = `commit index ${commit} is beyond the last index ${lastIndex}`;
    return E.left(corruptError(dir, "hard state", problem));
  }
  if (commit < snapshotIndex) {
    const problem = `commit index ${commit} is below the snapshot index ${snapshotIndex}`;
    return E.left(corruptError(dir, "hard state", problem));
  }
  return E.right(undefined);
}
