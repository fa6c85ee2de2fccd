/**
 * The DCS workload: clients act as members of a few scopes — initialize, report themselves,
 * acquire, renew and release the lease with the generation they last got, compare-and-set the
 * config with the version they last saw, and read — through the real DCS state machine on the
 * simulated Raft cluster. The history must be linearizable to dcsModel.
 */
import { either as E } from "fp-ts";
import type { Prng } from "../../src/lib/prng.js";
import { type Command, encodeCommand } from "../../src/dcs/commands.js";
import type { Decision } from "../../src/dcs/decide.js";
import { DEFAULT_TAGS, type MemberName, type Scope } from "../../src/dcs/model.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import { SessionTable } from "../../src/raft/runtime/proposals.js";
import type { Entry } from "../../src/raft/types.js";
import { type DcsInput, dcsModel, type DcsModelState, type DcsOutput } from "../../lab/lincheck/dcs_model.js";
import type { PlannedOp, SimMachine, Workload } from "./workload.js";

/** An hour: no lease expires within a simulated run, so outcomes do not depend on time. */
const TTL_MS = 3_600_000;
const MEMBERS = 4;
/** First byte of a read request (DCS commands start with their schema version, 1). */
const READ_MARK = 0xff;

class DcsSimMachine implements SimMachine {
  appliedIndex = 0;
  sessions = new SessionTable();
  readonly dcs = new DcsStateMachine();

  apply(payload: Uint8Array, entry: Entry): Decision | DcsOutput {
    this.appliedIndex = entry.index;
    // A read sent through the log (the simulator does both) reads at its place in the log.
    if (payload[0] === READ_MARK) return this.read(payload);
    return this.dcs.apply(payload, { index: entry.index, term: entry.term, timeMs: entry.timeMs });
  }

  read(payload: Uint8Array): DcsOutput {
    const scope = this.dcs.state.scopes.get(new TextDecoder().decode(payload.subarray(1)) as Scope);
    if (scope === undefined) return "-|-|0|0";
    return `${scope.initialization?.by ?? "-"}|${scope.lease?.holder ?? "-"}|${scope.lease?.generation ?? 0}|${scope.config.version}`;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({
      index: this.appliedIndex,
      sessions: Buffer.from(this.sessions.encode()).toString("base64"),
      dcs: Buffer.from(this.dcs.snapshot()).toString("base64"),
    }));
  }

  static restore(bytes: Uint8Array): DcsSimMachine {
    const data = JSON.parse(new TextDecoder().decode(bytes)) as { index: number; sessions: string; dcs: string };
    const machine = new DcsSimMachine();
    machine.appliedIndex = data.index;
    const sessions = SessionTable.decode(Buffer.from(data.sessions, "base64"));
    if (E.isLeft(sessions)) throw new Error(sessions.left);
    machine.sessions = sessions.right;
    machine.dcs.restore(Buffer.from(data.dcs, "base64"));
    return machine;
  }

  fingerprint(): string {
    // appliedIndex and nowMs may differ between nodes by entries that changed nothing.
    return Buffer.from(this.dcs.snapshot()).toString("utf8").replace(/"nowMs":\d+,"appliedIndex":\d+,/, "");
  }
}

function command(input: DcsInput): Command | null {
  const member = input.kind === "read" || input.kind === "setConfig" ? null : (input.member as MemberName);
  switch (input.kind) {
    case "init":
      return { kind: "initializeCluster", member: member!, systemId: "sys" };
    case "upsert":
      return {
        kind: "upsertMember",
        status: { name: member!, apiUrl: "", connUrl: "", role: "replica", state: "streaming", timeline: 1, walWritten: null, walReceived: null, walReplayed: null, tags: DEFAULT_TAGS, agentVersion: "sim" },
      };
    case "acquire":
      return { kind: "acquireLease", member: member!, ttlMs: TTL_MS };
    case "renew":
      return { kind: "renewLease", member: member!, ttlMs: TTL_MS, generation: input.generation };
    case "release":
      return { kind: "releaseLease", member: member!, generation: input.generation };
    case "setConfig":
      return { kind: "setConfig", expectedVersion: input.expectedVersion, mode: "patch", value: { value: input.value } };
    case "read":
      return null;
  }
}

export function dcsWorkload(scopes: number): Workload<DcsModelState, DcsInput, DcsOutput> {
  let counter = 0;
  /** What each client last learned: its lease generation per scope, the config version per scope. */
  const generations = new Map<string, number>();
  const versions = new Map<string, number>();
  return {
    name: "dcs",
    createMachine: () => new DcsSimMachine(),
    restoreMachine: (snapshot) => DcsSimMachine.restore(snapshot),
    nextOp(prng: Prng, actor: number): PlannedOp<DcsInput> {
      const scope = `s${prng.int(0, scopes)}`;
      const member = `m${(actor % MEMBERS) + 1}`;
      const roll = prng.next();
      const known = generations.get(`${actor}/${scope}`) ?? 0;
      const generation = prng.chance(0.85) ? known : prng.int(0, known + 2);
      const version = versions.get(scope) ?? 0;
      let input: DcsInput;
      if (roll < 0.05) input = { kind: "init", scope, member };
      else if (roll < 0.15) input = { kind: "upsert", scope, member };
      else if (roll < 0.4) input = { kind: "acquire", scope, member };
      else if (roll < 0.55) input = { kind: "renew", scope, member, generation };
      else if (roll < 0.68) input = { kind: "release", scope, member, generation };
      else if (roll < 0.88) input = { kind: "setConfig", scope, expectedVersion: prng.chance(0.8) ? version : prng.int(0, version + 2), value: `v${++counter}` };
      else input = { kind: "read", scope };
      const cmd = command(input);
      const payload = cmd === null ? Uint8Array.of(READ_MARK, ...new TextEncoder().encode(scope)) : encodeCommand({ scope: scope as Scope, author: input.kind === "setConfig" ? `api:client${actor}` : member, command: cmd });
      return { input, payload, read: cmd === null };
    },
    output(op, result, actor): DcsOutput {
      const input = op.input;
      if (input.kind === "read") {
        const text = result as string;
        versions.set(input.scope, Number(text.split("|")[3]));
        return text;
      }
      const decision = result as Decision;
      if (E.isLeft(decision)) return decision.left.code;
      if (input.kind === "acquire") {
        const event = decision.right.find((e) => e.kind === "leaseAcquired" || e.kind === "leaseRenewed");
        const generation = event !== undefined && (event.kind === "leaseAcquired" || event.kind === "leaseRenewed") ? event.generation : -1;
        generations.set(`${actor}/${input.scope}`, generation);
        return `ok:${generation}`;
      }
      if (input.kind === "setConfig") {
        const event = decision.right.find((e) => e.kind === "configChanged");
        const version = event !== undefined && event.kind === "configChanged" ? event.version : -1;
        versions.set(input.scope, version);
        return `ok:${version}`;
      }
      return "ok";
    },
    model: dcsModel,
  };
}
