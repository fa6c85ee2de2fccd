/**
 * lincheck: a linearizability checker for histories recorded by raftgres's simulator and
 * fault-injection tests.
 *
 * What: given a history of client operations (call time, return time, input, output) and a
 * sequential model, decide whether some total order of the operations (a linearization) both
 * respects real time (an operation that returned before another was called comes first) and is
 * a legal run of the model (Herlihy & Wing 1990). An operation with an unknown outcome has return
 * Infinity and output undefined; it may take effect at any point after its call, or never.
 *
 * Why: a replicated store that loses an acknowledged write, serves a stale read from a deposed
 * Raft leader or applies a compare-and-set twice shows it only in such histories, and only a
 * checker that considers every interleaving can tell a real anomaly from mere concurrency.
 *
 * How to use:
 *   import { check, explain, registerModel } from "../../lab/lincheck/index.js";
 *   const result = check(registerModel, history, { timeoutMs: 5_000 });
 *   if (result.result !== "ok") console.log(explain(result));
 * `result.result` is "ok", "illegal" (with the longest linearizable prefix and the operations
 * that cannot come next, per failing partition) or "unknown" (the time budget ran out). Pass a
 * fake `now` to make the budget deterministic in tests.
 *
 * How it works: Wing & Gong's backtracking search with Lowe's memo of (linearized set, state),
 * as in Porcupine (Horn & Kroening 2015); see search.ts. The model may partition the history
 * (by key for the register model) and each partition is searched on its own.
 *
 * Complexity: deciding linearizability is NP-complete (Gibbons & Korach 1997), so the worst case
 * is exponential in the number of mutually concurrent operations. The memo bounds the work by
 * the number of distinct (linearized set, state) pairs; each step costs O(candidates) plus, when
 * it reaches a new configuration, a memo lookup and a bitset copy of O(n / 32). Measured on one
 * key (steps are machine-independent; see randomized.test.ts):
 * - a legal history of 5000 operations from 5 busy clients: ~6 000 steps, tens of ms;
 *   with 10 clients: 30 000 to 80 000 steps, about 100 ms;
 * - an illegal one (a stale read at the end) must rule out every interleaving before the bug:
 *   ~150 000 steps with 5 clients, 2 to 3 million (1 to 2 s) with 10;
 * - indeterminate operations stay pending for ever, so they weigh most on illegal histories:
 *   1500 operations with 230 indeterminate writes take ~12 000 steps when legal and ~650 000
 *   (about 100 ms) with a stale read at the end. Illegal histories of thousands of operations
 *   with hundreds of indeterminate ones and a bug late in them can take seconds or more (3000
 *   operations, a quarter indeterminate, an impossible read at 90%: over 10 s). That is what
 *   the time budget and the "unknown" verdict are for. Check per key, keep the number of
 *   clients modest, and write unique values, which the register model exploits.
 */
import { assert, assertNever } from "../../src/lib/assert.js";
import { validateHistory, type Operation } from "./history.js";
import type { Model } from "./model.js";
import { explainIllegal } from "./report.js";
import { searchPartition, type SearchLimits } from "./search.js";

export { HistoryError, isIndeterminate, validateHistory, type Operation } from "./history.js";
export type { Model, StepResult } from "./model.js";
export { formatOperation } from "./report.js";
export {
  registerModel,
  type RegisterInput,
  type RegisterOperation,
  type RegisterOutput,
  type RegisterState,
} from "./register_model.js";

/** Without an explicit budget a check gives up after a minute rather than hang a test run. */
export const TIMEOUT_MS_DEFAULT = 60_000;
/** Read the clock once per this many search steps (a step is a few hundred nanoseconds). */
export const CLOCK_READ_INTERVAL_STEPS_DEFAULT = 1_024;

export type Verdict = "ok" | "illegal" | "unknown";

export interface CheckOptions {
  /** The budget for the whole check, all partitions together. */
  readonly timeoutMs?: number;
  /** The clock the budget is measured on; performance.now by default. */
  readonly now?: () => number;
  readonly clockReadIntervalSteps?: number;
}

export interface Failure<I, O> {
  /** The longest prefix of a linearization the search found, in order. */
  readonly longestPrefix: readonly Operation<I, O>[];
  /** The model state after that prefix, as the model describes it. */
  readonly stateAfterPrefix: string;
  /** The operations that could come next after that prefix; none of them leads anywhere. */
  readonly notLinearizable: readonly Operation<I, O>[];
  /** All of the above as text for a human. */
  readonly explanation: string;
}

interface PartitionBase<I, O> {
  readonly index: number;
  readonly label: string;
  readonly operations: readonly Operation<I, O>[];
  /** Search steps taken: a machine-independent measure of the work. */
  readonly steps: number;
}

