/**
 * The shapes the Raft log store exchanges with its caller, and the one place where its error
 * messages are worded. log_store.ts re-exports everything here; import from there.
 */
import type { Entry, HardState, NodeId, Snapshot } from "../types.js";

/**
 * - locked: another process holds the data directory (LevelDB's LOCK file).
 * - corrupt: a record fails its checksum or cannot be decoded, the log is not contiguous, the
 *   hard state contradicts the log, or LevelDB itself reports corruption.
 * - identity: the directory belongs to another cluster id or node id.
 * - version: the directory was written in a newer on-disk format than this build reads.
 * - io: any other I/O failure (disk full, permissions...). After an io error from a write the
 *   store is failed for good: the caller cannot know what reached the disk and must stop.
 */
export type LogStoreError =
  | { readonly code: "locked"; readonly message: string }
  | { readonly code: "corrupt"; readonly message: string }
  | { readonly code: "identity"; readonly message: string }
  | { readonly code: "version"; readonly message: string }
  | { readonly code: "io"; readonly message: string };

export interface LogStoreIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

export interface StoredState {
  /** {term 0, vote null, commit 0} on a new store. */
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Contiguous, starting at (snapshot?.meta.index ?? 0) + 1. */
  readonly entries: readonly Entry[];
  /** 1 on the first open of a directory, +1 on every later open (persisted and synced). */
  readonly incarnation: number;
  /** The directory's random id, which its peers remember (log_store_peers.ts). */
  readonly storeId: string;
  /** The store ids this node saw for its peers. */
  readonly peerStores: ReadonlyMap<NodeId, string>;
}

export interface LogWrite {
  /** null: unchanged. */
  readonly hardState: HardState | null;
  /**
   * Entries to append. When entries[0].index <= lastIndex, the persisted entries from
   * entries[0].index on are deleted first (a follower's conflicting suffix).
   */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader: it replaces the whole log (every entry is deleted), and
   * `entries`, if any, follow it.
   */
  readonly snapshot: Snapshot | null;
}

const DAMAGED_ADVICE =
  "This node's Raft data is damaged: stop it, move the directory aside and re-add the node to " +
  "the cluster so it receives a snapshot.";

export function corruptError(dir: string, record: string, what: string): LogStoreError {
  const message = `The Raft data in ${dir} is corrupt: ${record}: ${what}. ${DAMAGED_ADVICE}`;
  return { code: "corrupt", message };
}

export function lockedError(dir: string, detail: string): LogStoreError {
  return {
    code: "locked",
    message:
      `Cannot open the Raft data directory ${dir}: it is locked by another process, probably ` +
      `another raftgres process using the same directory (stop it, or give this node its own ` +
      `data directory). LevelDB said: ${detail}`,
  };
}

export function identityError(
  dir: string,
  stored: { readonly clusterId: string; readonly nodeId: string },
  expected: LogStoreIdentity,
): LogStoreError {
  return {
    code: "identity",
    message:
      `The Raft data directory ${dir} belongs to cluster ${JSON.stringify(stored.clusterId)}, ` +
      `node ${JSON.stringify(stored.nodeId)}, but this node is configured as cluster ` +
      `${JSON.stringify(expected.clusterId)}, node ${JSON.stringify(expected.nodeId)}: check the ` +
      `data directory and the node and cluster ids in the configuration; a directory is never ` +
      `shared between nodes or clusters.`,
  };
}

export function versionError(dir: string, stored: number, supported: number): LogStoreError {
  return {
    code: "version",
    message:
      `The Raft data directory ${dir} has on-disk format version ${stored}, written by a newer ` +
      `raftgres; this build reads format version ${supported} and older: run the newer raftgres ` +
      `on this node.`,
  };
}

export function ioError(dir: string, operation: string, detail: string): LogStoreError {
  const message = `I/O error on the Raft data directory ${dir} while ${operation}: ${detail}`;
  return { code: "io", message };
}

/** Maps an error thrown by level to a LogStoreError; no raw library error leaves the store. */
export function fromLevelError(dir: string, operation: string, error: unknown): LogStoreError {
  const cause = causeOf(error);
  const detail =
    cause === undefined ? messageOf(error) : `${messageOf(error)}: ${messageOf(cause)}`;
  const codes = [codeOf(error), codeOf(cause)];
  if (codes.includes("LEVEL_LOCKED")) return lockedError(dir, detail);
  if (codes.includes("LEVEL_CORRUPTION")) return corruptError(dir, "LevelDB files", detail);
  return ioError(dir, operation, detail);
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

function codeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
