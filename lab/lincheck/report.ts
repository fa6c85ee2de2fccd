/**
 * Turns a failed search into text a human can follow: the longest linearizable prefix the search
 * found, the state it leaves, and why none of the operations that could come next fits.
 */
import { formatInterval, isIndeterminate, type Operation } from "./history.js";
import type { Model } from "./model.js";

/** Prefixes longer than this are shown by their last lines only: the bug is at the end. */
const PREFIX_LINES_MAX = 30;
/** Pending indeterminate operations can be many; the determinate ones are listed first. */
const STUCK_LINES_MAX = 20;

export interface IllegalDetails<S, I, O> {
  readonly label: string;
  readonly history: readonly Operation<I, O>[];
  readonly prefix: readonly Operation<I, O>[];
  readonly stateAfterPrefix: S;
  readonly stuck: readonly Operation<I, O>[];
}

export function formatOperation<I, O>(model: Model<unknown, I, O>, op: Operation<I, O>): string {
  const what = model.describeOperation(op.input, op.output);
  return `client ${op.clientId} ${formatInterval(op)} ${what}`;
}

export function explainIllegal<S, I, O>(
  model: Model<S, I, O>,
  details: IllegalDetails<S, I, O>,
): string {
  const { label, history, prefix, stuck } = details;
  const state = details.stateAfterPrefix;
  const lines = [`${label} (${history.length} operations) is not linearizable.`];
  lines.push(`Longest linearizable prefix found: ${prefix.length} operations.`);
  const shownFrom = Math.max(0, prefix.length - PREFIX_LINES_MAX);
  if (shownFrom > 0) lines.push(`  … ${shownFrom} earlier operations`);
  prefix.slice(shownFrom).forEach((op, i) => {
    lines.push(`  ${shownFrom + i + 1}. ${formatOperation(model, op)}`);
  });
  lines.push(`State after the prefix: ${model.describeState(state)}.`);
  const mustReturnFirst = firstToReturn(stuck);
  if (mustReturnFirst !== undefined) {
    lines.push(
      `Next must come ${formatOperation(model, mustReturnFirst)} or an operation called before ` +
        "it returned; none of them fits:",
    );
  }
  const ordered = [
    ...stuck.filter((op) => !isIndeterminate(op)),
    ...stuck.filter((op) => isIndeterminate(op)),
  ];
  for (const op of ordered.slice(0, STUCK_LINES_MAX)) {
    const accepted = model.step(state, op.input, op.output).ok;
    const why = accepted
      ? "the model accepts it here, but nothing linearizable follows"
      : "the model rejects it in this state";
    const optional = isIndeterminate(op) ? " (indeterminate: may also never take effect)" : "";
    lines.push(`  - ${formatOperation(model, op)}: ${why}${optional}`);
  }
  if (ordered.length > STUCK_LINES_MAX) {
    lines.push(`  … and ${ordered.length - STUCK_LINES_MAX} more indeterminate operations`);
  }
  return lines.join("\n");
}

function firstToReturn<I, O>(ops: readonly Operation<I, O>[]): Operation<I, O> | undefined {
  let first: Operation<I, O> | undefined;
  for (const op of ops) {
    if (!isIndeterminate(op) && (first === undefined || op.return < first.return)) first = op;
  }
  return first;
}
