/**
 * Turning a LogWrite or a compaction into the operations of one LevelDB batch, and the position
 * of the log after it. Pure: the store applies the batch, then adopts the new position.
 *
 * The preconditions asserted here are Raft invariants that the caller (the runtime driving the
 * core) must never break; a failed one is a bug, and persisting such a write would leave a log
 * that the next open rejects as corrupt. References: Raft thesis §3.5 (log matching, a follower
 * deletes a conflicting suffix), §3.6.2 (committed entries are never removed), §5.1 (snapshots);
 * etcd raft's raftLog.restore and MemoryStorage.Compact.
 */
import { assert } from "../../lib/assert.js";
import { encodeEntry, encodeHardState, encodeSnapshot } from "../codec.js";
import type { Entry, HardState, LogIndex, Snapshot, Term } from "../types.js";
import { entryKey, HARD_STATE_KEY, SNAPSHOT_KEY } from "./log_store_keys.js";
import { seal } from "./log_store_records.js";
import type { LogWrite } from "./log_store_types.js";

export type BatchOperation =
  | { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: "del"; readonly key: Uint8Array };

/** What the store keeps in memory about the persisted log. */
export interface LogPosition {
  readonly snapshotIndex: LogIndex;
  /** The last persisted entry, or snapshotIndex when there is none. */
  readonly lastIndex: LogIndex;
  /** The term of lastIndex (the snapshot's term when the log is empty; 0 for an empty store). */
  readonly lastTerm: Term;
  readonly hardState: HardState;
}

/**
 * A position the log holds whether or not the batch reaches the disk (log_store_bound.ts): the
 * acknowledged bound written beside the batch names it. `term` is null when it is not known here.
 */
export interface Floor {
  readonly index: LogIndex;
  readonly term: Term | null;
}

export interface Plan {
  readonly operations: readonly BatchOperation[];
  readonly next: LogPosition;
  readonly floor: Floor;
}

export function planWrite(position: LogPosition, write: LogWrite): Plan {
  const operations: BatchOperation[] = [];
  let snapshotIndex = position.snapshotIndex;
  // The persisted entries that survive this write are (snapshotIndex, survivingLast].
  let survivingLast = position.lastIndex;
  if (write.snapshot !== null) {
    const index = write.snapshot.meta.index;
    assert(index > position.snapshotIndex, () =>
      `installing a snapshot at index ${index}, ` +
      `not after the stored snapshot at ${position.snapshotIndex}`);
    operations.push(putSnapshot(write.snapshot));
    snapshotIndex = index;
    survivingLast = index;
  }
  let lastIndex = survivingLast;
  const first = write.entries[0];
  if (first !== undefined) {
    assertContiguous(write.entries);
    assert(first.index > snapshotIndex, () =>
      `appending entry ${first.index}, which the snapshot at index ${snapshotIndex} covers`);
    assert(first.index <= survivingLast + 1, () =>
      `appending entry ${first.index} after the last index ${survivingLast} would leave a gap`);
    assert(first.index > survivingLast || first.index > position.hardState.commit, () =>
      `truncating the log from entry ${first.index}, ` +
      `which is committed (commit ${position.hardState.commit})`);
    survivingLast = (first.index - 1) as LogIndex;
    lastIndex = write.entries.at(-1)!.index;
  }
  operations.push(...deletions(position, snapshotIndex, survivingLast, lastIndex));
  for (const entry of write.entries) {
    operations.push({ type: "put", key: entryKey(entry.index), value: seal(encodeEntry(entry)) });
  }
  const hardState = write.hardState ?? position.hardState;
  if (write.hardState !== null) {
    assertHardStateFollows(position.hardState, write.hardState);
    const value = seal(encodeHardState(write.hardState));
    operations.push({ type: "put", key: HARD_STATE_KEY, value });
  }
  assertCommitInLog(hardState, snapshotIndex, lastIndex);
  const lastTerm = write.entries.at(-1)?.term ?? (write.snapshot !== null ? write.snapshot.meta.term : position.lastTerm);
  return { operations, next: { snapshotIndex, lastIndex, lastTerm, hardState }, floor: floorOf(position, write) };
}

/**
 * The floor of a write: the last entry before it, unless the write replaces a suffix (then the
 * entry before the first replaced one) or installs a snapshot (then the lower of the old last
 * index and the snapshot's index, which the log reaches either way).
 */
