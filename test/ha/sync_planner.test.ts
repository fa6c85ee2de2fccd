/**
 * Synchronous replication, pure parts: the promotion guarantee of a SyncState, the names
 * PostgreSQL is given, and the primary's state machine walked step by step on a real DCS state
 * machine (each step's command applied before the next decision).
 */
import t from "tap";
import type { JsonObject } from "../../src/dcs/json.js";
import type { Lsn, MemberName, SyncState } from "../../src/dcs/model.js";
import { syncModeOf, syncModeProblem, syncPromotionProblem } from "../../src/dcs/sync_mode.js";
import type { Action } from "../../src/ha/actions.js";
import { decide } from "../../src/ha/decide.js";
import type { HaMemory } from "../../src/ha/input.js";
import type { WalSender } from "../../src/ha/observation.js";
import { formatSyncNames, parseSyncNames, placeholder } from "../../src/ha/sync_names.js";
import { prePromoteSyncActions, syncActions } from "../../src/ha/sync_planner.js";
import { Driver, heldLease, input, m, pg, PRIMARY, STEADY_MEMORY, status, summary } from "./fixtures.js";

const sync = (leader: string | null, standbys: string[], quorum: number): SyncState => ({ version: 1, leader: leader === null ? null : m(leader), standbys: standbys.map(m), quorum });
const at = (name: string, position: bigint, fresh = true) => ({ name: m(name), position, fresh });

t.test("the promotion guarantee: who may be promoted without losing an acknowledged commit", async (t) => {
  t.equal(syncPromotionProblem(sync(null, [], 0), true, m("pg2"), 0n, []), null, "no leader recorded: nothing claimed");
  t.equal(syncPromotionProblem(sync("pg1", ["pg2"], 1), false, m("pg1"), 0n, []), null, "the last primary itself holds everything");
  t.match(syncPromotionProblem(sync("pg1", [], 0), false, m("pg3"), 99n, [at("pg2", 0n)]), /pg1 last ran without a synchronous standby/, "non-strict, gone asynchronous: nobody but the last primary (Patroni's guarantee)");
  t.match(syncPromotionProblem(sync("pg1", [], 0), true, m("pg3"), 0n, []), /strict/, "strict: nothing known, nobody but the last primary");
  const priority = sync("pg1", ["pg2"], 1);
  t.equal(syncPromotionProblem(priority, false, m("pg2"), 10n, []), null, "the synchronous standby");
  t.equal(syncPromotionProblem(priority, false, m("pg3"), 10n, [at("pg2", 10n)]), null, "a replica at least as far as the synchronous standby");
  t.match(syncPromotionProblem(priority, false, m("pg3"), 9n, [at("pg2", 10n)]), /pg3 is not a synchronous standby; 1 of the synchronous standbys pg2 must be known to be no further than pg3/, "one behind it");
  t.match(syncPromotionProblem(priority, false, m("pg3"), 10n, [at("pg2", 10n, false)]), /only 0 are \(not: pg2\)/, "one compared to a stale report");
  const quorum = sync("pg1", ["pg2", "pg3", "pg4"], 2);
  t.equal(syncPromotionProblem(quorum, false, m("pg2"), 10n, [at("pg3", 10n), at("pg4", 99n, false)]), null, "quorum: two of three voters known no further (itself and pg3)");
  t.match(syncPromotionProblem(quorum, false, m("pg2"), 10n, [at("pg3", 11n), at("pg4", 9n, false)]), /2 of the synchronous standbys .* only 1 are/, "quorum: the others ahead or unknown");
  t.equal(syncPromotionProblem(sync("pg1", ["pg2"], 1), false, m("pg5"), 10n, [at("pg2", 3n)]), null, "a non-voter further than every voter that counts");
});

