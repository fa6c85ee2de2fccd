/**
 * How the HA loop and the REST API use the DCS: execute a command through the replicated log
 * (any node; the log forwards it to its leader) and get the decision; read a scope consistently
 * (a ReadIndex barrier first, so the view includes every command committed before the read);
 * subscribe to changes (called after each apply, so a lease expiry or a switchover request is
 * seen at once, not at the next loop).
 */
import * as E from "fp-ts/lib/Either.js";
import { type Command, encodeCommandChecked } from "./commands.js";
import type { Decision } from "./decide.js";
import type { Event, Recorded } from "./events.js";
import type { Scope } from "./model.js";
import { type Rejection, rejection } from "./rejection.js";
import type { DcsStateMachine } from "./state_machine.js";
import { type ScopeView, viewScope } from "./views.js";

/** What the client needs of the replicated log (the Raft node provides it). */
export interface ReplicatedLog {
  propose(payload: Uint8Array, timeoutMs?: number): Promise<{ readonly index: number; readonly result: Decision }>;
  readIndex(timeoutMs?: number): Promise<number>;
}

/** The log could not carry the request (no leader, timeout, node stopped …); `retry` says if trying again may help. */
export interface Unavailable {
  readonly code: "unavailable" | "outcomeUnknown";
  readonly message: string;
}

export type DcsFailure = Rejection | Unavailable;

export interface Executed {
  readonly index: number;
  readonly events: readonly Event[];
}

function unavailable(error: unknown): Unavailable {
  const code = typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : "";
  const message = error instanceof Error ? error.message : String(error);
  // A timeout or a refused duplicate may have been applied: the caller must re-read or retry an
  // idempotent command (lease renewals, status updates and compare-and-set ones are).
  return { code: code === "timeout" || code === "outcomeUnknown" ? "outcomeUnknown" : "unavailable", message: `the cluster state could not be updated: ${message}` };
}

export class DcsClient {
  constructor(
    private readonly log: ReplicatedLog,
    private readonly machine: DcsStateMachine,
    private readonly author: string,
  ) {}

  /**
   * Proposes `command` and answers its decision. A command that breaks a bound of
   * command_bounds.ts is not sent: it is answered at once as an "invalid" rejection naming the
   * bound (every node would refuse it the same way when decoding it from the log).
   */
  async execute(scope: Scope, command: Command, options: { author?: string; timeoutMs?: number } = {}): Promise<E.Either<DcsFailure, Executed>> {
    const payload = encodeCommandChecked({ scope, author: options.author ?? this.author, command });
    if (E.isLeft(payload)) return E.left(rejection("invalid", payload.left));
    let proposed: { index: number; result: Decision };
    try {
      proposed = await this.log.propose(payload.right, options.timeoutMs);
    } catch (error: unknown) {
      return E.left(unavailable(error));
    }
    return E.map((events: readonly Event[]) => ({ index: proposed.index, events }))(proposed.result);
  }

  /** A linearizable read: the view includes every command committed before the call. */
  async read(scope: Scope, timeoutMs?: number): Promise<E.Either<Unavailable, ScopeView | null>> {
    try {
      await this.log.readIndex(timeoutMs);
    } catch (error: unknown) {
      return E.left(unavailable(error));
    }
    const broken = this.machine.restoreProblem;
    if (broken !== null) return E.left({ code: "unavailable", message: `this node's cluster state could not be restored from a snapshot: ${broken}` });
    return E.right(this.local(scope));
  }

  /** What this node has applied, without asking anyone (may be behind the cluster). */
  local(scope: Scope): ScopeView | null {
    const state = this.machine.state.scopes.get(scope);
    return state === undefined ? null : viewScope(state, this.machine.state.nowMs);
  }

  /** Calls `listener` with the new view after every applied command that changed `scope`. */
  subscribe(scope: Scope, listener: (view: ScopeView, changes: readonly Recorded[]) => void): () => void {
    return this.machine.subscribe((changes, state) => {
      const mine = changes.filter((c) => c.scope === scope);
      if (mine.length === 0 && changes.length > 0) return;
      const current = state.scopes.get(scope);
      if (current !== undefined) listener(viewScope(current, state.nowMs), mine);
    });
  }
}
