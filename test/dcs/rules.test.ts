import { either as E } from "fp-ts";
import t from "tap";
import type { Lsn } from "../../src/dcs/model.js";
import type { JsonObject } from "../../src/dcs/json.js";
import { encodeState } from "../../src/dcs/snapshot.js";
import { Driver, m, rejected, SCOPE, status } from "./fixtures.js";
import { rawAcquireLease, rawSetConfig } from "./wire.js";

t.test("exactly one member initializes a cluster; it alone records the system id", async (t) => {
  const d = new Driver();
  t.equal(rejected(d.run("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "" })), "accepted");
  t.match(rejected(d.run("pg2", { kind: "initializeCluster", member: m("pg2"), systemId: "" })), /^alreadyInitialized: main was initialized by pg1 \(its bootstrap is still running\)/);
  t.equal(rejected(d.run("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "7301" })), "accepted");
  t.same(d.scope().initialization, { by: "pg1", systemId: "7301", atMs: d.nowMs });
  t.equal(rejected(d.run("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "7301" })), "accepted", "a retry is accepted and changes nothing");
  t.match(rejected(d.run("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "9999" })), /^alreadyInitialized: .*system id 7301/);
});

t.test("the lease goes to the first asker, is renewed only by its holder before expiry, and changes generation with every new grant", async (t) => {
  const d = new Driver();
  d.bootstrap();
  t.equal(d.scope().lease?.generation, 1);
  t.match(rejected(d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 })), /^leaseHeld: pg1 holds the lease until .*\(generation 1\)/);
  t.match(rejected(d.run("pg2", { kind: "renewLease", member: m("pg2"), ttlMs: 30_000, generation: 1 })), /^notLeaseHolder: pg1 holds the lease, not pg2/);
  t.match(rejected(d.run("pg3", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 })), /^notAuthor/, "nobody acts for another member");
  d.advance(29_999);
  t.equal(rejected(d.run("pg1", { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 1 })), "accepted", "renewal just before expiry");
  t.equal(d.scope().lease?.expiresAtMs, d.nowMs + 30_000);
  t.match(rejected(d.run("pg1", { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 7 })), /^staleGeneration/);
  d.advance(30_000);
  t.match(rejected(d.run("pg1", { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 1 })), /^leaseExpired: the lease expired at/);
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  t.equal(rejected(d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 })), "accepted", "an expired lease can be taken");
  t.equal(d.scope().lease?.holder, "pg2");
  t.equal(d.scope().lease?.generation, 2, "a new holder gets a new fencing generation");
  t.match(rejected(d.run("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 })), /^notLeaseHolder: pg1 does not hold the lease of main \(pg2 does\)/);
  t.equal(rejected(d.run("pg2", { kind: "releaseLease", member: m("pg2"), generation: 2 })), "accepted");
  t.equal(d.scope().lease, null);
  t.equal(rejected(d.run("pg3", { kind: "acquireLease", member: m("pg3"), ttlMs: 30_000 })), "accepted", "a released lease can be taken at once");
  t.equal(d.scope().lease?.generation, 3);
});

t.test("a candidate whose WAL is off the last holder's history is refused the lease, whatever it saw; the takeover point survives a snapshot", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.advance(31_000);
  // pg2 takes over at 0/1000 on timeline 1 (and promotes there: timeline 2 may never be recorded).
  const at = (timeline: number, lsn: bigint) => ({ timeline, lsn: lsn as Lsn });
  t.equal(rejected(d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 5_000, position: at(1, 0x1000n) })), "accepted");
  t.same(d.scope().takeover, { holder: "pg2", generation: 2, timeline: 1, lsn: 0x1000n });
  const restored = new Driver();
  t.ok(E.isRight(restored.restore(encodeState(d.machine.state))), "a snapshot with the takeover point restores");
  t.same(restored.scope().takeover, d.scope().takeover);
  d.advance(6_000);
  t.match(rejected(d.run("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 5_000, position: at(1, 0x1001n) })), /^offHistory: pg1's WAL goes on to 0\/1001 on timeline 1, past where pg2 took over at 0\/1000 on timeline 1 \(generation 2\)/, "the former primary that went on writing");
  d.advance(6_000);
  t.equal(rejected(d.run("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 5_000, position: at(2, 0x2000n) })), "accepted", "one that follows the new timeline may");
  t.same(d.scope().takeover, { holder: "pg1", generation: 3, timeline: 2, lsn: 0x2000n });
  d.advance(6_000);
  t.match(rejected(d.run("pg3", { kind: "acquireLease", member: m("pg3"), ttlMs: 5_000, position: at(1, 0x800n) })), /^offHistory: pg3 is on timeline 1, behind where pg1 took over at 0\/2000 on timeline 2/, "one still on an earlier timeline may not");
  t.equal(rejected(d.run("pg3", { kind: "acquireLease", member: m("pg3"), ttlMs: 5_000 })), "accepted", "a request that says nothing is not checked (an older agent)");
  t.equal(d.scope().takeover, null, "and leaves no takeover point");
});

t.test("the takeover point goes when its holder records where it promoted; a failover allowed to lose data overrides it", async (t) => {
  const at = (timeline: number, lsn: bigint) => ({ timeline, lsn: lsn as Lsn });
  const d = new Driver();
  d.bootstrap();
  d.advance(31_000);
  t.equal(rejected(d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 5_000, position: at(1, 0x1000n) })), "accepted");
  d.ok("pg2", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 0x1000n as Lsn, reason: "failover", newPrimary: m("pg2") });
  t.equal(d.scope().takeover, null, "the recorded fork replaces it");

  const f = new Driver();
  f.bootstrap();
  f.advance(31_000);
  t.equal(rejected(f.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 5_000, position: at(1, 0x1000n) })), "accepted");
  f.advance(6_000);
  f.ok("pg3", { kind: "upsertMember", status: status("pg3", { walReceived: 0x2000n as Lsn, walReplayed: 0x2000n as Lsn }) });
  const past = { kind: "acquireLease" as const, member: m("pg3"), ttlMs: 5_000, position: at(1, 0x2000n) };
  t.match(rejected(f.run("pg3", past)), /^offHistory: .*\(failover --allow-data-loss to it overrides this\)$/);
  t.equal(rejected(f.run("api:alice", { kind: "requestFailover", to: m("pg3"), allowDataLoss: true })), "accepted");
  t.equal(rejected(f.run("pg3", past)), "accepted", "the operator chose to lose what pg2 wrote");
});

t.test("a member relays a fence report: the holder's lease of that generation is released at once", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  const fence = (generation: number) => ({ kind: "fenceLease" as const, holder: m("pg1"), generation, reason: "watchdog of pg1: agent exited" });
  t.match(rejected(d.run("api:op", fence(1))), /^unknownMember: api:op is not a member of main/, "only members relay fence reports");
  t.match(rejected(d.run("pg2", fence(7))), /^staleGeneration: the lease is at generation 1; the fence report is for generation 7/);
  t.match(rejected(d.run("pg2", { ...fence(1), holder: m("pg2") })), /^notLeaseHolder: pg2 does not hold the lease of main \(pg1 does\)/);
  t.equal(rejected(d.run("pg2", fence(1))), "accepted");
  t.equal(d.scope().lease, null, "released before its expiry");
  t.equal(rejected(d.run("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 })), "accepted", "another member may take it at once");
  t.match(rejected(d.run("pg2", fence(1))), /^notLeaseHolder/, "a late report of the old holder releases nothing");
});

t.test("the lease needs an initialized cluster, a known member and a sane ttl", async (t) => {
  const d = new Driver();
  d.ok("pg1", { kind: "upsertMember", status: status("pg1") });
  t.match(rejected(d.run("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 })), /^notInitialized/);
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "1" });
  t.match(rejected(d.run("pg9", { kind: "acquireLease", member: m("pg9"), ttlMs: 30_000 })), /^unknownMember: pg9 must report its status/);
  t.match(rejected(d.run("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 10 })), /^invalid: the lease ttl in ms must be an integer from 3000 to 3600000, got 10$/, "refused before it is sent");
  t.match(rejected(d.apply(rawAcquireLease("pg1", 10))), /^invalid: invalid command: the lease ttl in ms must be an integer from 3000 to 3600000, got 10$/, "and by every node when it is in the log");
  t.equal(d.scope().lease, null);
});

t.test("config changes are compare-and-set on the version, with a merge patch, and kept in history", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:alice", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 20, postgresql: { parameters: { max_connections: 100, work_mem: "4MB" } } } });
  t.match(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 25 } })), /^versionConflict: the config of main is at version 1, not 0/);
  d.advance(1000);
  d.ok("api:bob", { kind: "setConfig", expectedVersion: 1, mode: "patch", value: { postgresql: { parameters: { work_mem: null, max_connections: 200 } } } });
  t.same(d.scope().config, { version: 2, value: { ttl: 20, postgresql: { parameters: { max_connections: 200 } } } });
  t.same(d.scope().configHistory.map((h) => [h.version, h.author, h.patch]), [
    [1, "api:alice", { ttl: 20, postgresql: { parameters: { max_connections: 100, work_mem: "4MB" } } }],
    [2, "api:bob", { postgresql: { parameters: { max_connections: 200, work_mem: null } } }],
  ]);
  t.equal(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { ttl: 20 } })), "accepted", "a change that changes nothing is accepted");
  t.equal(d.scope().config.version, 2, "and does not bump the version");
  t.match(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { ttl: -1 } })), /^invalid: ttl must be a number of seconds from 3 to 3600, got -1$/);
  d.ok("api:bob", { kind: "setConfig", expectedVersion: 2, mode: "replace", value: { ttl: 15 } });
  t.same(d.scope().config.value, { ttl: 15 }, "replace swaps the whole config");
});

t.test("a switchover is refused with the reason of every candidate when nobody can take over", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", walWritten: 50_000_000n as Lsn, walReceived: null, walReplayed: null }) });
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { walReceived: 1000n as Lsn }) });
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { state: "creating replica" }) });
  const decision = d.run("api:alice", { kind: "requestSwitchover", from: m("pg1"), to: null, scheduledAtMs: null });
  t.ok(E.isLeft(decision));
  if (E.isLeft(decision)) {
    t.equal(decision.left.code, "noCandidate");
    t.same(decision.left.candidates, [
      { member: "pg2", reason: "pg2 is 49999000 bytes behind the primary (maximum_lag_on_failover is 1048576)" },
      { member: "pg3", reason: "pg3 is not streaming (state: creating replica)" },
    ]);
  }
  t.match(rejected(d.run("api:alice", { kind: "requestSwitchover", from: null, to: m("pg9"), scheduledAtMs: null })), /^noCandidate: cannot switch over to pg9: pg9 is not a member/);
  t.match(rejected(d.run("api:alice", { kind: "requestSwitchover", from: null, to: m("pg1"), scheduledAtMs: null })), /^alreadyPrimary: cannot switch over to pg1: pg1 is already the primary/);
  t.match(rejected(d.run("api:alice", { kind: "requestSwitchover", from: m("pg2"), to: null, scheduledAtMs: null })), /^notPrimary: pg2 is not the primary of main; pg1 is/);
});

