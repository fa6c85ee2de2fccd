/**
 * What the simulator replicates and checks: a state machine, the operations clients run against
 * it, and the sequential model their history must be linearizable to. The register workload
 * (register_workload.ts) tests Raft itself; the DCS workload (dcs_workload.ts) tests the cluster
 * state's leases and config compare-and-set on top of it.
 */
import type { Prng } from "../../src/lib/prng.js";
import type { SessionTable } from "../../src/raft/runtime/proposals.js";
import type { Entry } from "../../src/raft/types.js";
import type { Model } from "../../lab/lincheck/index.js";

export interface SimMachine {
  appliedIndex: number;
  /** The exactly-once table of the runtime, which travels in the machine's snapshots. */
  sessions: SessionTable;
  /** Applies a committed client payload; returns what the client is told. */
  apply(payload: Uint8Array, entry: Entry): unknown;
  /** Answers a read-only payload from the current state (after a ReadIndex barrier). */
  read(payload: Uint8Array): unknown;
  snapshot(): Uint8Array;
  /** Equal on two nodes iff their states are equal. */
  fingerprint(): string;
}

export interface PlannedOp<I> {
  readonly input: I;
  readonly payload: Uint8Array;
  /** Served by ReadIndex (when not sent through the log); an unanswered read is dropped. */
  readonly read: boolean;
}

export interface Workload<S, I, O> {
  readonly name: string;
  createMachine(): SimMachine;
  restoreMachine(snapshot: Uint8Array): SimMachine;
  nextOp(prng: Prng, clientId: number): PlannedOp<I>;
  /** The client's view of the machine's answer. */
  output(op: PlannedOp<I>, result: unknown, clientId: number): O;
  readonly model: Model<S, I, O>;
}
