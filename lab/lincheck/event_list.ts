/**
 * The search's event list (Wing & Gong 1993, as in Porcupine): the call and the return of every
 * operation, sorted by time, in a doubly linked list. Linearizing an operation lifts its call and
 * its return out of the list; backtracking puts them back. Lifts and unlifts happen in stack
 * order, so a removed node keeps valid neighbour pointers ("dancing links") and both are O(1).
 *
 * The operations that may go next are the calls that come before the first return still in the
 * list: an operation that returned must be linearized before any operation called after that.
 * An indeterminate operation's return is at Infinity, hence at the end, so it never holds anything
 * back, and once called it stays a candidate for ever.
 *
 * That last fact would make every step of the search walk over all pending indeterminate calls,
 * so their calls live on a second list instead, grouped into twin classes: indeterminate
 * operations with the very same input object. Twins are interchangeable (an earlier-called twin
 * can stand in for a later one), so only the earliest pending member of a class is ever tried,
 * members are linearized in call order, and a class leaves its list once all are linearized.
 */
import { assert } from "../../src/lib/assert.js";
import { isIndeterminate, type Operation } from "./history.js";

export type EventKind = "call" | "return" | "sentinel";

export class EventNode {
  prev: EventNode = this;
  next: EventNode = this;
  /** For a call, its return; for other nodes, the node itself. */
  match: EventNode = this;
  /** For an indeterminate call, its class and its rank in it (by call time). */
  twins: TwinClass | undefined = undefined;
  twinRank = -1;

  constructor(
    /** Index of the operation in the partition's history; -1 for the sentinels. */
    readonly opId: number,
    /** Position in the search's bitset: determinate operations first, then indeterminate. */
    readonly bit: number,
    readonly kind: EventKind,
    readonly determinate: boolean,
    readonly time: number,
  ) {}
}

export class TwinClass {
  prev: TwinClass = this;
  next: TwinClass = this;
  /** How many members are linearized: always the earliest-called ones. */
  linearized = 0;

  /** Call nodes sorted by call time; empty for the sentinels. */
  constructor(readonly members: readonly EventNode[]) {}

  /** The member to try next, if any. */
  pending(): EventNode | undefined {
    return this.members[this.linearized];
  }

  firstCall(): number {
    return this.members[0]?.time ?? Infinity;
  }
}

export interface EventList {
  readonly head: EventNode;
  readonly tail: EventNode;
  readonly twinsHead: TwinClass;
  readonly twinsTail: TwinClass;
  readonly operationCount: number;
  readonly determinateCount: number;
}

export function buildEventList(history: readonly Operation<unknown, unknown>[]): EventList {
  const determinateCount = history.filter((operation) => !isIndeterminate(operation)).length;
  let nextDeterminateBit = 0;
  let nextIndeterminateBit = determinateCount;
  const events: EventNode[] = [];
  const classes = new Map<unknown, EventNode[]>();
  history.forEach((operation, opId) => {
    const determinate = !isIndeterminate(operation);
    const bit = determinate ? nextDeterminateBit++ : nextIndeterminateBit++;
    const call = new EventNode(opId, bit, "call", determinate, operation.call);
    const returned = new EventNode(opId, bit, "return", determinate, operation.return);
    call.match = returned;
    events.push(returned);
    if (determinate) {
      events.push(call);
      return;
    }
    const members = classes.get(operation.input);
    if (members === undefined) classes.set(operation.input, [call]);
    else members.push(call);
  });
  events.sort(compareEvents);
  const head = new EventNode(-1, -1, "sentinel", true, -Infinity);
  const tail = new EventNode(-1, -1, "sentinel", true, Infinity);
  link([head, ...events, tail]);
  const twinClasses = [...classes.values()].map((members) => {
    members.sort(compareEvents);
    const twins = new TwinClass(members);
    members.forEach((call, rank) => {
      call.twins = twins;
      call.twinRank = rank;
    });
    return twins;
  });
  twinClasses.sort((a, b) => compareEvents(a.members[0] ?? head, b.members[0] ?? head));
  const twinsHead = new TwinClass([]);
  const twinsTail = new TwinClass([]);
  link([twinsHead, ...twinClasses, twinsTail]);
  return {
    head,
    tail,
    twinsHead,
    twinsTail,
    operationCount: history.length,
    determinateCount,
  };
}

function link<T extends { prev: T; next: T }>(nodes: readonly T[]): void {
  for (let i = 1; i < nodes.length; i++) {
    const previous = nodes[i - 1];
    const node = nodes[i];
    assert(previous !== undefined && node !== undefined, "linking past the end");
    previous.next = node;
    node.prev = previous;
  }
}

/**
 * By time; at equal times calls before returns, so that operations which merely touch count as
 * concurrent (the permissive reading: the checker never reports an ordering the clock cannot
 * prove). Comparisons, not subtraction: Infinity - Infinity is NaN.
 */
function compareEvents(a: EventNode, b: EventNode): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === "call" ? -1 : 1;
  return a.opId - b.opId;
}

function remove<T extends { prev: T; next: T }>(node: T): void {
  node.prev.next = node.next;
  node.next.prev = node.prev;
}

function restore<T extends { prev: T; next: T }>(node: T): void {
  node.prev.next = node;
  node.next.prev = node;
}

/** Takes a linearized operation's events out of the lists. */
export function lift(call: EventNode): void {
  assert(call.kind === "call", "only a call can be lifted");
  const twins = call.twins;
  if (twins === undefined) {
    remove(call);
  } else {
    assert(twins.pending() === call, "twins are linearized in call order");
    twins.linearized++;
    if (twins.pending() === undefined) remove(twins);
  }
  remove(call.match);
}

/** Undoes the most recent lift that has not been undone yet. */
export function unlift(call: EventNode): void {
  assert(call.kind === "call", "only a call can be unlifted");
  restore(call.match);
  const twins = call.twins;
  if (twins === undefined) {
    restore(call);
  } else {
    if (twins.pending() === undefined) restore(twins);
    twins.linearized--;
    assert(twins.pending() === call, "twins are unlinearized in reverse call order");
  }
}

/** The time of the first return still in the list: no later call may go next. */
export function firstReturnTime(list: EventList): number {
  let node = list.head.next;
  while (node.kind === "call") node = node.next;
  return node.time;
}
