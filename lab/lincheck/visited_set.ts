/**
 * Lowe's memo (Lowe 2017, "Testing for linearizability"): the configurations the search has
 * explored or is exploring, so that it never explores one twice.
 */
import type { Bitset } from "./bitset.js";
import type { Model } from "./model.js";

interface VisitedEntry<S> {
  readonly linearized: Bitset;
  readonly state: S;
}

export class VisitedSet<S> {
  private readonly buckets = new Map<number, VisitedEntry<S>[]>();
  private entries = 0;

  constructor(
    private readonly model: Pick<Model<S, unknown, unknown>, "equal" | "hash">,
    /** Operations numbered below this are determinate (see Bitset.dominates). */
    private readonly determinateCount: number,
  ) {}

  get size(): number {
    return this.entries;
  }

  /**
   * Records a configuration; false if it, or one that dominates it, was recorded before. Pruning
   * a dominated configuration is sound: whatever completes it also completes the dominating one,
   * which is explored (or being explored) anyway.
   */
  visit(linearized: Bitset, determinateHash: number, state: S): boolean {
    // The key leaves out the indeterminate operations so that dominating entries share a bucket.
    const key = (determinateHash ^ Math.imul(this.model.hash(state) | 0, 0x9e37_79b1)) | 0;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.buckets.set(key, [{ linearized: linearized.clone(), state }]);
      this.entries++;
      return true;
    }
    let kept = 0;
    for (const entry of bucket) {
      const sameState = this.model.equal(entry.state, state);
      if (sameState && entry.linearized.dominates(linearized, this.determinateCount)) return false;
      // An entry the new configuration dominates can no longer prune anything the new one
      // does not, so it goes: that keeps buckets short when indeterminate operations vary.
      const dominated = sameState && linearized.dominates(entry.linearized, this.determinateCount);
      if (!dominated) bucket[kept++] = entry;
    }
    this.entries -= bucket.length - kept;
    bucket.length = kept;
    bucket.push({ linearized: linearized.clone(), state });
    this.entries++;
    return true;
  }
}