t.test("a switchover to a healthy replica is recorded and cleared when it takes the lease", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:alice", { kind: "requestSwitchover", from: m("pg1"), to: m("pg2"), scheduledAtMs: null });
  t.match(d.scope().pending, { kind: "switchover", from: "pg1", to: "pg2", requestedBy: "api:alice" });
  t.match(rejected(d.run("api:bob", { kind: "requestSwitchover", from: null, to: m("pg3"), scheduledAtMs: null })), /^switchoverPending: a switchover to pg2 is already pending \(requested by api:alice\)/);
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  const taken = d.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 30_000 });
  t.same(E.isRight(taken) ? taken.right.map((e) => e.kind) : [], ["leaseAcquired", "switchoverCleared"]);
  t.equal(d.scope().pending, null);
  t.match(rejected(d.run("api:bob", { kind: "cancelSwitchover" })), /^noSwitchoverPending/);
});

t.test("a failover needs no primary and ignores lag, but still a live, willing target", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { tags: { nofailover: true, failoverPriority: 1, nosync: false, noloadbalance: false, clonefrom: false, replicatefrom: null } }) });
  d.advance(40_000);
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { walReceived: 1n as Lsn }) });
  t.match(rejected(d.run("api:alice", { kind: "requestFailover", to: m("pg3"), allowDataLoss: false })), /pg3 has not reported for 40 s/);
  t.equal(rejected(d.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: false })), "accepted");
  t.match(d.scope().pending, { kind: "failover", from: null, to: "pg2" });
});

