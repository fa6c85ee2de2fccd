/**
 * The proof, at open, that the log still holds everything this node acknowledged: the verified
 * LevelDB state (log_store_load.ts) against the acknowledged bound (log_store_bound.ts).
 *
 * - The log must reach the bound's floor, with the floor's term when it is known. If it does
 *   not, LevelDB lost entries this node had acknowledged (a damaged or truncated write-ahead log,
 *   a deleted file): the node must not take part in elections or commitment with that log, so
 *   the store refuses to open and says what was lost.
 * - The hard state may lag the bound by the batch in flight at a crash; it may also have lost
 *   its last term and vote with a damaged tail. A term and vote the bound holds are taken over:
 *   a vote that may have been cast counts as cast, which can only make the node more careful.
 *   A bound that names a different vote in the same term than the hard state is a contradiction.
 *
 * LevelDB's info log (the LOG file it writes at every open) says when its recovery dropped bytes
 * of a damaged write-ahead log ("(ignoring error) …: dropping N bytes; Corruption: checksum
 * mismatch"); those lines are quoted in the refusal, so the operator sees the cause.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { HardState, LogIndex, Term } from "../types.js";
import type { AckedBound } from "./log_store_bound.js";
import type { LoadedState } from "./log_store_load.js";
import { corruptError, type LogStoreError } from "./log_store_types.js";

export interface Verified {
  readonly hardState: HardState;
  /** A sentence when the term or vote was taken over from the bound, for the log. */
  readonly restored: string | null;
}

/** The term of the entry at `index`: null beyond the log, "covered" below the snapshot. */
function termAt(state: LoadedState, index: number): Term | null | "covered" {
  const snapshot = state.snapshot?.meta ?? null;
  if (index === 0) return 0 as Term;
  if (snapshot !== null && index < snapshot.index) return "covered";
  if (snapshot !== null && index === snapshot.index) return snapshot.term;
  const first = state.entries[0];
  if (first === undefined || index < first.index) return null;
  return state.entries[index - first.index]?.term ?? null;
}

export function lastPosition(state: LoadedState): { readonly index: LogIndex; readonly term: Term } {
  const last = state.entries.at(-1);
  if (last !== undefined) return { index: last.index, term: last.term };
  return { index: (state.snapshot?.meta.index ?? 0) as LogIndex, term: (state.snapshot?.meta.term ?? 0) as Term };
}

function lostProblem(state: LoadedState, bound: AckedBound): string | null {
  const last = lastPosition(state);
  if (last.index < bound.floorIndex) {
    const lost = last.index + 1 === bound.floorIndex ? `entry ${bound.floorIndex} is` : `entries ${last.index + 1} to ${bound.floorIndex} are`;
    return `the log ends at entry ${last.index} (term ${last.term}), but this node had acknowledged entries up to ${bound.floorIndex}: ${lost} lost`;
  }
  const term = termAt(state, bound.floorIndex);
  if (bound.floorTerm !== null && term !== "covered" && term !== bound.floorTerm) {
    return `entry ${bound.floorIndex} has term ${term}, but this node had acknowledged it with term ${bound.floorTerm}: the log was damaged`;
  }
  return null;
}

function hardStateAfter(state: LoadedState, bound: AckedBound): E.Either<string, Verified> {
  const stored = state.hardState;
  if (bound.term > stored.term) {
    const restored = `the hard state says term ${stored.term}, the acknowledged bound term ${bound.term} (vote ${bound.vote ?? "none"}): taking over the bound's term and vote`;
    return E.right({ hardState: { ...stored, term: bound.term, vote: bound.vote }, restored });
  }
  if (bound.term < stored.term || bound.vote === null || bound.vote === stored.vote) return E.right({ hardState: stored, restored: null });
  if (stored.vote === null) {
    const restored = `the hard state of term ${stored.term} has no vote, the acknowledged bound a vote for ${bound.vote}: taking it over`;
    return E.right({ hardState: { ...stored, vote: bound.vote }, restored });
  }
  return E.left(`in term ${stored.term} the hard state votes for ${stored.vote} but the acknowledged bound for ${bound.vote}`);
}

export function verifyAgainstBound(dir: string, state: LoadedState, bound: AckedBound, levelDbNotes: readonly string[]): E.Either<LogStoreError, Verified> {
  const cause = levelDbNotes.length === 0 ? "" : ` (LevelDB reported at open: ${levelDbNotes.join(" | ")})`;
  const lost = lostProblem(state, bound);
  if (lost !== null) return E.left(corruptError(dir, "acknowledged entries", `${lost}${cause}`));
  const hardState = hardStateAfter(state, bound);
  if (E.isLeft(hardState)) return E.left(corruptError(dir, "hard state", `${hardState.left}${cause}`));
  return E.right(hardState.right);
}

/** LevelDB's complaints during this open's recovery, from its info log; none when it has none. */
export async function levelDbRecoveryNotes(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(dir, "LOG"), "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter((line) => /dropping \d+ bytes|corruption|missing files/i.test(line)).slice(0, 5).map((line) => line.replace(/^\S+\s+\S+\s+/, "").trim());
}
