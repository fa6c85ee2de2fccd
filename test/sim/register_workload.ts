/**
 * The register workload: clients put, get and compare-and-set a few keys; the history must be
 * linearizable to a set of registers. It tests Raft itself (reads through ReadIndex or the log,
 * writes exactly once).
 */
import { assert } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import { type RegisterInput, type RegisterOutput, registerModel, type RegisterState } from "../../lab/lincheck/index.js";
import { encodeOp, type RegisterOp, type RegisterResult, RegisterMachine } from "./register_machine.js";
import type { PlannedOp, Workload } from "./workload.js";

export function registerWorkload(keys: number): Workload<RegisterState, RegisterInput, RegisterOutput> {
  let counter = 0;
  return {
    name: "register",
    createMachine: () => new RegisterMachine(),
    restoreMachine: (snapshot) => RegisterMachine.restore(snapshot),
    nextOp(prng: Prng): PlannedOp<RegisterInput> {
      const op = randomOp(prng, ++counter, keys);
      return { input: toInput(op), payload: encodeOp(op), read: op.kind === "get" };
    },
    output: (op, result) => toOutput(op.input, result as RegisterResult),
    model: registerModel,
  };
}

function randomOp(prng: Prng, n: number, keys: number): RegisterOp {
  const id = `op${n}`;
  const key = `k${prng.int(0, keys)}`;
  const roll = prng.next();
  if (roll < 0.4) return { id, kind: "put", key, value: `v${n}` };
  if (roll < 0.6) return { id, kind: "cas", key, expected: prng.chance(0.3) ? null : `v${prng.int(Math.max(1, n - 20), n + 1)}`, value: `v${n}` };
  return { id, kind: "get", key };
}

function toInput(op: RegisterOp): RegisterInput {
  switch (op.kind) {
    case "put":
      return { kind: "put", key: op.key, value: op.value };
    case "get":
      return { kind: "get", key: op.key };
    case "cas":
      return { kind: "cas", key: op.key, expected: op.expected, value: op.value };
  }
}

function toOutput(input: RegisterInput, result: RegisterResult): RegisterOutput {
  switch (input.kind) {
    case "put":
      return { kind: "put" };
    case "get":
      assert(typeof result === "string" || result === null, "get returns a value");
      return { kind: "get", value: result };
    case "cas":
      assert(typeof result === "boolean", "cas returns a boolean");
      return { kind: "cas", ok: result };
    case "delete":
      return { kind: "delete" };
  }
}