t.test("a failover to a target that may lack acknowledged commits needs allowDataLoss", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:op", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { maximum_lag_on_failover: 10 } });
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { walReceived: 500n as Lsn, walReplayed: 500n as Lsn }) });
  t.match(rejected(d.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: false })), /pg2 is 500 bytes behind the primary's last reported position .* use --allow-data-loss/);
  t.equal(rejected(d.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: true })), "accepted");
  t.equal(d.scope().pending?.allowDataLoss, true, "the request carries the permission to the race");

  const s = new Driver();
  s.bootstrap();
  s.ok("api:op", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "on" } });
  s.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg3")], quorum: 1 });
  s.ok("pg3", { kind: "upsertMember", status: status("pg3", { walReceived: 1000n as Lsn }) });
  s.ok("pg2", { kind: "upsertMember", status: status("pg2", { walReceived: 999n as Lsn, walReplayed: 999n as Lsn }) });
  t.match(rejected(s.run("api:alice", { kind: "requestFailover", to: m("pg2"), allowDataLoss: false })), /pg2 is not a synchronous standby/);
  t.equal(rejected(s.run("api:alice", { kind: "requestFailover", to: m("pg3"), allowDataLoss: false })), "accepted", "the synchronous standby may be chosen");
  t.match(rejected(s.run("api:op", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "always" } })), /synchronous_mode must be off, on or quorum/);
});

