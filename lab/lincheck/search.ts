/**
 * The search for one partition: Wing & Gong's backtracking over the event list, with Lowe's memo
 * of visited configurations, as Porcupine does it (Horn & Kroening 2015, "Faster linearizability
 * checking via P-compositionality", §4).
 *
 * A configuration is (set of linearized operations, model state). From one, the search tries each
 * candidate (a call before the first return still in the list) in list order: if the model accepts
 * it and the new configuration was not seen before, it linearizes it and starts again from the
 * head; when no candidate is left, it backtracks. It succeeds when every determinate operation is
 * linearized: the indeterminate ones left over are those that never took effect.
 *
 * Reductions on top of Porcupine, each sound (argued where it is implemented):
 * - read-only operations the model accepts are linearized at once, without alternatives (enter);
 * - determinate candidates are tried before indeterminate ones, so the configurations with few
 *   indeterminate operations reach the memo first;
 * - the memo treats (D, I, s) as seen when (D, I', s) was, with I' ⊆ I (D and I: determinate and
 *   indeterminate operations linearized), since indeterminate operations are optional;
 * - of identical indeterminate operations only the earliest-called pending one is tried
 *   (event_list.ts), and an indeterminate operation is tried only where some other candidate
 *   could tell that it took effect (observable) and where an earlier point in the current run of
 *   indeterminate operations would not do as well (redundantInRun).
 * Indeterminate operations are what can make the search explode (each stays a candidate for
 * ever, so k pending ones have 2^k subsets); the last three points keep that in check.
 */
import { assert, assertNever } from "../../src/lib/assert.js";
import { createPrng } from "../../src/lib/prng.js";
import { Bitset } from "./bitset.js";
import {
  buildEventList,
  firstReturnTime,
  lift,
  unlift,
  type EventList,
  type EventNode,
  type TwinClass,
} from "./event_list.js";
import type { Operation } from "./history.js";
import type { Model } from "./model.js";
import { VisitedSet } from "./visited_set.js";

export interface SearchLimits {
  /** The search gives up ("unknown") once now() exceeds this. */
  readonly deadline: number;
  readonly now: () => number;
  /** Reading the clock costs more than a step, so it is read once per this many steps. */
  readonly clockReadIntervalSteps: number;
}

export type SearchOutcome =
  | {
      readonly verdict: "ok";
      readonly steps: number;
      /** A witness: opIds in linearization order (indeterminate ops that took effect included). */
      readonly order: readonly number[];
    }
  | {
      readonly verdict: "illegal";
      readonly steps: number;
      /** The longest linearizable prefix found, as opIds in order. */
      readonly prefix: readonly number[];
      /** The candidates after that prefix, none of which leads to a full linearization. */
      readonly stuck: readonly number[];
    }
  | { readonly verdict: "unknown"; readonly steps: number };

/** The seed of the Zobrist keys that hash the determinate part of a configuration. */
const ZOBRIST_SEED = 0x11ea7;

/** One linearized operation; frames form an immutable linked stack, so a prefix is one pointer. */
interface Frame<S> {
  readonly call: EventNode;
  readonly stateBefore: S;
  readonly below: Frame<S> | undefined;
  readonly depth: number;
  /** Linearized because it is read-only (see enter()): its parent has no other option. */
  readonly forced: boolean;
}

interface DeadEnd<S> {
  readonly determinate: number;
  readonly top: Frame<S> | undefined;
  readonly stuck: readonly number[];
}

/** Which candidates of the current configuration the search is going through. */
type Pass = "determinate" | "indeterminate" | "exhausted";

export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  limits: SearchLimits,
): SearchOutcome {
  assert(limits.clockReadIntervalSteps >= 1, "clockReadIntervalSteps must be at least 1");
  return new Search(model, history, buildEventList(history), limits).run();
}

