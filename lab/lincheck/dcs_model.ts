/**
 * The sequential specification of the DCS operations the simulator checks: initialize, report
 * a member, acquire/renew/release the lease and compare-and-set the config, per scope. The lease
 * ttl in these runs is an hour, so expiry never decides an outcome: what remains is a mutex with
 * fencing generations, which linearizability can check.
 */
import type { Model, StepResult } from "./model.js";
import type { Operation } from "./history.js";

export type DcsInput =
  | { readonly kind: "init"; readonly scope: string; readonly member: string }
  | { readonly kind: "upsert"; readonly scope: string; readonly member: string }
  | { readonly kind: "acquire"; readonly scope: string; readonly member: string }
  | { readonly kind: "renew"; readonly scope: string; readonly member: string; readonly generation: number }
  | { readonly kind: "release"; readonly scope: string; readonly member: string; readonly generation: number }
  | { readonly kind: "setConfig"; readonly scope: string; readonly expectedVersion: number; readonly value: string }
  | { readonly kind: "read"; readonly scope: string };

/**
 * The outcome as a client sees it: "ok", "ok:<n>", a rejection code, or a read
 * "<initBy>|<holder>|<generation>|<version>" ("-" and 0 when there is no such thing).
 */
export type DcsOutput = string;

export interface DcsModelState {
  readonly initBy: string | null;
  readonly members: readonly string[];
  readonly holder: string | null;
  readonly generation: number;
  readonly maxGeneration: number;
  readonly version: number;
}

const INITIAL: DcsModelState = { initBy: null, members: [], holder: null, generation: 0, maxGeneration: 0, version: 0 };

/** What the DCS answers to `input` in `state`, and the state after it. */
export function dcsStep(state: DcsModelState, input: DcsInput): { output: DcsOutput; state: DcsModelState } {
  switch (input.kind) {
    case "init":
      if (state.initBy === null) return { output: "ok", state: { ...state, initBy: input.member } };
      return { output: state.initBy === input.member ? "ok" : "alreadyInitialized", state };
    case "upsert":
      return { output: "ok", state: state.members.includes(input.member) ? state : { ...state, members: [...state.members, input.member].sort() } };
    case "acquire": {
      if (state.initBy === null) return { output: "notInitialized", state };
      if (!state.members.includes(input.member)) return { output: "unknownMember", state };
      if (state.holder === null) {
        const generation = state.maxGeneration + 1;
        return { output: `ok:${generation}`, state: { ...state, holder: input.member, generation, maxGeneration: generation } };
      }
      return { output: state.holder === input.member ? `ok:${state.generation}` : "leaseHeld", state };
    }
    case "renew":
    case "release": {
      if (state.holder !== input.member) return { output: "notLeaseHolder", state };
      if (state.generation !== input.generation) return { output: "staleGeneration", state };
      return { output: "ok", state: input.kind === "release" ? { ...state, holder: null } : state };
    }
    case "setConfig":
      if (input.expectedVersion !== state.version) return { output: "versionConflict", state };
      return { output: `ok:${state.version + 1}`, state: { ...state, version: state.version + 1 } };
    case "read":
      return { output: `${state.initBy ?? "-"}|${state.holder ?? "-"}|${state.holder === null ? 0 : state.generation}|${state.version}`, state };
  }
}

function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const key = (s: DcsModelState): string => `${s.initBy}|${s.members.join(",")}|${s.holder}|${s.generation}|${s.maxGeneration}|${s.version}`;

export const dcsModel: Model<DcsModelState, DcsInput, DcsOutput> = {
  init: () => INITIAL,
  step(state, input, output): StepResult<DcsModelState> {
    const next = dcsStep(state, input);
    return { ok: output === undefined || output === next.output, state: next.state };
  },
  // Reads and refusals change nothing (an accepted renewal does not either, but "ok" alone does
  // not say whether it was a renewal).
  readOnly: (input, output) => input.kind === "read" || !output.startsWith("ok"),
  equal: (a, b) => key(a) === key(b),
  hash: (s) => hashString(key(s)),
  partition: (history: readonly Operation<DcsInput, DcsOutput>[]) => {
    const byScope = new Map<string, Operation<DcsInput, DcsOutput>[]>();
    for (const op of history) {
      // An unanswered read constrains nothing.
      if (op.input.kind === "read" && op.output === undefined) continue;
      const list = byScope.get(op.input.scope) ?? [];
      list.push(op);
      byScope.set(op.input.scope, list);
    }
    return [...byScope.values()];
  },
  describePartition: (history) => `scope ${history[0]?.input.scope ?? "?"}`,
  describeOperation: (input, output) => `${JSON.stringify(input)} → ${output ?? "?"}`,
  describeState: key,
};
