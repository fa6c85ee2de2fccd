/**
 * What every rule sees: the scope as it stands, who asks, and the entry time. Its own module so
 * the rule files and their dispatcher (decide.ts) do not import each other.
 */
import type * as E from "fp-ts/lib/Either.js";
import type { Event } from "./events.js";
import type { DcsState, ScopeState } from "./model.js";
import type { Rejection } from "./rejection.js";

export type Decision = E.Either<Rejection, readonly Event[]>;

export interface DecideContext {
  readonly scope: ScopeState;
  readonly author: string;
  readonly nowMs: number;
  readonly state: DcsState;
}