export type PartitionResult<I, O> = PartitionBase<I, O> &
  (
    | { readonly result: "ok"; readonly linearization: readonly Operation<I, O>[] }
    | { readonly result: "illegal"; readonly failure: Failure<I, O> }
    | { readonly result: "unknown"; readonly reason: string }
  );

export interface CheckResult<I, O> {
  /** "illegal" if any partition is, else "unknown" if any partition is, else "ok". */
  readonly result: Verdict;
  readonly partitions: readonly PartitionResult<I, O>[];
}

/** Throws HistoryError if the history is malformed (see validateHistory). */
export function check<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS_DEFAULT;
  const now = options.now ?? ((): number => performance.now());
  const interval = options.clockReadIntervalSteps ?? CLOCK_READ_INTERVAL_STEPS_DEFAULT;
  assert(timeoutMs > 0, `timeoutMs must be positive, got ${timeoutMs}`);
  assert(Number.isSafeInteger(interval) && interval >= 1, () =>
    `clockReadIntervalSteps must be a positive integer, got ${interval}`);
  validateHistory(history);
  const partitions = model.partition?.(history) ?? [history];
  const limits = { deadline: now() + timeoutMs, now, clockReadIntervalSteps: interval };
  const results = partitions.map((operations, index): PartitionResult<I, O> => {
    const label = model.describePartition?.(operations) ?? `partition ${index}`;
    const base = { index, label, operations };
    if (now() > limits.deadline) {
      return { ...base, steps: 0, result: "unknown", reason: "the time budget ran out before it" };
    }
    return checkPartition(model, base, limits, timeoutMs);
  });
  return { result: overallVerdict(results), partitions: results };
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  base: Omit<PartitionBase<I, O>, "steps">,
  limits: SearchLimits,
  timeoutMs: number,
): PartitionResult<I, O> {
  const { operations, label } = base;
  const searched = model.canonicalize?.(operations) ?? operations;
  assert(searched.length === operations.length, "canonicalize changed the number of operations");
  const outcome = searchPartition(model, searched, limits);
  // The search ran on the canonical copies; report the originals, which share their positions.
  const pick = (opIds: readonly number[]): Operation<I, O>[] =>
    opIds.map((opId) => pickOperation(operations, opId));
  const steps = outcome.steps;
  switch (outcome.verdict) {
    case "ok":
      return { ...base, steps, result: "ok", linearization: pick(outcome.order) };
    case "unknown": {
      const reason = `the time budget of ${timeoutMs} ms ran out after ${steps} steps`;
      return { ...base, steps, result: "unknown", reason };
    }
    case "illegal": {
      const prefix = pick(outcome.prefix);
      const stuck = pick(outcome.stuck);
      const stateAfterPrefix = replay(model, prefix);
      const details = { label, history: operations, prefix, stateAfterPrefix, stuck };
      const failure: Failure<I, O> = {
        longestPrefix: prefix,
        stateAfterPrefix: model.describeState(stateAfterPrefix),
        notLinearizable: stuck,
        explanation: explainIllegal(model, details),
      };
      return { ...base, steps, result: "illegal", failure };
    }
    default:
      return assertNever(outcome, "search outcome");
  }
}

/** The state after a linearizable prefix, computed on the original operations. */
function replay<S, I, O>(model: Model<S, I, O>, prefix: readonly Operation<I, O>[]): S {
  let state = model.init();
  for (const operation of prefix) {
    const result = model.step(state, operation.input, operation.output);
    assert(result.ok, () =>
      `model bug: canonicalize changed the meaning of ` +
      model.describeOperation(operation.input, operation.output));
    state = result.state;
  }
  return state;
}

/** The explanations of every partition that is not ok, for a test failure message. */
export function explain(result: CheckResult<unknown, unknown>): string {
  const lines: string[] = [];
  for (const partition of result.partitions) {
    if (partition.result === "illegal") lines.push(partition.failure.explanation);
    if (partition.result === "unknown") {
      lines.push(`${partition.label}: unknown, ${partition.reason}`);
    }
  }
  return lines.length === 0 ? "the history is linearizable" : lines.join("\n\n");
}

function overallVerdict(results: readonly PartitionResult<unknown, unknown>[]): Verdict {
  if (results.some((partition) => partition.result === "illegal")) return "illegal";
  if (results.some((partition) => partition.result === "unknown")) return "unknown";
  return "ok";
}

function pickOperation<I, O>(
  operations: readonly Operation<I, O>[],
  opId: number,
): Operation<I, O> {
  const operation = operations[opId];
  assert(operation !== undefined, () => `the search returned an unknown operation #${opId}`);
  return operation;
}
