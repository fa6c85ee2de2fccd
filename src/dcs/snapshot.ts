/**
 * The whole state as bytes, for Raft snapshots: restart time then depends on the size of the
 * state (histories are bounded), not on the length of the log. JSON text with a format version;
 * LSNs travel as {"$bigint": "<decimal>"}.
 */
import { either as E } from "fp-ts";
import { fromJson, toJson } from "./events.js";
import type { DcsLimits, DcsState, MemberName, MemberRecord, Scope, ScopeState } from "./model.js";

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
  let json: StateJson;
  try {
    json = fromJson(new TextDecoder().decode(bytes)) as StateJson;
  } catch (error: unknown) {
    return E.left(`the DCS snapshot is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (json.format !== FORMAT) return E.left(`DCS snapshot format ${json.format} is not ${FORMAT}; upgrade this node`);
  const scopes = new Map<Scope, ScopeState>();
  for (const s of json.scopes) {
    scopes.set(s.scope, {
      ...s,
      members: new Map(s.members.map((m) => [m.name, m])),
      maintenance: new Set(s.maintenance),
    });
  }
  return E.right({ scopes, nowMs: json.nowMs, appliedIndex: json.appliedIndex, limits });
}
