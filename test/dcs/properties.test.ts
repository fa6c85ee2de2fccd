/**
 * Properties of the rules and the fold, over random command sequences (fast-check): snapshots
 * replay to the same state, the lease is never handed to another member before it expired or
 * was released, generations and config versions only grow.
 */
import fc from "fast-check";
import { either as E } from "fp-ts";
import t from "tap";
import { type Command, encodeCommand } from "../../src/dcs/commands.js";
import type { Event } from "../../src/dcs/events.js";
import type { Lease, Lsn, Scope } from "../../src/dcs/model.js";
import { encodeState } from "../../src/dcs/snapshot.js";
import { DcsStateMachine } from "../../src/dcs/state_machine.js";
import { m, status } from "./fixtures.js";

const MEMBERS = ["pg1", "pg2", "pg3", "pg4"] as const;
const SCOPES = ["alpha", "beta"] as Scope[];

interface Step {
  readonly advanceMs: number;
  readonly scope: Scope;
  readonly author: string;
  readonly command: Command;
}

const member = fc.constantFrom(...MEMBERS);
const ttl = fc.constantFrom(3000, 5000, 30_000);

const stepArb: fc.Arbitrary<Step> = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40_000 })),
  scope: fc.constantFrom(...SCOPES),
  who: member,
  other: member,
  kind: fc.integer({ min: 0, max: 13 }),
  n: fc.integer({ min: 0, max: 4 }),
  ttlMs: ttl,
  lag: fc.bigInt({ min: 0n, max: 5_000_000n }),
}).map(({ advanceMs, scope, who, other, kind, n, ttlMs, lag }): Step => {
  const author = kind === 5 || kind === 6 || kind === 7 ? "api:op" : who;
  const commands: Command[] = [
    { kind: "upsertMember", status: status(who, { role: n === 0 ? "primary" : "replica", walWritten: n === 0 ? (5_000_000n as Lsn) : null, walReceived: lag as Lsn }) },
    { kind: "initializeCluster", member: m(who), systemId: n % 2 === 0 ? "" : `sys${n}` },
    { kind: "acquireLease", member: m(who), ttlMs },
    { kind: "renewLease", member: m(who), ttlMs, generation: n },
    { kind: "releaseLease", member: m(who), generation: n },
    { kind: "setConfig", expectedVersion: n === 4 ? null : n, mode: n === 3 ? "replace" : "patch", value: n === 2 ? { ttl: null } : { ttl: 10 + n, loop_wait: 1 + n } },
    { kind: "requestSwitchover", from: null, to: n % 2 === 0 ? null : m(other), scheduledAtMs: null },
    n % 2 === 0 ? { kind: "cancelSwitchover" } : { kind: "requestFailover", to: m(other), allowDataLoss: n % 4 === 1 },
    { kind: "setSyncState", expectedVersion: null, leader: m(who), standbys: [m(other)].filter((s) => s !== who), quorum: 0 },
    { kind: "recordTimeline", timeline: n + 1, lsn: lag as Lsn, reason: "failover", newPrimary: m(who) },
    { kind: "setPause", paused: n % 2 === 0 },
    { kind: "setMaintenance", member: m(other), on: n % 2 === 1 },
    { kind: "removeMember", name: m(other) },
    { kind: "fenceLease", holder: m(other), generation: n, reason: "fenced" },
  ];
  return { advanceMs, scope, author, command: commands[kind]! };
});

function run(machine: DcsStateMachine, steps: readonly Step[], startIndex: number, startMs: number, observe?: (step: Step, before: Lease | null, events: readonly Event[], atMs: number) => void): number {
  let nowMs = startMs;
  steps.forEach((step, i) => {
    nowMs += step.advanceMs;
    const before = machine.state.scopes.get(step.scope)?.lease ?? null;
    const decision = machine.apply(encodeCommand({ scope: step.scope, author: step.author, command: step.command }), { index: startIndex + i + 1, term: 1, timeMs: nowMs });
    observe?.(step, before, E.isRight(decision) ? decision.right : [], nowMs);
  });
  return nowMs;
}

const T0 = 1_700_000_000_000;

t.test("replaying from any snapshot gives the same state as replaying from the start", async (t) => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), fc.nat(), (steps, cut) => {
    const k = cut % (steps.length + 1);
    const whole = new DcsStateMachine();
    run(whole, steps, 0, T0);
    const first = new DcsStateMachine();
    const at = run(first, steps.slice(0, k), 0, T0);
    const resumed = new DcsStateMachine();
    resumed.restore(first.snapshot());
    run(resumed, steps.slice(k), k, at);
    return Buffer.from(encodeState(resumed.state)).equals(Buffer.from(encodeState(whole.state)));
  }), { numRuns: 300 });
  t.pass("300 random histories");
});

t.test("the lease is never granted to another member before it expired or was released", async (t) => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), (steps) => {
    const machine = new DcsStateMachine();
    let ok = true;
    run(machine, steps, 0, T0, (_step, before, events, atMs) => {
      for (const event of events) {
        if (event.kind !== "leaseAcquired") continue;
        if (before !== null && before.holder !== event.holder && before.expiresAtMs > atMs) ok = false;
        if (before !== null && event.generation <= before.generation) ok = false;
      }
    });
    return ok;
  }), { numRuns: 400 });
  t.pass("400 random histories");
});

t.test("at any entry time there is at most one holder, and generations and config versions only grow", async (t) => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), (steps) => {
    const machine = new DcsStateMachine();
    const generations = new Map<Scope, number>();
    const versions = new Map<Scope, number>();
    let ok = true;
    run(machine, steps, 0, T0, (step, _before, events) => {
      for (const event of events) {
        if (event.kind === "leaseAcquired") {
          if (event.generation <= (generations.get(step.scope) ?? 0)) ok = false;
          generations.set(step.scope, event.generation);
        }
        if (event.kind === "configChanged") {
          if (event.version !== (versions.get(step.scope) ?? 0) + 1) ok = false;
          versions.set(step.scope, event.version);
        }
      }
    });
    return ok;
  }), { numRuns: 400 });
  t.pass("400 random histories");
});