t.test("synchronous settings: values Patroni accepts, and the ones refused", async (t) => {
  const mode = (value: JsonObject) => syncModeOf({ version: 1, value });
  t.same(mode({}), { mode: "off", strict: false, nodeCount: 1, minimum: 0 });
  t.same(mode({ synchronous_mode: true }), { mode: "on", strict: false, nodeCount: 1, minimum: 0 });
  t.same(mode({ synchronous_mode: "quorum", synchronous_node_count: 2, synchronous_mode_strict: true }), { mode: "quorum", strict: true, nodeCount: 2, minimum: 1 });
  t.same(mode({ synchronous_mode: "on", synchronous_mode_strict: true, synchronous_node_count: 3, minimum_synchronous_nodes: 2 }).minimum, 2);
  t.match(syncModeProblem({ synchronous_mode: "sometimes" }), /must be off, on or quorum/);
  t.match(syncModeProblem({ synchronous_node_count: 0 }), /at least 1/);
  t.match(syncModeProblem({ synchronous_mode_strict: "yes" }), /true or false/);
  t.equal(syncModeProblem({ synchronous_mode: "quorum", synchronous_node_count: 2 }), null);
});

t.test("synchronous_standby_names round-trips; anything else is not ours", async (t) => {
  for (const names of [{ kind: "priority" as const, count: 1, names: ["pg2"] }, { kind: "quorum" as const, count: 2, names: ["a", 'we"ird', "c"] }, { kind: "priority" as const, count: 1, names: [placeholder(0)] }]) {
    const text = formatSyncNames(names);
    t.same(parseSyncNames(text), names, text);
  }
  t.equal(formatSyncNames({ kind: "priority", count: 0, names: [] }), "");
  t.equal(parseSyncNames("*"), null);
  t.equal(parseSyncNames("2 (a, b)"), null);
});

/** A primary pg1 with pg2 and pg3 streaming from it, and the config given. */
function primaryCluster(config: JsonObject): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: config });
  return d;
}

const streaming = (name: string, flush: bigint): WalSender => ({ name, state: "streaming", flushLsn: flush as Lsn });

/** The primary pg1 of `d`, running with `names`, the given senders and memory. */
function step(d: Driver, names: string, senders: WalSender[], memory: HaMemory): Action[] {
  return syncActions(input(d, "pg1", { pg: { ...PRIMARY, syncStandbyNames: names, senders }, lease: heldLease(1), memory }));
}

/** Applies a setSyncState the planner asked for, as the executor would. */
function apply(d: Driver, actions: Action[]): string {
  const action = actions[0];
  if (action?.kind !== "dcs" || action.command.kind !== "setSyncState") throw new Error(`expected a setSyncState, got ${JSON.stringify(summary(actions))}`);
  d.ok("pg1", action.command);
  const s = d.scope().sync;
  return `${s.leader}:${s.standbys.join(",")}/${s.quorum}`;
}

const applied = (value: string | null, lsn: bigint | null): HaMemory => ({ ...STEADY_MEMORY, syncApplied: { value, atMs: 0, lsn } });

