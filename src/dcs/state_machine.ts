/**
 * The DCS as a replicated state machine: the Raft runtime hands it each committed command with
 * the entry's index, term and time; it decides, folds the events, tells subscribers, and returns
 * the decision to whoever proposed the command. It also snapshots and restores itself.
 *
 * It matches the runtime's StateMachine interface by shape (the DCS does not import raft).
 *
 * apply() never throws for what an entry holds: every node applies every entry, so an exception
 * here would stop every node at the same entry, and again after each restart (issue 12). Bytes
 * that are not a valid command are a rejection (commands.ts); a valid command is decided by rules
 * that do not mutate, and its events are checked to fold before the first is folded
 * (evolve.ts). Should a rule or the fold still throw — a bug — the entry becomes an "internal"
 * rejection, logged at error level with its index, and the state stays as it was. That net is
 * deterministic for exceptions of the code's logic; a stack overflow is not (stack headroom
 * differs between nodes), which is why no step recurses as deep as a command says.
 */
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../lib/assert.js";
import { type Logger, SILENT_LOGGER } from "../lib/logger.js";
import { decodeCommand } from "./commands.js";
import { decide, type Decision } from "./decide.js";
import type { Recorded } from "./events.js";
import { decisionFoldProblem, evolve } from "./evolve.js";
import { DEFAULT_LIMITS, type DcsLimits, type DcsState, emptyState, MEMBERS_PER_SCOPE_MAX, type Scope } from "./model.js";
import { rejection } from "./rejection.js";
import { decodeState, encodeState } from "./snapshot.js";

/** Where a command sits in the log and the time its Raft leader stamped on it. */
export interface EntryContext {
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
}

export type ChangeListener = (changes: readonly Recorded[], state: DcsState) => void;

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

export class DcsStateMachine {
  state: DcsState;
  /**
   * Why the last restore() failed, or null. Until a restore succeeds this node's state is not
   * the cluster's: it decides nothing (every entry is refused as "internal"), so a caller that
   * ignored the failure cannot act on a stale state.
   */
  restoreProblem: string | null = null;
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    private readonly limits: DcsLimits = DEFAULT_LIMITS,
    private readonly logger: Logger = SILENT_LOGGER,
  ) {
    assert(limits.membersPerScopeMax >= 1 && limits.membersPerScopeMax <= MEMBERS_PER_SCOPE_MAX, () => `membersPerScopeMax must be from 1 to ${MEMBERS_PER_SCOPE_MAX}`);
    assert(limits.historyMax >= 1 && limits.scopesMax >= 1 && limits.configBytesMax >= 2, "the DCS limits must allow something");
    this.state = emptyState(limits);
  }

  apply(payload: Uint8Array, entry: EntryContext): Decision {
    const state = this.state;
    // The Raft runtime's contract, not the entry's content: applying twice is a bug of the caller.
    assert(entry.index > state.appliedIndex, () => `entry ${entry.index} applied after ${state.appliedIndex}`);
    if (this.restoreProblem !== null) {
      return E.left(rejection("internal", `this node's cluster state could not be restored from a snapshot (${this.restoreProblem}); it decides nothing until a restore succeeds`));
    }
    state.appliedIndex = entry.index;
    // Entry times never decrease along the log (the Raft leader stamps them so); keep it so here.
    if (entry.timeMs > state.nowMs) state.nowMs = entry.timeMs;
    const envelope = decodeCommand(payload);
    if (E.isLeft(envelope)) return E.left(rejection("invalid", envelope.left));
    const { scope, command } = envelope.right;
    let decision: Decision;
    try {
      decision = decide(state, envelope.right, state.nowMs);
    } catch (error: unknown) {
      return this.internal(entry, command.kind, scope, `the rules threw ${describe(error)}`);
    }
    if (E.isLeft(decision) || decision.right.length === 0) return decision;
    const problem = decisionFoldProblem(state, scope, decision.right);
    if (problem !== null) return this.internal(entry, command.kind, scope, `the rules decided events that cannot be folded: ${problem}`);
    const changes: Recorded[] = [];
    try {
      for (const event of decision.right) {
        evolve(state, scope, event, state.nowMs);
        changes.push({ scope, atMs: state.nowMs, event });
      }
    } catch (error: unknown) {
      // Unreachable while decisionFoldProblem() mirrors evolve's assertions. Every node folds
      // the same events into the same state, so they all stop at the same event.
      const folded = changes.length === 0 ? "" : `; ${changes.length} of its ${decision.right.length} events were folded on every node`;
      return this.internal(entry, command.kind, scope, `the fold threw ${describe(error)}${folded}`);
    }
    this.notify(changes, entry);
    return decision;
  }

  /** The entry as an "internal" rejection: a bug in raftgres, logged with where it happened. */
  private internal(entry: EntryContext, kind: string, scope: Scope, what: string): Decision {
    this.logger.error({ index: entry.index, term: entry.term, command: kind, scope, error: what }, `applying entry ${entry.index} (${kind}) failed: ${what}; the entry is refused on every node`);
    return E.left(rejection("internal", `applying entry ${entry.index} (${kind} in ${scope}) failed inside raftgres: ${what}; the command was refused and the cluster state left as it was`));
  }

  /** Subscribers are not part of the replicated state: one that throws is logged, never allowed to stop the apply. */
  private notify(changes: readonly Recorded[], entry: EntryContext | null): void {
    for (const listener of this.listeners) {
      try {
        listener(changes, this.state);
      } catch (error: unknown) {
        this.logger.error({ index: entry?.index ?? this.state.appliedIndex, error: describe(error) }, "a subscriber of the cluster state threw; the state is applied, the subscriber missed this change");
      }
    }
  }

  snapshot(): Uint8Array {
    return encodeState(this.state);
  }

  /**
   * Replaces the state by a snapshot's. Bytes that are not a valid snapshot change nothing and
   * are answered with what is wrong (the caller decides: stop, or fetch another snapshot); until
   * a restore succeeds the machine refuses every entry (see restoreProblem).
   */
  restore(snapshot: Uint8Array): E.Either<string, void> {
    const decoded = decodeState(snapshot, this.limits);
    if (E.isLeft(decoded)) {
      this.restoreProblem = decoded.left;
      this.logger.error({ bytes: snapshot.length, error: decoded.left }, `cannot restore the cluster state from a snapshot: ${decoded.left}`);
      return decoded;
    }
    this.state = decoded.right;
    this.restoreProblem = null;
    this.notify([], null);
    return E.right(undefined);
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
