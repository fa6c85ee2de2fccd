/**
 * Inputs for decide() tests: the cluster state comes from a real DCS state machine driven by
 * commands (test/dcs/fixtures.ts), the local PostgreSQL is plain data.
 */
import { type Lsn, type MemberName, type Scope } from "../../src/dcs/model.js";
import { viewScope } from "../../src/dcs/views.js";
import type { Action } from "../../src/ha/actions.js";
import { EMPTY_MEMORY, type HaInput } from "../../src/ha/input.js";
import type { LocalPostgres } from "../../src/ha/observation.js";
import { DEFAULT_LOCAL_HA_SETTINGS, resolveHaSettings } from "../../src/ha/settings.js";
import { Driver, m, SCOPE } from "../dcs/fixtures.js";

export { Driver, m, SCOPE, status } from "../dcs/fixtures.js";

export const SETTINGS = resolveHaSettings({ version: 0, value: {} }, DEFAULT_LOCAL_HA_SETTINGS).settings;

export function pg(fields: Partial<LocalPostgres> = {}): LocalPostgres {
  return {
    dataDir: "initialized",
    systemId: "7301234567890123456",
    process: "running",
    role: "replica",
    timeline: 1,
    replayTimeline: null,
    controlState: "in archive recovery",
    checkpointLsn: null,
    timelineSwitchLsn: null,
    timelineParent: null,
    minRecoveryLsn: null,
    minRecoveryTimeline: null,
    walWritten: null,
    walReceived: 1000n as Lsn,
    walReplayed: 1000n as Lsn,
    streaming: true,
    upstream: m("pg1"),
    syncStandbyNames: "",
    senders: [],
    problem: null,
    ...fields,
  };
}

export const PRIMARY = pg({ role: "primary", controlState: "in production", walWritten: 5000n as Lsn, walReceived: null, walReplayed: null, streaming: false, upstream: null });

/** What the agent remembers once it has run a while with synchronous_mode off. */
export const STEADY_MEMORY = { ...EMPTY_MEMORY, syncApplied: { value: null, atMs: 0, lsn: 0n }, viewConfirmed: true };

/** An input for member `me` at local time 10 s, seeing the driver's state. */
export function input(d: Driver | null, me: string, fields: Partial<HaInput> = {}, scope: Scope = SCOPE): HaInput {
  const state = d?.machine.state.scopes.get(scope);
  return {
    me: m(me),
    nowMs: 10_000,
    view: state === undefined || d === null ? null : viewScope(state, d.nowMs),
    pg: pg(),
    lease: null,
    settings: SETTINGS,
    memory: STEADY_MEMORY,
    busy: null,
    ...fields,
  };
}

/** Actions as short strings, for readable expectations: "dcs:renewLease", "start:replica<pg1" … */
export function summary(actions: readonly Action[]): string[] {
  return actions.map((a) => {
    switch (a.kind) {
      case "dcs":
        return `dcs:${a.command.kind}`;
      case "start":
        return `start:${a.as}${a.upstream === null ? "" : `<${a.upstream.member}`}`;
      case "stop":
        return `stop:${a.mode}`;
      case "clone":
      case "rewind":
      case "reinit":
        return `${a.kind}<${a.source.member}`;
      case "followPrimary":
        return `followPrimary<${a.upstream.member}`;
      case "setSyncStandbyNames":
        return `ssn:${a.value === null ? "unmanaged" : a.value}`;
      case "syncSlots":
        return `syncSlots:${a.members.join(",")}`;
      default:
        return a.kind;
    }
  });
}

export const name = (n: string): MemberName => n as MemberName;

/**
 * A local lease as the HA loop keeps it: granted at `generation`, safe until `deadlineMs`, its
 * renewal sent a ttl (5 s) before that — so at the fixtures' nowMs (10 s) with the default
 * deadline, a loop_wait has passed and the next renewal is due.
 */
export function heldLease(generation = 1, deadlineMs = 14_000): { generation: number; deadlineMs: number; sentAtMs: number } {
  return { generation, deadlineMs, sentAtMs: deadlineMs - 5_000 };
}