class Search<S, I, O> {
  private state: S;
  private readonly linearized: Bitset;
  private readonly visited: VisitedSet<S>;
  private readonly zobrist: Int32Array;
  private determinateHash = 0;
  private determinateLinearized = 0;
  private top: Frame<S> | undefined = undefined;
  private steps = 0;
  private best: DeadEnd<S> | undefined = undefined;

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly history: readonly Operation<I, O>[],
    private readonly list: EventList,
    private readonly limits: SearchLimits,
  ) {
    this.state = model.init();
    this.linearized = new Bitset(list.operationCount);
    this.visited = new VisitedSet(model, list.determinateCount);
    const prng = createPrng(ZOBRIST_SEED);
    this.zobrist = Int32Array.from({ length: list.determinateCount }, () =>
      Math.floor(prng.next() * 0x1_0000_0000),
    );
  }

  run(): SearchOutcome {
    const { head, twinsHead } = this.list;
    this.visited.visit(this.linearized, this.determinateHash, this.state);
    let pass: Pass = this.enter();
    let node = head.next; // the next determinate candidate
    let twins: TwinClass = twinsHead.next; // the next class of indeterminate candidates
    let bound = Infinity; // no call after this time is a candidate
    for (;;) {
      if (this.determinateLinearized === this.list.determinateCount) {
        return { verdict: "ok", steps: this.steps, order: prefixOf(this.top) };
      }
      this.steps++;
      if (this.steps % this.limits.clockReadIntervalSteps === 0 && this.outOfTime()) {
        return { verdict: "unknown", steps: this.steps };
      }
      switch (pass) {
        case "determinate":
          if (node.kind !== "call") {
            [pass, bound, twins] = ["indeterminate", node.time, twinsHead.next];
          } else if (this.tryLinearize(node, bound)) {
            [pass, node] = [this.enter(), head.next];
          } else {
            node = node.next;
          }
          break;
        case "indeterminate": {
          const call = twins.pending();
          if (call === undefined || twins.firstCall() > bound) {
            pass = "exhausted";
          } else if (call.time <= bound && this.tryLinearize(call, bound)) {
            [pass, node] = [this.enter(), head.next];
          } else {
            twins = twins.next;
          }
          break;
        }
        case "exhausted": {
          this.recordDeadEnd();
          const frame = this.top;
          if (frame === undefined) return this.illegal();
          this.undo(frame);
          if (frame.forced) break;
          if (frame.call.twins === undefined) {
            [pass, node] = ["determinate", frame.call.next];
          } else {
            [pass, twins] = ["indeterminate", frame.call.twins.next];
            bound = firstReturnTime(this.list);
          }
          break;
        }
        default:
          assertNever(pass, "search pass");
      }
    }
  }

  /**
   * Called on reaching a new configuration; says whether to go through its candidates or
   * backtrack at once. A determinate candidate that is read-only (the model says it never
   * changes the state: a get, a cas that failed) and is accepted here can be linearized at once
   * and for good: take any linearization from here and move that operation to its front; it sees
   * the same state, changes nothing for the others, and real time allows it because it was called
   * before every pending return. So this configuration succeeds exactly when the one after that
   * operation does, and its other candidates need not be tried.
   */
  private enter(): Pass {
    const { head } = this.list;
    if (this.model.readOnly === undefined) return "determinate";
    for (let node = head.next; node.kind === "call"; ) {
      const operation = this.operation(node.opId);
      const output = operation.output;
      const readOnly = output !== undefined && this.model.readOnly(operation.input, output);
      const result = readOnly ? this.model.step(this.state, operation.input, output) : undefined;
      if (result?.ok !== true) {
        node = node.next;
        continue;
      }
      assert(this.model.equal(result.state, this.state), () =>
        `model bug: read-only ${this.model.describeOperation(operation.input, output)} ` +
        "changed the state");
      if (!this.linearize(node, result.state, true)) return "exhausted";
      node = head.next;
    }
    return "determinate";
  }

  private outOfTime(): boolean {
    return this.limits.now() > this.limits.deadline;
  }

  /** `bound` (the first pending return) matters only for an indeterminate call. */
  private tryLinearize(call: EventNode, bound: number): boolean {
    const operation = this.operation(call.opId);
    const result = this.model.step(this.state, operation.input, operation.output);
    if (!result.ok) return false;
    if (!call.determinate) {
      // Changing nothing, it would give a configuration the current one dominates.
      if (this.model.equal(result.state, this.state)) return false;
      if (this.redundantInRun(operation, result.state)) return false;
      if (!this.observable(call, result.state, bound)) return false;
    }
    return this.linearize(call, result.state, false);
  }

  private linearize(call: EventNode, stateAfter: S, forced: boolean): boolean {
    const hash = call.determinate
      ? this.determinateHash ^ this.zobristKey(call.bit)
      : this.determinateHash;
    this.linearized.set(call.bit);
    if (!this.visited.visit(this.linearized, hash, stateAfter)) {
      this.linearized.clear(call.bit);
      return false;
    }
    const depth = (this.top?.depth ?? 0) + 1;
    this.top = { call, stateBefore: this.state, below: this.top, depth, forced };
    this.state = stateAfter;
    this.determinateHash = hash;
    if (call.determinate) this.determinateLinearized++;
    lift(call);
    return true;
  }

  private undo(frame: Frame<S>): void {
    const { call } = frame;
    unlift(call);
    this.top = frame.below;
    this.linearized.clear(call.bit);
    this.state = frame.stateBefore;
    if (call.determinate) {
      this.determinateLinearized--;
      this.determinateHash ^= this.zobristKey(call.bit);
    }
  }

  /**
   * The frames on top of the stack that are indeterminate form a run that started from some
   * configuration C0 and went through C1 … Cm (the current one). If the operation reaches the
   * same state from an earlier Ci, then Ci plus it dominates Cm plus it (same state, same
   * determinate set, fewer indeterminate operations), and Ci tries it as a candidate anyway.
   */
  private redundantInRun(operation: Operation<I, O>, stateAfter: S): boolean {
    for (let frame = this.top; frame?.call.determinate === false; frame = frame.below) {
      const earlier = this.model.step(frame.stateBefore, operation.input, operation.output);
      if (earlier.ok && this.model.equal(earlier.state, stateAfter)) return true;
    }
    return false;
  }

  /**
   * An indeterminate operation w is worth linearizing only if some other candidate m could tell.
   * Take any linearization from here that starts with w, m. If m alone is accepted here and leaves
   * the state that w, m leaves, dropping w gives a shorter one, which this configuration finds
   * among its other candidates. If m is determinate and m, w also leaves that state, the order
   * m, w reaches the very configuration w, m does, from this configuration's child m, which is
   * explored or dominated. (Not for an indeterminate m: its own check here could point back at w.)
   * And m cannot start a shortest such linearization if it is indeterminate and changes nothing
   * after w: leaving it out would be shorter. So a write nobody reads is never tried, nor one
   * placed before an unrelated operation.
   */
  private observable(indeterminate: EventNode, stateAfter: S, bound: number): boolean {
    const written = this.operation(indeterminate.opId);
    const tells = (node: EventNode): boolean => {
      const operation = this.operation(node.opId);
      const after = this.model.step(stateAfter, operation.input, operation.output);
      if (!after.ok) return false;
      if (!node.determinate && this.model.equal(after.state, stateAfter)) return false;
      const without = this.model.step(this.state, operation.input, operation.output);
      if (!without.ok) return true;
      if (this.model.equal(without.state, after.state)) return false;
      if (!node.determinate) return true;
      const swapped = this.model.step(without.state, written.input, written.output);
      return !swapped.ok || !this.model.equal(swapped.state, after.state);
    };
    for (let node = this.list.head.next; node.kind === "call"; node = node.next) {
      if (tells(node)) return true;
    }
    const { twinsTail } = this.list;
    for (let twins = this.list.twinsHead.next; twins !== twinsTail; twins = twins.next) {
      if (twins.firstCall() > bound) break;
      // After w, the next of its own twins would be the one to try.
      const offset = twins === indeterminate.twins ? 1 : 0;
      const next = twins.members[twins.linearized + offset];
      if (next !== undefined && next.time <= bound && tells(next)) return true;
    }
    return false;
  }

  /**
   * Keeps, for the report, the first dead end that linearized the most determinate operations.
   * The first one, because determinate candidates go first: it carries the fewest indeterminate
   * operations, whose place in a prefix is mostly a guess that would distract a reader.
   */
  private recordDeadEnd(): void {
    const best = this.best;
    if (best !== undefined && best.determinate >= this.determinateLinearized) return;
    const stuck: number[] = [];
    for (let node = this.list.head.next; node.kind === "call"; node = node.next) {
      stuck.push(node.opId);
    }
    const bound = firstReturnTime(this.list);
    const { twinsTail } = this.list;
    for (let twins = this.list.twinsHead.next; twins !== twinsTail; twins = twins.next) {
      const call = twins.pending();
      if (call !== undefined && call.time <= bound) stuck.push(call.opId);
    }
    this.best = { determinate: this.determinateLinearized, top: this.top, stuck };
  }

  private illegal(): SearchOutcome {
    const best = this.best;
    assert(best !== undefined, "an illegal verdict without a recorded dead end");
    return {
      verdict: "illegal",
      steps: this.steps,
      prefix: prefixOf(best.top),
      stuck: best.stuck,
    };
  }

  private operation(opId: number): Operation<I, O> {
    const operation = this.history[opId];
    assert(operation !== undefined, () => `no operation #${opId}`);
    return operation;
  }

  private zobristKey(bit: number): number {
    return this.zobrist[bit] ?? 0;
  }
}

function prefixOf(top: Frame<unknown> | undefined): number[] {
  const opIds: number[] = [];
  for (let frame = top; frame !== undefined; frame = frame.below) opIds.push(frame.call.opId);
  return opIds.reverse();
}
