/**
 * The DCS as a replicated state machine: the Raft runtime hands it each committed command with
 * the entry's index, term and time; it decides, folds the events, tells subscribers, and returns
 * the decision to whoever proposed the command. It also snapshots and restores itself.
 *
 * It matches the runtime's StateMachine interface by shape (the DCS does not import raft).
 */
import { either as E } from "fp-ts";
import { assert } from "../lib/assert.js";
import { decodeCommand } from "./commands.js";
import { decide, type Decision } from "./decide.js";
import type { Recorded } from "./events.js";
import { evolve } from "./evolve.js";
import { DEFAULT_LIMITS, type DcsLimits, type DcsState, emptyState, type Scope } from "./model.js";
import { rejection } from "./rejection.js";
import { decodeState, encodeState } from "./snapshot.js";

/** Where a command sits in the log and the time its Raft leader stamped on it. */
export interface EntryContext {
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
}

export type ChangeListener = (changes: readonly Recorded[], state: DcsState) => void;

export class DcsStateMachine {
  state: DcsState;
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly limits: DcsLimits = DEFAULT_LIMITS) {
    this.state = emptyState(limits);
  }

  apply(payload: Uint8Array, entry: EntryContext): Decision {
    const state = this.state;
    assert(entry.index > state.appliedIndex, () => `entry ${entry.index} applied after ${state.appliedIndex}`);
    state.appliedIndex = entry.index;
    // Entry times never decrease along the log (the Raft leader stamps them so); keep it so here.
    if (entry.timeMs > state.nowMs) state.nowMs = entry.timeMs;
    const envelope = decodeCommand(payload);
    if (E.isLeft(envelope)) return E.left(rejection("invalid", envelope.left));
    const decision = decide(state, envelope.right, state.nowMs);
    if (E.isLeft(decision) || decision.right.length === 0) return decision;
    const changes: Recorded[] = [];
    for (const event of decision.right) {
      evolve(state, envelope.right.scope, event, state.nowMs);
      changes.push({ scope: envelope.right.scope, atMs: state.nowMs, event });
    }
    for (const listener of this.listeners) listener(changes, state);
    return decision;
  }

  snapshot(): Uint8Array {
    return encodeState(this.state);
  }

  restore(snapshot: Uint8Array): void {
    const decoded = decodeState(snapshot, this.limits);
    assert(E.isRight(decoded), () => (E.isLeft(decoded) ? decoded.left : ""));
    this.state = decoded.right;
    for (const listener of this.listeners) listener([], this.state);
  }

  /** Called after every applied command that changed something (and after a restore). */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  scope(scope: Scope): DcsState["scopes"] extends Map<Scope, infer S> ? S | undefined : never {
    return this.state.scopes.get(scope);
  }
}