t.test("members report only their own status, and a lease holder cannot be removed", async (t) => {
  const d = new Driver();
  d.bootstrap();
  t.match(rejected(d.run("pg2", { kind: "upsertMember", status: status("pg3") })), /^notAuthor: pg2 cannot report the status of pg3/);
  t.match(rejected(d.run("api:alice", { kind: "removeMember", name: m("pg1") })), /^leaseHeld: pg1 holds the leader lease/);
  t.equal(rejected(d.run("api:alice", { kind: "removeMember", name: m("pg3") })), "accepted");
  t.notOk(d.scope().members.has(m("pg3")));
});

t.test("the synchronous standby set is the primary's to set, with known, distinct standbys", async (t) => {
  const d = new Driver();
  d.bootstrap();
  t.match(rejected(d.run("pg2", { kind: "setSyncState", expectedVersion: 0, leader: m("pg2"), standbys: [m("pg3")], quorum: 0 })), /^notLeaseHolder: only the primary sets/);
  t.match(rejected(d.run("pg1", { kind: "setSyncState", expectedVersion: 0, leader: m("pg1"), standbys: [m("pg9")], quorum: 0 })), /^unknownMember/);
  t.match(rejected(d.run("pg1", { kind: "setSyncState", expectedVersion: 0, leader: m("pg1"), standbys: [m("pg2")], quorum: 2 })), /^invalid: a quorum of 2/);
  d.ok("pg1", { kind: "setSyncState", expectedVersion: 0, leader: m("pg1"), standbys: [m("pg3"), m("pg2")], quorum: 1 });
  t.same(d.scope().sync, { version: 1, leader: "pg1", standbys: ["pg2", "pg3"], quorum: 1 });
  t.match(rejected(d.run("pg1", { kind: "setSyncState", expectedVersion: 0, leader: m("pg1"), standbys: [], quorum: 0 })), /^versionConflict/);
});

t.test("timelines only move forward in the primary history; pause and maintenance are idempotent switches", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  d.ok("pg2", { kind: "recordTimeline", timeline: 2, lsn: 50_331_808n as Lsn, reason: "failover", newPrimary: m("pg2") });
  t.match(rejected(d.run("pg1", { kind: "recordTimeline", timeline: 2, lsn: 1n as Lsn, reason: "manual", newPrimary: m("pg1") })), /^timelineNotNewer/);
  t.same(d.scope().primaryHistory.map((h) => [h.timeline, h.reason, h.newPrimary]), [[1, "bootstrap", "pg1"], [2, "failover", "pg2"]]);
  t.match(rejected(d.run("pg3", { kind: "recordTimeline", timeline: 3, parent: 3, lsn: 60_000_000n as Lsn, reason: "failover", newPrimary: m("pg3") })), /^invalid: timeline 3 cannot branch off timeline 3/);
  d.ok("pg3", { kind: "recordTimeline", timeline: 3, parent: 2, lsn: 60_000_000n as Lsn, reason: "failover", newPrimary: m("pg3") });
  t.same(d.scope().primaryHistory.map((h) => h.parent), [undefined, undefined, 2], "the parent is kept when recorded");
  const paused = d.ok("api:alice", { kind: "setPause", paused: true });
  t.equal(E.isRight(paused) ? paused.right.length : -1, 1);
  const again = d.ok("api:alice", { kind: "setPause", paused: true });
  t.equal(E.isRight(again) ? again.right.length : -1, 0, "pausing twice changes nothing");
  d.ok("api:alice", { kind: "setMaintenance", member: m("pg3"), on: true });
  t.ok(d.scope().maintenance.has(m("pg3")));
  t.match(rejected(d.run("api:alice", { kind: "requestSwitchover", from: null, to: m("pg3"), scheduledAtMs: null })), /pg3 is in maintenance/);
});

