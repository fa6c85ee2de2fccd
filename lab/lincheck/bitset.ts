/**
 * A fixed-size set of small integers, used as "which operations are already linearized" in the
 * search's memo (Lowe 2017, "Testing for linearizability"). Operations are numbered so that the
 * determinate ones come first; `dominates` relies on that to compare the two groups separately.
 */
import { assert } from "../../src/lib/assert.js";

const WORD_BITS = 32;

export class Bitset {
  private readonly words: Uint32Array;

  constructor(
    readonly size: number,
    words?: Uint32Array,
  ) {
    assert(Number.isSafeInteger(size) && size >= 0, `bitset size must be a count, got ${size}`);
    this.words = words ?? new Uint32Array(Math.ceil(size / WORD_BITS));
  }

  has(index: number): boolean {
    this.checkIndex(index);
    return ((this.word(index >>> 5) >>> (index & 31)) & 1) === 1;
  }

  set(index: number): void {
    this.checkIndex(index);
    this.words[index >>> 5] = this.word(index >>> 5) | (1 << (index & 31));
  }

  clear(index: number): void {
    this.checkIndex(index);
    this.words[index >>> 5] = this.word(index >>> 5) & ~(1 << (index & 31));
  }

  clone(): Bitset {
    return new Bitset(this.size, this.words.slice());
  }

  /**
   * True when this set, seen as a search configuration, can do everything `other` can: it is a
   * subset of `other`, and the two agree on every member below `determinateCount`. The members at
   * or above it are indeterminate operations, which are optional, so having linearized fewer of
   * them only leaves more choices.
   */
  dominates(other: Bitset, determinateCount: number): boolean {
    assert(other.size === this.size, "bitsets of different sizes");
    for (let w = 0; w < this.words.length; w++) {
      const mine = this.word(w);
      const theirs = other.word(w);
      if ((mine & ~theirs) !== 0) return false;
      const extra = theirs & ~mine;
      if (extra === 0) continue;
      const lowest = w * WORD_BITS;
      if (lowest >= determinateCount) continue;
      const determinateBits = determinateCount - lowest;
      // 2 ** k - 1 rather than (1 << k) - 1, which overflows to a negative number for k = 31.
      const mask = determinateBits >= WORD_BITS ? 0xffff_ffff : 2 ** determinateBits - 1;
      if ((extra & mask) !== 0) return false;
    }
    return true;
  }

  private word(w: number): number {
    // In range by construction: every caller derives w from a checked index or the word count.
    return this.words[w] ?? 0;
  }

  private checkIndex(index: number): void {
    assert(index >= 0 && index < this.size, () => `bit ${index} outside [0, ${this.size})`);
  }
}
