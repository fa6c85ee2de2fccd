/**
 * The whole state as bytes, for Raft snapshots: restart time then depends on the size of the
 * state (histories are bounded), not on the length of the log. JSON text with a format version;
 * LSNs travel as {"$bigint": "<decimal>"}.
 *
 * Decoding never throws: bytes that are not UTF-8, not JSON, or not a state of the right shape
 * within this machine's limits (state_shape.ts) are answered with what is wrong.
 */
import * as E from "fp-ts/lib/Either.js";
import { toJson } from "./events.js";
import type { DcsLimits, DcsState, MemberName, MemberRecord, ScopeState } from "./model.js";
import { stateFromJson } from "./state_shape.js";

const FORMAT = 1;

interface ScopeJson extends Omit<ScopeState, "members" | "maintenance"> {
  readonly members: MemberRecord[];
  readonly maintenance: MemberName[];
}

interface StateJson {
  readonly format: number;
  readonly nowMs: number;
  readonly appliedIndex: number;
  readonly scopes: ScopeJson[];
}

export function encodeState(state: DcsState): Uint8Array {
  const scopes: ScopeJson[] = [...state.scopes.values()].map((s) => ({
    ...s,
    members: [...s.members.values()],
    maintenance: [...s.maintenance],
  }));
  const json: StateJson = { format: FORMAT, nowMs: state.nowMs, appliedIndex: state.appliedIndex, scopes };
  return new TextEncoder().encode(toJson(json));
}

export function decodeState(bytes: Uint8Array, limits: DcsLimits): E.Either<string, DcsState> {
  let json: unknown;
  try {
    // JSON.parse without a reviver is iterative (V8 keeps its own stack); a reviver would recurse.
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error: unknown) {
    return E.left(`the DCS snapshot is not valid UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return stateFromJson(json, limits, FORMAT);
}
