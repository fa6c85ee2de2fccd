/**
 * What the linearizability checker needs from a sequential specification. A model is a pure,
 * deterministic state machine: `step` must not mutate its argument, and for a given state, input
 * and output it always gives the same answer. Nondeterminism about *whether* an indeterminate
 * operation took effect is the checker's business, not the model's.
 */
import type { Operation } from "./history.js";

export interface StepResult<S> {
  /** False when the output cannot be what this input returns in this state. */
  readonly ok: boolean;
  /** The state after the operation took effect (ignored when ok is false). */
  readonly state: S;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies one operation. `output` is undefined for an indeterminate operation: the step then
   * says what the operation does *if* it took effect at this point, and must accept any outcome.
   */
  step(state: S, input: I, output: O | undefined): StepResult<S>;
  /**
   * Optional, a large speed-up when present: true if this determinate operation leaves the state
   * unchanged in every state where `step` accepts it (a get; a cas that returned false). The
   * search then linearizes it as soon as it fits, without trying alternatives.
   */
  readOnly?(input: I, output: O): boolean;
  equal(a: S, b: S): boolean;
  /** A 32-bit integer; equal states must hash equally. */
  hash(state: S): number;
  /**
   * P-compositionality (Horn & Kroening 2015): when the specification is a product of independent
   * objects (one register per key), each part of the history can be checked on its own, which
   * turns one exponential search into many small ones.
   */
  partition?(history: readonly Operation<I, O>[]): readonly (readonly Operation<I, O>[])[];
  /**
   * Optional: rewrites one partition before the search, keeping its length and order, into an
   * equivalent one that searches faster (merge values no operation can tell apart, give
   * identical inputs the same object so that the search treats those operations as twins).
   * It must not change whether, or how, the partition is linearizable; reports show the
   * original operations.
   */
  canonicalize?(history: readonly Operation<I, O>[]): readonly Operation<I, O>[];
  /** A name for one partition in reports, such as `key "x"`. */
  describePartition?(history: readonly Operation<I, O>[]): string;
  /** One line, such as `get("x") → "a"`; `output` undefined means indeterminate. */
  describeOperation(input: I, output: O | undefined): string;
  describeState(state: S): string;
}
