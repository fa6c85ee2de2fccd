/**
 * Near misses: the known name a mistyped one was probably meant to be ("loop_wiat" → loop_wait,
 * "TTL" → ttl), by the optimal string alignment distance (Damerau–Levenshtein without
 * repeated edits of one substring), case ignored. Bounded: names are at most 256 characters
 * (the JSON bounds), so one comparison is at most 256 × 64 steps.
 */

const NAME_CHARS_MAX = 256;

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The known name `name` is a near miss of, or null: equal but for case, or within one edit
 * (names of up to 4 characters) or two (longer ones) of exactly one known name, itself excluded.
 */
export function nearMiss(name: string, known: readonly string[]): string | null {
  if (name.length > NAME_CHARS_MAX || known.includes(name)) return null;
  const lower = name.toLowerCase();
  const close = known.filter((candidate) => {
    const other = candidate.toLowerCase();
    if (other === lower) return true;
    if (Math.abs(other.length - lower.length) > 2) return false;
    return editDistance(lower, other) <= (Math.min(lower.length, other.length) <= 4 ? 1 : 2);
  });
  return close.length === 1 ? close[0]! : null;
}
