/**
 * The simulated PostgreSQL's write-ahead log (issue 17 item 3): a data directory's WAL is a list
 * of records, each created once on one primary and then copied, in order, to whoever streams,
 * clones or rewinds from it. A record's `id` is its identity across the whole simulation, so two
 * directories that hold the same record at the same place share every record before it — which
 * is how "is this WAL a prefix of that one" and "where did they fork" are answered here, without
 * trusting timeline numbers (two forks may pick the same number, as PostgreSQL may without an
 * archive).
 */
import { assert } from "../../../src/lib/assert.js";
import type { Lsn } from "../../../src/dcs/model.js";

export type RecordKind = "checkpoint" | "commit" | "endOfRecovery" | "shutdown";

export interface WalRecord {
  /** Unique in the whole simulation. */
  readonly id: number;
  /** Where the record ends: the WAL position once it is written. */
  readonly lsn: Lsn;
  readonly timeline: number;
  readonly kind: RecordKind;
  /** A client's write that this commit record carries, or null. */
  readonly writeId: string | null;
}

/** A timeline's history file: where `timeline` branched off `parent`. */
export interface TimelineSwitch {
  readonly timeline: number;
  readonly parent: number;
  readonly switchLsn: Lsn;
}

/** Where initdb's first record ends (PostgreSQL's first WAL segment starts at 0/1000000). */
export const FIRST_LSN = 0x1000028n as Lsn;
/** How long every simulated record is. */
export const RECORD_BYTES = 0x80n;

export function lsnAfter(wal: readonly WalRecord[]): Lsn {
  return wal.at(-1)?.lsn ?? FIRST_LSN;
}

/** Where the first `count` records of `wal` end. */
export function lsnAt(wal: readonly WalRecord[], count: number): Lsn {
  assert(count >= 0 && count <= wal.length, () => `${count} records of ${wal.length}`);
  return count === 0 ? FIRST_LSN : wal[count - 1]!.lsn;
}

export function nextLsn(wal: readonly WalRecord[]): Lsn {
  return (lsnAfter(wal) + RECORD_BYTES) as Lsn;
}

/** How many records of `a` and `b`, from the start, are the same records. */
export function commonPrefix(a: readonly WalRecord[], b: readonly WalRecord[]): number {
  // Records are copied only in order, so the same record at index i means the same prefix.
  let lo = 0;
  let hi = Math.min(a.length, b.length);
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (a[mid - 1]!.id === b[mid - 1]!.id) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** `prefix` holds only records `whole` holds, at the same places. */
export function isPrefix(prefix: readonly WalRecord[], whole: readonly WalRecord[]): boolean {
  return commonPrefix(prefix, whole) === prefix.length;
}

/** The number of records of `wal` that end at or before `lsn`. */
export function countUpTo(wal: readonly WalRecord[], lsn: bigint): number {
  let n = 0;
  while (n < wal.length && wal[n]!.lsn <= lsn) n++;
  return n;
}

/** The switch that started `timeline`, in `history`, or null for timeline 1 or one not there. */
export function switchOf(history: readonly TimelineSwitch[], timeline: number): TimelineSwitch | null {
  return history.find((s) => s.timeline === timeline) ?? null;
}

/** Checks what every directory's WAL must be: positions strictly growing, timelines never going back. */
export function checkWal(wal: readonly WalRecord[], where: string): void {
  for (let i = 1; i < wal.length; i++) {
    const [before, after] = [wal[i - 1]!, wal[i]!];
    assert(after.lsn > before.lsn, () => `${where}: WAL position ${after.lsn} after ${before.lsn}`);
    assert(after.timeline >= before.timeline, () => `${where}: timeline ${after.timeline} after ${before.timeline}`);
  }
}
