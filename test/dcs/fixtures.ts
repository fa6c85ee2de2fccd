/**
 * Building blocks for DCS tests: commands with sensible defaults, and a machine driven with
 * explicit entry times.
 */
import { either as E } from "fp-ts";
import { type Command, encodeCommandChecked } from "../../src/dcs/commands.js";
import type { Decision } from "../../src/dcs/decide.js";
import { type DcsLimits, DEFAULT_LIMITS, DEFAULT_TAGS, type Lsn, type MemberName, type MemberStatus, type Scope } from "../../src/dcs/model.js";
import { rejection } from "../../src/dcs/rejection.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import { SILENT_LOGGER, type Logger } from "../../src/lib/logger.js";

export const SCOPE = "main" as Scope;
export const m = (name: string): MemberName => name as MemberName;

export function status(name: string, fields: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name: m(name),
    apiUrl: `http://${name}:8008/patroni`,
    connUrl: `postgres://${name}:5432/postgres`,
    role: "replica",
    state: "streaming",
    timeline: 1,
    walWritten: null,
    walReceived: 1000n as Lsn,
    walReplayed: 1000n as Lsn,
    tags: DEFAULT_TAGS,
    agentVersion: "0.1.0",
    ...fields,
  };
}

/** A DCS state machine with a clock the test moves. */
export class Driver {
  readonly machine: DcsStateMachine;
  nowMs = 1_700_000_000_000;
  index = 0;

  constructor(logger: Logger = SILENT_LOGGER, limits: DcsLimits = DEFAULT_LIMITS) {
    this.machine = new DcsStateMachine(limits, logger);
  }

  /**
   * Runs a command as DcsClient.execute does: one that breaks a bound is refused before it is
   * encoded (and takes no log index); the others are applied at the next index.
   */
  run(author: string, command: Command, scope: Scope = SCOPE): Decision {
    const payload = encodeCommandChecked({ scope, author, command });
    if (E.isLeft(payload)) return E.left(rejection("invalid", payload.left));
    return this.apply(payload.right);
  }

  /** Applies raw bytes at the next index, as the Raft log hands any committed entry over. */
  apply(payload: Uint8Array): Decision {
    this.index++;
    return this.machine.apply(payload, { index: this.index, term: 1, timeMs: this.nowMs });
  }

  /** Runs and insists on success. */
  ok(author: string, command: Command, scope: Scope = SCOPE): Decision {
    const decision = this.run(author, command, scope);
    if (E.isLeft(decision)) throw new Error(`${command.kind} by ${author} refused: ${decision.left.message}`);
    return decision;
  }

  /** Restores a snapshot as the Raft runtime does: the log goes on after the snapshot's index. */
  restore(snapshot: Uint8Array): E.Either<string, void> {
    const restored = this.machine.restore(snapshot);
    this.index = Math.max(this.index, this.machine.state.appliedIndex);
    return restored;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  scope(scope: Scope = SCOPE) {
    const s = this.machine.state.scopes.get(scope);
    if (s === undefined) throw new Error(`no scope ${scope}`);
    return s;
  }

  /** A bootstrapped scope: pg1 initialized it and holds the lease; pg2 and pg3 stream. */
  bootstrap(scope: Scope = SCOPE): void {
    this.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", walWritten: 1000n as Lsn, walReceived: null, walReplayed: null }) }, scope);
    this.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "7301234567890123456" }, scope);
    this.ok("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 }, scope);
    this.ok("pg2", { kind: "upsertMember", status: status("pg2") }, scope);
    this.ok("pg3", { kind: "upsertMember", status: status("pg3") }, scope);
  }
}

export function rejected(decision: Decision): string {
  return E.isLeft(decision) ? `${decision.left.code}: ${decision.left.message}` : "accepted";
}
