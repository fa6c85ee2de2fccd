/**
 * The state machine the simulator replicates: a few registers with put, get and compare-and-set.
 * Small on purpose: its histories are what the linearizability checker verifies. It also records
 * every operation id it applied, so applying one twice is caught at once.
 */
import { either as E } from "fp-ts";
import { SessionTable } from "../../src/raft/runtime/proposals.js";
import type { SimMachine } from "./workload.js";

export type RegisterOp =
  | { readonly id: string; readonly kind: "put"; readonly key: string; readonly value: string }
  | { readonly id: string; readonly kind: "get"; readonly key: string }
  | { readonly id: string; readonly kind: "cas"; readonly key: string; readonly expected: string | null; readonly value: string };

export type RegisterResult = string | null | boolean;

export function encodeOp(op: RegisterOp): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(op));
}

export function decodeOp(bytes: Uint8Array): RegisterOp {
  return JSON.parse(new TextDecoder().decode(bytes)) as RegisterOp;
}

export class RegisterMachine implements SimMachine {
  values = new Map<string, string>();
  appliedOps = new Set<string>();
  sessions = new SessionTable();
  appliedIndex = 0;

  apply(payload: Uint8Array): RegisterResult {
    const op = decodeOp(payload);
    if (this.appliedOps.has(op.id)) throw new Error(`operation ${op.id} applied twice`);
    this.appliedOps.add(op.id);
    return this.execute(op, true);
  }

  read(payload: Uint8Array): RegisterResult {
    return this.execute(decodeOp(payload), false);
  }

  /** Executes an operation; a get or a failed cas changes nothing. */
  private execute(op: RegisterOp, mutate: boolean): RegisterResult {
    const current = this.values.get(op.key) ?? null;
    switch (op.kind) {
      case "get":
        return current;
      case "put":
        if (mutate) this.values.set(op.key, op.value);
        return "ok";
      case "cas":
        if (current !== op.expected) return false;
        if (mutate) this.values.set(op.key, op.value);
        return true;
    }
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({
      values: [...this.values.entries()].sort(),
      ops: [...this.appliedOps].sort(),
      sessions: Buffer.from(this.sessions.encode()).toString("base64"),
      index: this.appliedIndex,
    }));
  }

  static restore(bytes: Uint8Array): RegisterMachine {
    const data = JSON.parse(new TextDecoder().decode(bytes)) as { values: [string, string][]; ops: string[]; sessions: string; index: number };
    const machine = new RegisterMachine();
    machine.values = new Map(data.values);
    machine.appliedOps = new Set(data.ops);
    const sessions = SessionTable.decode(Buffer.from(data.sessions, "base64"));
    if (E.isLeft(sessions)) throw new Error(sessions.left);
    machine.sessions = sessions.right;
    machine.appliedIndex = data.index;
    return machine;
  }

  fingerprint(): string {
    return JSON.stringify([...this.values.entries()].sort());
  }
}
