/**
 * Group commit across Ready batches. While one durable write is in progress, the batches the
 * core hands out meanwhile wait here; when the write completes they leave together as one write,
 * however many there are. Their order is kept: a batch completes (messages sent, advance()) only
 * after every earlier batch, because its messages may acknowledge entries an earlier batch wrote.
 *
 * Pure: the runtime and the simulator both drive it, each with its own disk.
 */
import { assert } from "../../lib/assert.js";
import type { Ready } from "../raw_node.js";
import type { Entry, HardState, Snapshot } from "../types.js";

export interface MergedWrite {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

export interface WriteBatch {
  /** Null when none of the batches needs anything made durable. */
  readonly write: MergedWrite | null;
  readonly readies: readonly Ready[];
}

/** Folds batches in order: a snapshot replaces the log, entries replace any suffix they overlap. */
export function mergeWrites(readies: readonly Ready[]): MergedWrite | null {
  let hardState: HardState | null = null;
  let snapshot: Snapshot | null = null;
  let entries: Entry[] = [];
  let durable = false;
  for (const ready of readies) {
    if (ready.snapshot !== null) {
      snapshot = ready.snapshot;
      entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const kept = entries.filter((e) => e.index < first.index);
      assert(kept.length === 0 || kept[kept.length - 1]!.index + 1 === first.index, "merged entries are contiguous");
      entries = kept.concat(ready.entries);
    }
    if (ready.hardState !== null) hardState = ready.hardState;
    durable ||= ready.mustSync || ready.entries.length > 0 || ready.snapshot !== null;
  }
  return durable ? { hardState, entries, snapshot } : null;
}

export class WriteBatcher {
  private waiting: Ready[] = [];
  private writing = false;

  add(ready: Ready): void {
    this.waiting.push(ready);
  }

  isWriting(): boolean {
    return this.writing;
  }

  /** The next batch to write, or null while a write is in progress or nothing waits. */
  take(): WriteBatch | null {
    if (this.writing || this.waiting.length === 0) return null;
    const readies = this.waiting;
    this.waiting = [];
    const write = mergeWrites(readies);
    this.writing = write !== null;
    return { write, readies };
  }

  /** The write of the batch last taken is durable. */
  written(): void {
    assert(this.writing, "written() without a write in progress");
    this.writing = false;
  }
}