t.test("scopes are independent: one DCS serves several clusters", async (t) => {
  const d = new Driver();
  d.bootstrap();
  const other = "analytics" as typeof SCOPE;
  d.bootstrap(other);
  t.equal(d.scope().lease?.holder, "pg1");
  t.equal(d.scope(other).lease?.holder, "pg1");
  d.ok("api:alice", { kind: "setPause", paused: true }, other);
  t.equal(d.scope().paused, false);
  t.equal(d.scope(other).paused, true);
});

t.test("malformed or unknown commands are refused deterministically, never thrown", async (t) => {
  const d = new Driver();
  d.index++;
  const decision = d.machine.apply(new Uint8Array([1, 2, 3]), { index: d.index, term: 1, timeMs: d.nowMs });
  t.match(rejected(decision), /^invalid: malformed command/);
  d.index++;
  const newer = d.machine.apply(new Uint8Array([9, 0, 0, 0, 0]), { index: d.index, term: 1, timeMs: d.nowMs });
  t.match(rejected(newer), /schema 9 is newer than this node understands/);
});

t.test("the config keeps Patroni's HA timing rule and the postgresql section's shape; a refusal names the key and the rule", async (t) => {
  const d = new Driver();
  d.bootstrap();
  d.ok("api:alice", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { maximum_lag_on_failover: 1024 } });
  const before = Buffer.from(encodeState(d.machine.state)).toString("utf8").replace(/"nowMs":\d+,"appliedIndex":\d+,/, "");
  const refused: [JsonObject, RegExp][] = [
    [{ loop_wait: "x" }, /^invalid: loop_wait must be a number of seconds from 0\.1 to 600, got "x"$/],
    [{ retry_timeout: 0 }, /^invalid: retry_timeout must be a number of seconds from 0\.5 to 1800, got 0$/],
    [{ ttl: 100000 }, /^invalid: ttl must be a number of seconds from 3 to 3600, got 100000$/],
    [{ ttl: 3 }, /^invalid: loop_wait 1 s \+ 2 × retry_timeout 2 s = 5 s exceeds ttl 3 s: the rule is loop_wait \+ 2 × retry_timeout ≤ ttl \(a key not given counts with its default\)$/],
    [{ ttl: 1, loop_wait: 0 }, /^invalid: ttl must be .* got 1; loop_wait must be .* got 0$/],
    [{ maximum_lag_on_failover: 1.5 }, /^invalid: maximum_lag_on_failover must be an integer of bytes from 0 to \d+, got 1\.5$/],
    [{ primary_start_timeout: -1 }, /^invalid: primary_start_timeout must be a number of seconds/],
    [{ postgresql: "x" }, /^invalid: postgresql must be an object \(such as \{"parameters": \{"work_mem": "16MB"\}\}\), got "x"$/],
    [{ postgresql: { parameters: [1] } }, /^invalid: postgresql\.parameters must be an object of parameter names and values, got \[1\]$/],
    [{ postgresql: { parameters: { work_mem: { a: 1 } } } }, /^invalid: postgresql\.parameters\.work_mem must be a string, a number or a boolean, got \{"a":1\}$/],
  ];
  for (const [value, expected] of refused) {
    t.match(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value })), expected, JSON.stringify(value));
  }
  t.match(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "replace", value: { postgresql: { parameters: { work_mem: null } } } })), /postgresql\.parameters\.work_mem must be a string, a number or a boolean, got null/, "a replacement keeps nulls, which are not values");
  const after = Buffer.from(encodeState(d.machine.state)).toString("utf8").replace(/"nowMs":\d+,"appliedIndex":\d+,/, "");
  t.equal(after, before, "no refusal changed the state");
  t.equal(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { ttl: 3, loop_wait: 1, retry_timeout: 1 } })), "accepted", "1 + 2 × 1 ≤ 3");
  t.equal(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { postgresql: { parameters: { work_mem: "16MB", max_connections: 100, hot_standby: true } } } })), "accepted");
  t.equal(rejected(d.run("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { postgresql: null } })), "accepted", "null removes the section");
  t.match(rejected(d.apply(rawSetConfig('{"postgresql":"x"}'))), /^invalid: postgresql must be an object/, "the same rule for a command that reached the log without the client's check");
});
