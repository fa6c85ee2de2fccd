/**
 * The replicated log as the core sees it: a snapshot point, the entries after it, and its marks:
 * `inProgress` (handed to the runtime to persist) ≥ `stable` (persisted), `committed`, `applying`
 * (handed to the runtime to apply) ≥ `applied`. Several batches may be in flight at once; the
 * runtime completes them in order. The whole uncompacted log is held in memory; the runtime
 * compacts it with snapshots so it stays small.
 *
 * It also tracks the configuration entries in the log, because a node uses the latest
 * configuration in its log, committed or not (Raft thesis §4.1), and must fall back to an older one
 * when a conflicting suffix is truncated.
 */
import { assert } from "../lib/assert.js";
import { decodeConfChange } from "./codec.js";
import { applyValidConfChange } from "./membership.js";
import {
  type ConfState,
  type Entry,
  entrySizeBytes,
  type LogIndex,
  type Snapshot,
  type SnapshotMeta,
  type Term,
} from "./types.js";

interface ConfigPoint {
  readonly index: LogIndex;
  readonly confState: ConfState;
}

export class RaftLog {
  /** The compaction point: entries up to here live only in `snapshot`. */
  private base: SnapshotMeta;
  /** The newest snapshot, sent to followers that need entries before `base`. */
  private latestSnapshot: Snapshot | null;
  /** entries[i].index === base.index + 1 + i */
  private entries: Entry[];
  private configPoints: ConfigPoint[] = [];
  /** A snapshot received from the leader that the runtime has not yet persisted and applied. */
  unstableSnapshot: Snapshot | null = null;
  /** Whether `unstableSnapshot` was handed to the runtime. */
  snapshotInProgress = false;
  committed: LogIndex;
  applied: LogIndex;
  applying: LogIndex;
  stable: LogIndex;
  inProgress: LogIndex;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: LogIndex) {
    this.base = snapshot.meta;
    this.latestSnapshot = snapshot.meta.index > 0 ? snapshot : null;
    this.entries = [];
    this.committed = snapshot.meta.index;
    this.applied = snapshot.meta.index;
    this.applying = snapshot.meta.index;
    this.stable = snapshot.meta.index;
    this.inProgress = snapshot.meta.index;
    if (entries.length > 0) this.append(entries);
    this.stable = this.lastIndex();
    this.inProgress = this.lastIndex();
    assert(committed <= this.lastIndex(), () => `stored commit ${committed} is beyond the last stored entry ${this.lastIndex()}`);
    this.committed = Math.max(committed, snapshot.meta.index) as LogIndex;
  }

  firstIndex(): LogIndex {
    return (this.base.index + 1) as LogIndex;
  }

  lastIndex(): LogIndex {
    return (this.base.index + this.entries.length) as LogIndex;
  }

  snapshotIndex(): LogIndex {
    return this.base.index;
  }

  lastTerm(): Term {
    return this.term(this.lastIndex())!;
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or not yet appended. */
  term(index: number): Term | undefined {
    if (index === this.base.index) return this.base.term;
    if (index < this.base.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.base.index - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.base.index || index > this.lastIndex()) return undefined;
    return this.entries[index - this.base.index - 1];
  }

  lastTimeMs(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.base.timeMs : last.timeMs;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  confState(): ConfState {
    const last = this.configPoints[this.configPoints.length - 1];
    return last === undefined ? this.base.confState : last.confState;
  }

  /** The configuration in force at `index` (for the snapshot taken there). */
  confStateAt(index: number): ConfState {
    let conf = this.base.confState;
    for (const point of this.configPoints) {
      if (point.index > index) break;
      conf = point.confState;
    }
    return conf;
  }

  lastConfigIndex(): LogIndex {
    const last = this.configPoints[this.configPoints.length - 1];
    return last === undefined ? this.base.index : last.index;
  }

  snapshot(): Snapshot | null {
    return this.latestSnapshot;
  }

  /**
   * Appends entries, truncating any existing suffix from entries[0].index. Truncating committed
   * entries would break Raft's safety, so it is an assertion.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.committed, () => `cannot overwrite committed entry ${first} (commit ${this.committed})`);
    assert(first <= this.lastIndex() + 1, () => `gap in log: appending ${first} after ${this.lastIndex()}`);
    if (first <= this.lastIndex()) {
      this.entries.length = first - this.base.index - 1;
      while (this.configPoints.length > 0 && this.configPoints[this.configPoints.length - 1]!.index >= first) this.configPoints.pop();
      if (this.stable >= first) this.stable = (first - 1) as LogIndex;
      if (this.inProgress >= first) this.inProgress = (first - 1) as LogIndex;
    }
    let previous = this.entries[this.entries.length - 1] ?? null;
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, "appended entries must be contiguous");
      assert(entry.term >= (previous?.term ?? this.base.term), () => `entry ${entry.index} has a lower term than its predecessor`);
      this.entries.push(entry);
      if (entry.type === "config") this.trackConfig(entry);
      previous = entry;
    }
  }

  private trackConfig(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    assert(change._tag === "Right", () => `config entry ${entry.index} cannot be decoded`);
    this.configPoints.push({ index: entry.index, confState: applyValidConfChange(this.confState(), change.right) });
  }

  /** The first index whose entry differs from ours (or is new); 0 when every entry is already here. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (entry.index <= this.base.index) continue;
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * For a rejected append: the largest index ≤ `index` whose term is ≤ `term`, with its term. The
   * leader can skip every entry of a term the follower does not have (etcd's fast log rejection).
   */
  findConflictByTerm(index: number, term: number): { index: LogIndex; term: Term } {
    let i = Math.min(index, this.lastIndex());
    while (i > this.base.index) {
      const t = this.term(i)!;
      if (t <= term) return { index: i as LogIndex, term: t };
      i--;
    }
    return { index: this.base.index, term: this.base.term };
  }

  /** Follower side of AppendEntries (Raft Figure 2, receiver steps 2–5). Null if prev does not match. */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): LogIndex | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = (prevIndex + entries.length) as LogIndex;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) this.append(entries.slice(conflict - prevIndex - 1));
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} is beyond the last index ${this.lastIndex()}`);
    this.committed = index as LogIndex;
    return true;
  }

  /** Raft §5.4.2: a leader commits by counting replicas only for entries of its own term. */
  maybeCommit(index: number, term: number): boolean {
    return index > this.committed && this.term(index) === term && this.commitTo(index);
  }

  /** Entries in [lo, hi), at most `maxBytes` of them but always at least one. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo > this.base.index && hi <= this.lastIndex() + 1, () => `slice [${lo}, ${hi}) outside the log`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.entries[i - this.base.index - 1]!;
      bytes += entrySizeBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  /** Entries not yet handed to the runtime for persisting. */
  unstableEntries(): Entry[] {
    return this.inProgress >= this.lastIndex() ? [] : this.entries.slice(this.inProgress - this.base.index);
  }

  markInProgress(index: number): void {
    assert(index <= this.lastIndex(), "marking entries in progress beyond the log");
    if (index > this.inProgress) this.inProgress = index as LogIndex;
  }

  /**
   * Committed entries not yet handed out for applying, up to `maxBytes`. Only durable ones: the
   * runtime applies them at once, before the write of the batch that carries them completes.
   */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const hi = Math.min(this.committed, this.stable);
    if (this.applying >= hi || this.unstableSnapshot !== null) return [];
    return this.slice(this.applying + 1, hi + 1, maxBytes);
  }

  markApplying(index: number): void {
    assert(index <= this.committed && index <= this.stable, () => `applying ${index} beyond commit or durable log`);
    if (index > this.applying) this.applying = index as LogIndex;
  }

  /**
   * A write of entries up to (index, term) completed. If that entry has been replaced since (a
   * conflicting append truncated it), a later write carries the replacement and marks it.
   */
  stableTo(index: number, term: number): void {
    if (this.term(index) !== term) return;
    if (index > this.stable) this.stable = index as LogIndex;
  }

  appliedTo(index: number): void {
    assert(index <= this.applying, () => `applied ${index} beyond what was handed out (${this.applying})`);
    if (index > this.applied) this.applied = index as LogIndex;
  }

  /** Replace the whole log by a snapshot from the leader (Raft §7, InstallSnapshot steps 6–8). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.committed, "restoring a snapshot that is not ahead of the commit");
    this.base = snapshot.meta;
    this.latestSnapshot = snapshot;
    this.entries = [];
    this.configPoints = [];
    this.committed = snapshot.meta.index;
    this.stable = snapshot.meta.index;
    this.inProgress = snapshot.meta.index;
    this.unstableSnapshot = snapshot;
    this.snapshotInProgress = false;
  }

  /** The write carrying `snapshot` completed and the state machine was restored from it. */
  snapshotPersisted(snapshot: Snapshot): void {
    if (snapshot.meta.index > this.applied) this.applied = snapshot.meta.index;
    if (snapshot.meta.index > this.applying) this.applying = snapshot.meta.index;
    if (this.unstableSnapshot === snapshot) {
      this.unstableSnapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** Local compaction after the application snapshotted its state at `snapshot.meta.index`. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    assert(index <= this.applying, () => `compacting to ${index} beyond what the state machine applied (${this.applying})`);
    if (index <= this.base.index) return;
    assert(this.term(index) === snapshot.meta.term, "snapshot term does not match the log");
    this.entries = this.entries.slice(index - this.base.index);
    this.configPoints = this.configPoints.filter((p) => p.index > index);
    this.base = snapshot.meta;
    this.latestSnapshot = snapshot;
  }

  describe(): string {
    return `log [${this.firstIndex()}..${this.lastIndex()}] commit ${this.committed} applied ${this.applied} stable ${this.stable} in progress ${this.inProgress}`;
  }
}