t.test("priority mode: a standby is added, replaced when it dies, and the claim never runs ahead of PostgreSQL", async (t) => {
  const d = primaryCluster({ synchronous_mode: "on" });
  const both = [streaming("pg2", 5000n), streaming("pg3", 5000n)];
  t.same(summary(step(d, "", both, { ...STEADY_MEMORY, syncApplied: null })), ["ssn:"], "first it adopts what PostgreSQL runs with");
  t.equal(apply(d, step(d, "", both, applied("", 0n))), "pg1:/0", "then records itself as the leader with nothing claimed");
  const first = 'FIRST 1 ("pg2")';
  t.same(summary(step(d, "", both, applied("", 0n))), [`ssn:${first}`], "PostgreSQL first: the empty claim holds for any setting");
  t.same(step(d, first, both, applied(first, null)), [], "settling: every walsender must have the new setting");
  t.same(step(d, first, [streaming("pg2", 4999n), streaming("pg3", 5000n)], applied(first, 5000n)), [], "pg2 has not yet flushed past the position seen after it settled");
  t.equal(apply(d, step(d, first, both, applied(first, 5000n))), "pg1:pg2/1", "then pg2 is claimed synchronous");
  t.same(step(d, first, both, applied(first, 5000n)), [], "steady");

  const pg3Only = [streaming("pg3", 6000n)];
  t.equal(apply(d, step(d, first, pg3Only, applied(first, 5000n))), "pg1:pg2,pg3/1", "pg2 died: the claim widens first (a commit may be on pg2 alone)");
  const second = 'FIRST 1 ("pg3")';
  t.same(summary(step(d, first, pg3Only, applied(first, 5000n))), [`ssn:${second}`], "then PostgreSQL waits for pg3 instead");
  t.equal(apply(d, step(d, second, pg3Only, applied(second, 6000n))), "pg1:pg3/1", "and the claim narrows to pg3 once it holds everything");

  t.equal(apply(d, step(d, second, [], applied(second, 6000n))), "pg1:pg3/0", "no standby left (non-strict): the claim drops before PostgreSQL goes asynchronous");
  t.same(summary(step(d, second, [], applied(second, 6000n))), ["ssn:"]);
  t.equal(apply(d, step(d, "", [], applied("", 7000n))), "pg1:/0", "asynchronous, and the state says so");

  const d2 = primaryCluster({ synchronous_mode: "on" });
  d2.ok("pg2", { kind: "upsertMember", status: status("pg2", { tags: { ...d2.scope().members.get(m("pg2"))!.tags, nosync: true } }) });
  apply(d2, step(d2, "", both, applied("", 0n)));
  t.same(summary(step(d2, "", both, applied("", 0n))), ['ssn:FIRST 1 ("pg3")'], "a nosync member is never chosen");
});

t.test("synchronous mode turned off: the state records no leader, so nothing holds a failover back", async (t) => {
  const d = primaryCluster({ synchronous_mode: "on" });
  d.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [], quorum: 0 });
  t.match(syncPromotionProblem(d.scope().sync, false, m("pg2"), 10n, []), /pg1 last ran without a synchronous standby/, "on, asynchronous: held back");
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "off" } });
  t.equal(apply(d, step(d, "", [], applied(null, 0n))), "null:/0", "off: the leader is cleared");
  t.same(step(d, "", [], applied(null, 0n)), [], "and stays so");
  t.equal(syncPromotionProblem(d.scope().sync, false, m("pg2"), 10n, []), null, "turned on again, nothing is claimed until the primary claims it");
});

t.test("strict mode keeps the standbys listed (commits wait); quorum mode lists every streaming standby", async (t) => {
  const d = primaryCluster({ synchronous_mode: "on", synchronous_mode_strict: true });
  const first = 'FIRST 1 ("pg2")';
  d.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  t.same(step(d, first, [], applied(first, 5000n)), [], "pg2 gone and nobody else: it stays listed, nothing is claimed away");
  t.same(summary(step(d, first, [streaming("pg3", 1n)], applied(first, 5000n))).length, 1, "a new standby streams: the step towards it starts");
  t.same(summary(step(d, "", [], applied("", 0n))), [`ssn:FIRST 1 ("${placeholder(0)}")`], "strict and never a standby: a placeholder, so commits wait");

  const q = primaryCluster({ synchronous_mode: "quorum", synchronous_node_count: 1 });
  apply(q, step(q, "", [], applied("", 0n)));
  const three = [streaming("pg2", 1n), streaming("pg3", 1n)];
  t.same(summary(step(q, "", three, applied("", 0n))), ['ssn:ANY 1 ("pg2", "pg3")'], "quorum: ANY 1 of both");
  const any = 'ANY 1 ("pg2", "pg3")';
  t.equal(apply(q, step(q, any, three, applied(any, 1n))), "pg1:pg2,pg3/1");
  t.same(summary(step(q, any, [streaming("pg2", 2n)], applied(any, 1n))), ['ssn:ANY 1 ("pg2")'], "pg3 died: PostgreSQL stops waiting for it at once (the claim already covers pg2 alone)");
});