function floorOf(position: LogPosition, write: LogWrite): Floor {
  const unchanged: Floor = { index: position.lastIndex, term: position.lastTerm };
  if (write.snapshot !== null) return { index: Math.min(position.lastIndex, write.snapshot.meta.index) as LogIndex, term: null };
  const first = write.entries[0];
  if (first === undefined || first.index > position.lastIndex) return unchanged;
  return { index: (first.index - 1) as LogIndex, term: null };
}

/**
 * Compaction: the snapshot now stands for the entries up to its index; later entries stay. The
 * entries it covers are deleted by the store afterwards, in the background (see
 * LogStore.compact): one delete per entry in this batch would make a large compaction a long
 * synced write that every later write waits behind. A snapshot is taken only of applied, hence
 * committed, entries, so the stored commit index (which the runtime need not persist on every
 * change) is raised to the snapshot index when it lags.
 */
export function planCompaction(position: LogPosition, snapshot: Snapshot): Plan {
  const index = snapshot.meta.index;
  assert(index > position.snapshotIndex, () =>
    `compacting to index ${index}, not after the stored snapshot at ${position.snapshotIndex}`);
  assert(index <= position.lastIndex, () =>
    `compacting to index ${index}, beyond the last index ${position.lastIndex}`);
  const operations: BatchOperation[] = [putSnapshot(snapshot)];
  let hardState = position.hardState;
  if (hardState.commit < index) {
    hardState = { ...hardState, commit: index };
    operations.push({ type: "put", key: HARD_STATE_KEY, value: seal(encodeHardState(hardState)) });
  }
  return { operations, next: { ...position, snapshotIndex: index, hardState }, floor: { index: position.lastIndex, term: position.lastTerm } };
}

/**
 * Deletes every persisted entry that is neither kept, (snapshotIndex, survivingLast], nor
 * overwritten by a new entry, (survivingLast, lastIndex]: those at or below the new snapshot index
 * and those beyond the new last index. One delete per entry: LevelDB batches have no range delete,
 * and the atomicity of the batch is the point. The log length is bounded by compaction.
 */
function deletions(
  position: LogPosition,
  snapshotIndex: number,
  survivingLast: number,
  lastIndex: number,
): BatchOperation[] {
  const operations: BatchOperation[] = [];
  const first = position.snapshotIndex + 1;
  for (let index = first; index <= Math.min(position.lastIndex, snapshotIndex); index++) {
    operations.push({ type: "del", key: entryKey(index as LogIndex) });
  }
  const firstBeyond = Math.max(first, snapshotIndex + 1, survivingLast + 1, lastIndex + 1);
  for (let index = firstBeyond; index <= position.lastIndex; index++) {
    operations.push({ type: "del", key: entryKey(index as LogIndex) });
  }
  return operations;
}

function putSnapshot(snapshot: Snapshot): BatchOperation {
  return { type: "put", key: SNAPSHOT_KEY, value: seal(encodeSnapshot(snapshot)) };
}

function assertContiguous(entries: readonly Entry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    assert(Number.isSafeInteger(entry.index) && entry.index > 0, () =>
      `appending an entry with index ${entry.index}`);
    const previous = entries[i - 1];
    if (previous === undefined) continue;
    assert(entry.index === previous.index + 1, () =>
      `appending entries that are not contiguous: ${entry.index} follows ${previous.index}`);
    assert(entry.term >= previous.term, () =>
      `appending entries whose terms decrease: ` +
      `entry ${entry.index} has term ${entry.term} after ${previous.term}`);
  }
}

/** Terms and commit indexes never decrease; a vote cast in a term stays (Raft thesis §3.4). */
function assertHardStateFollows(previous: HardState, next: HardState): void {
  assert(next.term >= previous.term, () =>
    `hard state term goes back from ${previous.term} to ${next.term}`);
  assert(next.commit >= previous.commit, () =>
    `hard state commit goes back from ${previous.commit} to ${next.commit}`);
  assert(next.term > previous.term || previous.vote === null || next.vote === previous.vote, () =>
    `hard state changes its vote in term ${next.term} from ${previous.vote} to ${next.vote}`);
}

function assertCommitInLog(hardState: HardState, snapshotIndex: number, lastIndex: number): void {
  assert(hardState.commit <= lastIndex, () =>
    `commit index ${hardState.commit} is beyond the last index ${lastIndex}`);
  assert(hardState.commit >= snapshotIndex, () =>
    `commit index ${hardState.commit} is below the snapshot index ${snapshotIndex}`);
}
