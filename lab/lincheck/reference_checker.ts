/**
 * A deliberately simple reference for the checker's tests: try every order of the operations,
 * without memo or pruning. Exponential, so only for histories of a handful of operations.
 */
import { assert } from "../../src/lib/assert.js";
import { isIndeterminate, type Operation } from "./history.js";
import type { Model } from "./model.js";

/** The reference refuses anything larger: 9! orders is already slow. */
const REFERENCE_OPERATIONS_MAX = 9;

export function isLinearizableByBruteForce<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
): boolean {
  const partitions = model.partition?.(history) ?? [history];
  return partitions.every((partition) => {
    assert(partition.length <= REFERENCE_OPERATIONS_MAX, "history too long for brute force");
    return extend(model, partition, partition.map(() => false), model.init());
  });
}

function extend<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  done: boolean[],
  state: S,
): boolean {
  if (history.every((op, i) => done[i] === true || isIndeterminate(op))) return true;
  return history.some((op, i) => {
    if (done[i] === true || !mayGoNext(history, done, op)) return false;
    const result = model.step(state, op.input, op.output);
    if (!result.ok) return false;
    done[i] = true;
    const found = extend(model, history, done, result.state);
    done[i] = false;
    return found;
  });
}

/** Nothing still pending may have returned before `op` was called. */
function mayGoNext<I, O>(
  history: readonly Operation<I, O>[],
  done: readonly boolean[],
  op: Operation<I, O>,
): boolean {
  return history.every((other, i) => done[i] === true || !(other.return < op.call));
}

/**
 * Checks a witness: undefined when `order` is a linearization of `history` (every determinate
 * operation once, real-time order kept, each step accepted by the model), else what is wrong.
 */
export function linearizationError<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  order: readonly Operation<I, O>[],
): string | undefined {
  const positions = new Map<Operation<I, O>, number>();
  for (const [position, op] of order.entries()) {
    if (!history.includes(op)) return `position ${position} is not in the history`;
    if (positions.has(op)) return `position ${position} repeats an operation`;
    positions.set(op, position);
  }
  const missing = history.find((op) => !isIndeterminate(op) && !positions.has(op));
  if (missing !== undefined) return `a determinate operation is missing (call ${missing.call})`;
  let latestCall = -Infinity;
  for (const [position, op] of order.entries()) {
    latestCall = Math.max(latestCall, op.call);
    if (op.return < latestCall) return `position ${position} returned before an earlier one began`;
  }
  let state = model.init();
  for (const [position, op] of order.entries()) {
    const result = model.step(state, op.input, op.output);
    if (!result.ok) return `the model rejects position ${position}`;
    state = result.state;
  }
  return undefined;
}