t.test("before a promotion: the names for the first commits, then the claim taken over", async (t) => {
  const d = primaryCluster({ synchronous_mode: "on" });
  d.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  d.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 });
  const as = (names: string, memory: HaMemory) => prePromoteSyncActions(input(d, "pg2", { pg: pg({ syncStandbyNames: names }), memory, lease: heldLease(2) }));
  t.same(summary(as("", { ...STEADY_MEMORY, syncApplied: null })!), ["ssn:"], "non-strict: asynchronous until standbys stream from it");
  const take = as("", applied("", null))!;
  t.same(summary(take), ["dcs:setSyncState"]);
  d.ok("pg2", (take[0] as Extract<Action, { kind: "dcs" }>).command);
  t.same(d.scope().sync.leader, "pg2", "the claim is taken over before the promotion");
  t.equal(d.scope().sync.quorum, 0, "pg2 was the only synchronous standby: the old commits are on it alone");
  t.equal(as("", applied("", null)), null, "then it may promote");
  const promote = decide(input(d, "pg2", { pg: pg({ syncStandbyNames: "" }), memory: applied("", null), lease: heldLease(2) }));
  t.same(summary(promote.actions), ["dcs:renewLease", "promote"]);

  const s = primaryCluster({ synchronous_mode: "on", synchronous_mode_strict: true });
  s.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  s.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  s.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 });
  const strict = prePromoteSyncActions(input(s, "pg2", { pg: pg({ syncStandbyNames: "" }), memory: applied("", null) }));
  t.same(summary(strict!), [`ssn:FIRST 1 ("${placeholder(0)}")`], "strict: writes wait for a standby from the first commit");
});

t.test("the race in synchronous mode: only a member the synchronous state vouches for", async (t) => {
  const d = primaryCluster({ synchronous_mode: "on" });
  d.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg3")], quorum: 1 });
  d.advance(31_000);
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { state: "running", walReceived: 1000n as Lsn }) });
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { state: "running", walReceived: 1000n as Lsn }) });
  const pg2 = decide(input(d, "pg2", { pg: pg({ walReceived: 1000n as Lsn }) }));
  t.same(summary(pg2.actions), ["dcs:acquireLease"], "pg2, known to be as far as the synchronous standby pg3, holds every commit too (and goes first by name)");
  const pg3 = decide(input(d, "pg3", { pg: pg({ walReceived: 1000n as Lsn }) }));
  t.match(pg3.reason, /pg2 has the same WAL and priority, and goes first by name/);
  t.same(summary(decide(input(d, "pg3", { pg: pg({ walReceived: 1001n as Lsn }) })).actions), ["dcs:acquireLease"], "the synchronous standby races when it is further");
  d.advance(1000);
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { state: "running", walReceived: 1000n as Lsn }) });
  const stale = decide(input(d, "pg2", { pg: pg({ walReceived: 1000n as Lsn }) }));
  t.match(stale.reason, /synchronous_mode on: pg2 is not a synchronous standby/, "with pg3's report stale, pg2 cannot know it holds every commit");
  const lagging = primaryCluster({ synchronous_mode: "on", maximum_lag_on_failover: 10 });
  lagging.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg3")], quorum: 1 });
  lagging.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", walWritten: 999_999n as Lsn, walReceived: null, walReplayed: null }) });
  lagging.advance(31_000);
  lagging.ok("pg3", { kind: "upsertMember", status: status("pg3", { state: "running" }) });
  t.same(summary(decide(input(lagging, "pg3", { pg: pg() })).actions), ["dcs:acquireLease"], "the synchronous standby is not held back by the primary's unconfirmed WAL");
});
