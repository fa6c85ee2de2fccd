/**
 * The net under apply(): an exception while applying a committed entry is a bug, but it must not
 * stop the node. The rules are consistent on a consistent state, so these tests break the state
 * the honest way a bug or a damaged snapshot would — a value no rule would have let in — and show
 * that the entry becomes an "internal" rejection, logged at error level with its index and the
 * command's kind, and that the state is left as it was.
 */
import { either as E } from "fp-ts";
import t from "tap";
import type { Event } from "../../src/dcs/events.js";
import { decisionFoldProblem } from "../../src/dcs/evolve.js";
import { emptyState, type MemberName, type Scope } from "../../src/dcs/model.js";
import { encodeState } from "../../src/dcs/snapshot.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { Driver, m, rejected, status } from "./fixtures.js";

const scopes = (d: Driver): string => Buffer.from(encodeState(d.machine.state)).toString("utf8").replace(/"nowMs":\d+,"appliedIndex":\d+,/, "");

t.test("a rule that throws on a state no rule would have made: the entry is a logged rejection, the state unchanged", async (t) => {
  const nodes = [0, 1, 2].map(() => {
    const logger = createRecordingLogger();
    const d = new Driver(logger);
    d.bootstrap();
    // A config stored without the rules (a bug elsewhere, or an old snapshot): a fractional
    // maximum_lag_on_failover, which the rules refuse. A failover's data-loss check converts it
    // to a BigInt, which throws a RangeError.
    const config = d.scope().config;
    d.scope().config = { version: config.version, value: { ...config.value, maximum_lag_on_failover: 1.5 } };
    return { d, logger };
  });
  const before = nodes.map(({ d }) => scopes(d));
  for (const { d, logger } of nodes) {
    const decision = d.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: false });
    t.match(rejected(decision), /^internal: applying entry 6 \(requestFailover in main\) failed inside raftgres: the rules threw RangeError: .*BigInt.*; the command was refused and the cluster state left as it was$/);
    const errors = logger.lines.filter((l) => l.level === "error");
    t.equal(errors.length, 1, "one line at error level");
    t.match(errors[0], { fields: { index: 6, command: "requestFailover", scope: "main" }, message: /^applying entry 6 \(requestFailover\) failed: the rules threw RangeError/ });
  }
  t.same(nodes.map(({ d }) => scopes(d)), before, "every node's state is as it was");
  for (const { d } of nodes) {
    t.equal(rejected(d.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: true })), "accepted", "the node goes on applying");
    t.equal(d.machine.state.appliedIndex, 7);
  }
  t.equal(new Set(nodes.map(({ d }) => Buffer.from(d.machine.snapshot()).toString("base64"))).size, 1, "and every node has the same state");
});

t.test("events that cannot be folded are refused whole, before the first is folded", async (t) => {
  const logger = createRecordingLogger();
  const d = new Driver(logger);
  d.bootstrap();
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  // A broken invariant: the highest generation granted is not a number. acquire() grants
  // NaN + 1, and evolve's assertion "lease generations only grow" would throw half-way.
  d.scope().leaseGeneration = Number.NaN;
  const before = scopes(d);
  const decision = d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 });
  t.match(rejected(decision), /^internal: applying entry 7 \(acquireLease in main\) failed inside raftgres: the rules decided events that cannot be folded: event 1 of 1 \(leaseAcquired\): lease generations only grow \(NaN after NaN\)/);
  t.match(logger.lines, [{ level: "error", fields: { index: 7, command: "acquireLease" } }]);
  t.equal(scopes(d), before, "the lease was not granted");
  t.equal(d.scope().lease, null);
});

t.test("decisionFoldProblem walks a decision's events in order, over the state as they leave it", async (t) => {
  const state = emptyState();
  const scope = "main" as Scope;
  const holder = "pg1" as MemberName;
  const acquired: Event = { kind: "leaseAcquired", holder, ttlMs: 5000, expiresAtMs: 5000, generation: 1 };
  const renewed: Event = { kind: "leaseRenewed", holder, ttlMs: 5000, expiresAtMs: 6000, generation: 1 };
  const config = (version: number): Event => ({ kind: "configChanged", version, config: {}, patch: {}, author: "api" });
  const initialized: Event = { kind: "clusterInitialized", by: holder, systemId: "" };
  t.equal(decisionFoldProblem(state, scope, [acquired, renewed]), null, "a renewal of the lease the same decision granted");
  t.equal(decisionFoldProblem(state, scope, [config(1), config(2)]), null);
  t.match(decisionFoldProblem(state, scope, [config(1), config(3)]), /^event 2 of 2 \(configChanged\): config versions grow by one \(3 after 1\)/);
  t.match(decisionFoldProblem(state, scope, [renewed]), /renewing a lease that is not held/);
  t.match(decisionFoldProblem(state, scope, [initialized, initialized]), /^event 2 of 2 \(clusterInitialized\): initialized twice/);
  t.match(decisionFoldProblem(state, scope, [acquired, { ...acquired, holder: "pg2" as MemberName }]), /lease generations only grow \(1 after 1\)/);
  t.match(decisionFoldProblem(state, scope, [{ kind: "systemIdRecorded", systemId: "1" }]), /system id before initialization/);
  const full = { ...state, limits: { ...state.limits, scopesMax: 0 } };
  t.match(decisionFoldProblem(full, scope, [acquired]), /one over the limit of 0/);
});

t.test("a subscriber that throws is logged; the entry is applied and the answer unchanged", async (t) => {
  const logger = createRecordingLogger();
  const d = new Driver(logger);
  d.machine.subscribe(() => {
    throw new Error("a bug in a subscriber");
  });
  const decision = d.run("pg1", { kind: "upsertMember", status: status("pg1") });
  t.ok(E.isRight(decision), "accepted");
  t.ok(d.scope().members.has(m("pg1")), "applied");
  t.match(logger.lines, [{ level: "error", fields: { index: 1, error: "Error: a bug in a subscriber" } }]);
});
