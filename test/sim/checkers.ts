/**
 * The safety properties of Raft (paper Figure 3), checked as the simulation runs:
 * - Election Safety: at most one leader per term;
 * - Log Matching: entries with the same index and term hold the same data and follow the same
 *   term (by induction, identical prefixes);
 * - Leader Completeness: a new leader's log holds every entry committed before it;
 * - State Machine Safety: no two nodes apply different entries at one index;
 * plus: each node applies indexes in order without gaps, and entry times never decrease.
 * A violation is recorded with the virtual time; the simulation fails the seed.
 */
import type { Entry, NodeId } from "../../src/raft/types.js";

export function entryHash(entry: Entry): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < entry.data.length; i++) {
    h ^= entry.data[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${entry.type}:${entry.data.length}:${h.toString(16)}`;
}

interface Recorded {
  readonly term: number;
  readonly hash: string;
  readonly timeMs: number;
}

export class SafetyChecker {
  readonly violations: string[] = [];
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entryAt = new Map<string, { hash: string; prevTerm: number | undefined }>();
  private readonly committed = new Map<number, Recorded>();
  private maxCommitted = 0;
  private readonly lastApplied = new Map<NodeId, number>();

  constructor(private readonly now: () => number) {}

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.now().toFixed(1)}ms ${message}`);
  }

  ok(): boolean {
    return this.violations.length === 0;
  }

  onLeader(id: NodeId, term: number, logTerm: (index: number) => number | undefined, snapshotIndex: number): void {
    const existing = this.leaderOfTerm.get(term);
    if (existing !== undefined && existing !== id) this.fail(`election safety: ${existing} and ${id} both lead term ${term}`);
    this.leaderOfTerm.set(term, id);
    for (let i = snapshotIndex + 1; i <= this.maxCommitted; i++) {
      const entry = this.committed.get(i);
      if (entry !== undefined && logTerm(i) !== entry.term) {
        this.fail(`leader completeness: ${id} leads term ${term} without committed entry ${i}/${entry.term} (has term ${logTerm(i)})`);
        return;
      }
    }
  }

  onPersist(id: NodeId, entries: readonly Entry[], logTerm: (index: number) => number | undefined): void {
    for (const entry of entries) {
      const key = `${entry.index}:${entry.term}`;
      const hash = entryHash(entry);
      const prevTerm = logTerm(entry.index - 1);
      const seen = this.entryAt.get(key);
      if (seen === undefined) {
        this.entryAt.set(key, { hash, prevTerm });
        continue;
      }
      if (seen.hash !== hash) this.fail(`log matching: ${id} has a different entry at ${key}`);
      if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        this.fail(`log matching: ${id} has entry ${key} after term ${prevTerm}, another node after term ${seen.prevTerm}`);
      }
    }
  }

  /** A node restored a snapshot: its next applied index is the one after it. */
  onSnapshotApplied(id: NodeId, index: number): void {
    this.lastApplied.set(id, index);
    if (index > this.maxCommitted) this.maxCommitted = index;
  }

  onRestart(id: NodeId, snapshotIndex: number): void {
    this.lastApplied.set(id, snapshotIndex);
  }

  onApply(id: NodeId, entry: Entry): void {
    const last = this.lastApplied.get(id) ?? 0;
    if (entry.index !== last + 1) this.fail(`apply order: ${id} applied ${entry.index} after ${last}`);
    this.lastApplied.set(id, entry.index);
    const hash = entryHash(entry);
    const seen = this.committed.get(entry.index);
    if (seen === undefined) {
      this.committed.set(entry.index, { term: entry.term, hash, timeMs: entry.timeMs });
      if (entry.index > this.maxCommitted) this.maxCommitted = entry.index;
    } else if (seen.term !== entry.term || seen.hash !== hash) {
      this.fail(`state machine safety: ${id} applied ${entry.index}/${entry.term}, another node applied ${entry.index}/${seen.term}`);
    }
    const before = this.committed.get(entry.index - 1);
    if (before !== undefined && before.timeMs > entry.timeMs) {
      this.fail(`entry time went backwards: ${entry.index - 1} at ${before.timeMs} ms, ${entry.index} at ${entry.timeMs} ms`);
    }
  }

  maxTerm(): number {
    let max = 0;
    for (const term of this.leaderOfTerm.keys()) if (term > max) max = term;
    return max;
  }

  leadersElected(): number {
    return this.leaderOfTerm.size;
  }
}
