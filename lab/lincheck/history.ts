/**
 * The history a linearizability check reads: one record per client operation, with its call and
 * return times on one monotonic clock (virtual ticks in simulation, milliseconds in real tests).
 *
 * An operation whose outcome the client never learned (a timeout, a lost connection) is
 * indeterminate: its return is Infinity and its output undefined. It may have taken effect at any
 * moment after its call, or never. A client that saw an indeterminate outcome cannot know when its
 * operation ends, so, as in Jepsen, the harness must continue under a new clientId.
 */

export interface Operation<I, O> {
  readonly clientId: number;
  /** When the client issued the operation. */
  readonly call: number;
  /** When the client saw the answer; Infinity if it never did (indeterminate). */
  readonly return: number;
  readonly input: I;
  /** The answer the client saw; undefined if and only if the operation is indeterminate. */
  readonly output: O | undefined;
}

/** A history that breaks the rules above is a bug in the harness that recorded it. */
export class HistoryError extends Error {
  override readonly name = "HistoryError";
}

export function isIndeterminate(operation: Operation<unknown, unknown>): boolean {
  return operation.return === Infinity;
}

/**
 * Throws a HistoryError naming the first operation that breaks a rule: times are numbers with
 * call <= return, the output is missing exactly when the return is Infinity, and one client never
 * has two operations in flight. Equal times count as touching, not overlapping (the checker treats
 * such operations as concurrent, which can only make it more permissive).
 */
export function validateHistory(history: readonly Operation<unknown, unknown>[]): void {
  const byClient = new Map<number, number[]>();
  history.forEach((operation, index) => {
    validateOperation(operation, index);
    const indices = byClient.get(operation.clientId);
    if (indices === undefined) byClient.set(operation.clientId, [index]);
    else indices.push(index);
  });
  for (const [clientId, indices] of byClient) {
    const sorted = [...indices].sort((a, b) => callOf(history, a) - callOf(history, b) || a - b);
    for (let i = 1; i < sorted.length; i++) {
      const earlierIndex = sorted[i - 1] ?? -1;
      const laterIndex = sorted[i] ?? -1;
      const earlier = history[earlierIndex];
      const later = history[laterIndex];
      if (earlier === undefined || later === undefined) continue;
      if (later.call < earlier.return) {
        throw new HistoryError(
          `client ${clientId} has overlapping operations #${earlierIndex} ` +
            `${formatInterval(earlier)} and #${laterIndex} ${formatInterval(later)}: a client ` +
            "waits for each answer, and continues under a new clientId after an indeterminate one",
        );
      }
    }
  }
}

function validateOperation(operation: Operation<unknown, unknown>, index: number): void {
  const where = `operation #${index} (client ${String(operation.clientId)})`;
  if (!Number.isSafeInteger(operation.clientId)) {
    throw new HistoryError(`${where}: clientId must be an integer`);
  }
  if (typeof operation.call !== "number" || !Number.isFinite(operation.call)) {
    throw new HistoryError(`${where}: call must be a finite number, got ${String(operation.call)}`);
  }
  const returned = operation.return;
  if (typeof returned !== "number" || Number.isNaN(returned) || returned === -Infinity) {
    const got = String(returned);
    throw new HistoryError(`${where}: return must be a number or Infinity, got ${got}`);
  }
  if (returned < operation.call) {
    throw new HistoryError(`${where}: call ${operation.call} is after return ${returned}`);
  }
  if (returned === Infinity && operation.output !== undefined) {
    throw new HistoryError(`${where}: an indeterminate operation (return Infinity) has no output`);
  }
  if (returned !== Infinity && operation.output === undefined) {
    throw new HistoryError(
      `${where}: output is undefined but return is ${returned}; ` +
        "an operation with an unknown outcome must have return Infinity",
    );
  }
}

function callOf(history: readonly Operation<unknown, unknown>[], index: number): number {
  return history[index]?.call ?? 0;
}

export function formatInterval(operation: Operation<unknown, unknown>): string {
  const returned = operation.return === Infinity ? "∞" : String(operation.return);
  return `[${operation.call}, ${returned}]`;
}
