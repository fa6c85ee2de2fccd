/**
 * demote-cluster (issue 15 item 5) as rules over real DCS states: the cluster state takes the
 * transition only as the explicit operation (demote_cluster naming the lease holder), the lease
 * holder stops its primary, keeps the lease throughout, is rewound against the remote primary
 * before it follows it — or says why it cannot — and the other members follow the standby leader,
 * rewound when they went past its history. Then promote-cluster starts a new line of the primary
 * history even when the remote's timeline numbers are lower than the ones on record.
 */
import t from "tap";
import type { JsonObject } from "../../src/dcs/json.js";
import type { Lsn, PrimaryChange } from "../../src/dcs/model.js";
import { decide } from "../../src/ha/decide.js";
import { ancestryOf } from "../../src/ha/lineage.js";
import { lineageAgainst } from "../../src/ha/rejoin_check.js";
import { rejected } from "../dcs/fixtures.js";
import { Driver, heldLease, input, m, pg, PRIMARY, SETTINGS, STEADY_MEMORY, status, summary } from "./fixtures.js";

const SECTION = { host: "10.0.0.5", port: 5433 };
const REMOTE = "remote 10.0.0.5:5433";
const DEMOTE = { standby_cluster: SECTION, demote_cluster: "pg1" };

/** A running three-member cluster: pg1 the primary on timeline 2 (on record), pg2 and pg3 streaming on it. */
function running(): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  d.advance(1000);
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 3000n as Lsn, reason: "switchover", newPrimary: m("pg1") });
  return d;
}

const setConfig = (value: JsonObject) => ({ kind: "setConfig" as const, expectedVersion: null, mode: "patch" as const, value });

/** running(), demoted; pg1's report as the standby leader with PostgreSQL as given. */
function demoted(leader: Partial<Parameters<typeof status>[1]> = {}): Driver {
  const d = running();
  d.ok("cli:ops", setConfig(DEMOTE));
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "standby_leader", state: "streaming", timeline: 1, walReceived: 9000n as Lsn, walReplayed: 9000n as Lsn, ...leader }) });
  return d;
}

t.test("the cluster state: adding standby_cluster to a cluster that ran a primary is demote-cluster's, naming the lease holder", async (t) => {
  const d = running();
  t.match(rejected(d.run("api", setConfig({ standby_cluster: SECTION }))), /^invalid: main has run a primary \(pg1 holds the lease\): adding standby_cluster demotes it .* use raftgres demote-cluster/, "a plain edit is refused, pointing at the command");
  t.match(rejected(d.run("api", { kind: "setConfig", expectedVersion: null, mode: "replace", value: { standby_cluster: SECTION } })), /use raftgres demote-cluster/, "so is a replacement");
  t.match(rejected(d.run("api", setConfig({ standby_cluster: SECTION, demote_cluster: "pg2" }))), /^notLeaseHolder: demote_cluster names pg2, but pg1 holds the lease/, "the operator named another member than the primary");
  t.match(rejected(d.run("api", setConfig({ standby_cluster: SECTION, demote_cluster: 7 }))), /^invalid: demote_cluster must be the name of the lease holder/);
  t.match(rejected(d.run("api", setConfig({ demote_cluster: "pg1" }))), /^invalid: demote_cluster goes with a standby_cluster section/);
  t.match(rejected(d.run("api", setConfig({ standby_cluster: { create_replica_methods: ["basebackup"] }, demote_cluster: "pg1" }))), /goes with a standby_cluster section naming the source/, "a section that names no source demotes nothing");

  d.ok("api", { kind: "setPause", paused: true });
  t.match(rejected(d.run("api", setConfig(DEMOTE))), /^invalid: main is paused: .* resume first/);
  d.ok("api", { kind: "setPause", paused: false });
  d.ok("api", { kind: "requestSwitchover", from: m("pg1"), to: m("pg2"), scheduledAtMs: d.nowMs + 3_600_000 });
  t.match(rejected(d.run("api", setConfig(DEMOTE))), /^switchoverPending: a switchover to pg2 is pending/);
  d.ok("api", { kind: "cancelSwitchover" });

  const events = d.ok("cli:ops", setConfig(DEMOTE));
  t.ok(events._tag === "Right" && events.right.length === 1, "demote-cluster naming the holder is taken");
  t.same(d.scope().config.value, { standby_cluster: SECTION }, "the directive is not stored");
  t.same(d.scope().configHistory.at(-1)?.patch, { standby_cluster: SECTION });
  t.equal(d.scope().lease?.holder, "pg1", "the lease stays where it was");
  t.match(rejected(d.run("api", setConfig(DEMOTE))), /^invalid: main is a standby cluster already/);
  d.ok("api", setConfig({ standby_cluster: { ...SECTION, port: 5434 } }));
  t.equal((d.scope().config.value["standby_cluster"] as JsonObject)["port"], 5434, "a standby cluster's section changes without it");
  d.ok("api", setConfig({ standby_cluster: null }));
  t.same(d.scope().config.value, {}, "promote-cluster needs no directive: it loses nothing");

  const down = running();
  down.advance(31_000);
  t.match(rejected(down.run("api", setConfig(DEMOTE))), /^noPrimary: no member holds the lease of main/, "nothing to demote without a lease holder");
  const fresh = new Driver();
  fresh.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "" });
  fresh.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { standby_cluster: SECTION } });
  t.ok(fresh.scope().config.value["standby_cluster"], "a cluster that never ran a primary becomes a standby cluster as before (bootstrap.dcs)");
});

t.test("the lease holder stops its primary and keeps the lease: no release, no promotion, no second primary", async (t) => {
  const d = running();
  d.ok("cli:ops", setConfig(DEMOTE));
  const stop = decide(input(d, "pg1", { pg: { ...PRIMARY, timeline: 2 }, lease: heldLease() }));
  t.same(summary(stop.actions), ["dcs:renewLease", "stop:fast"]);
  t.match(stop.reason, /^demoting: stopping the primary to run as the standby leader, a standby of remote 10\.0\.0\.5:5433/);
  const stopping = decide(input(d, "pg1", { pg: { ...PRIMARY, process: "stopping" }, lease: heldLease() }));
  t.same(summary(stopping.actions), ["dcs:renewLease"], "it renews while PostgreSQL stops");
  const busy = decide(input(d, "pg1", { pg: pg({ process: "stopped", role: null, controlState: "shut down" }), lease: heldLease(), busy: "rewind" }));
  t.same(summary(busy.actions), ["dcs:renewLease"], "and while pg_rewind runs");
  for (const name of ["pg2", "pg3"]) {
    const follower = decide(input(d, name, { pg: pg({ timeline: 2, replayTimeline: 2, streaming: false }) }));
    t.notOk(follower.actions.some((a) => a.kind === "promote" || (a.kind === "dcs" && a.command.kind === "acquireLease")), `${name} does not race: pg1 holds the lease throughout`);
  }
});

t.test("the former primary is rewound against the remote before it follows it; it says why when it cannot", async (t) => {
  const d = running();
  d.ok("cli:ops", setConfig(DEMOTE));
  const stopped = pg({ process: "stopped", role: null, timeline: 2, controlState: "shut down", checkpointLsn: 5000n as Lsn, streaming: false, upstream: null });
  const rewind = decide(input(d, "pg1", { pg: stopped, lease: heldLease() }));
  t.same(summary(rewind.actions), ["dcs:renewLease", `rewind<${REMOTE}`]);
  t.match(rewind.reason, /^rewinding against remote 10\.0\.0\.5:5433 before following it as the standby leader/);
  t.match(rewind.detail, /last ran as a primary \(shut down, timeline 2\)/);
  const crashed = decide(input(d, "pg1", { pg: { ...stopped, process: "crashed", controlState: "in production" }, lease: heldLease() }));
  t.same(summary(crashed.actions), ["dcs:renewLease", `rewind<${REMOTE}`], "a crashed primary too (the adapter recovers it first)");

  const rewound = { ...STEADY_MEMORY, preparedFrom: m(REMOTE) };
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: heldLease(), memory: rewound })).actions), ["dcs:renewLease", `start:replica<${REMOTE}`], "once rewound (or no rewind required) it starts as the standby leader");
  const inRecovery = { ...stopped, controlState: "in archive recovery" as const };
  t.same(summary(decide(input(d, "pg1", { pg: inRecovery, lease: heldLease() })).actions), ["dcs:renewLease", `start:replica<${REMOTE}`], "a data directory that ran as a standby starts at once");

  const failedHere = { ...STEADY_MEMORY, rewindFailure: "rewind against remote failed: pg_rewind: fatal: source and target clusters are from different systems", rewindFailedAgainst: m(REMOTE) };
  const cannot = decide(input(d, "pg1", { pg: stopped, lease: heldLease(), memory: failedHere }));
  t.same(summary(cannot.actions), ["dcs:renewLease"], "it keeps the lease and PostgreSQL stopped; nothing is wiped");
  t.match(cannot.reason, /^cannot follow remote 10\.0\.0\.5:5433 as the standby leader: this former primary cannot be rewound against it \(rewind against remote failed: .*different systems\); the data directory is kept: correct standby_cluster, or undo with raftgres promote-cluster/);
  const failedElsewhere = { ...failedHere, rewindFailedAgainst: m("remote 10.0.0.9:5433") };
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: heldLease(), memory: failedElsewhere })).actions), ["dcs:renewLease", `rewind<${REMOTE}`], "a failure against the section before it was corrected does not count");
  const noRewind = { ...SETTINGS, usePgRewind: false };
  t.match(decide(input(d, "pg1", { pg: stopped, lease: heldLease(), settings: noRewind })).reason, /cannot be rewound against it \(postgresql\.use_pg_rewind is off\)/);

  const archive = running();
  archive.ok("cli:ops", setConfig({ standby_cluster: { restore_command: "cp /archive/%f %p" }, demote_cluster: "pg1" }));
  t.same(summary(decide(input(archive, "pg1", { pg: stopped, lease: heldLease() })).actions), ["dcs:renewLease", "start:replica<remote archive"], "with restore_command only there is nothing to rewind against: PostgreSQL's recovery checks the archive's history");
});

t.test("the other members follow the standby leader, rewound when they went past its history", async (t) => {
  const d = demoted();
  const offHistory = decide(input(d, "pg2", { pg: pg({ timeline: 2, replayTimeline: 2, streaming: false }) }));
  t.same(summary(offHistory.actions), ["stop:fast"], "a replica of the old primary's timeline 2 cannot stream from a standby leader on 1");
  t.match(offHistory.reason, /^stopping to rewind: this replica is off pg1's history/);
  t.match(offHistory.detail, /its timeline 2 is newer than the standby leader's 1/);
  t.same(summary(decide(input(d, "pg2", { pg: pg({ timeline: 2, replayTimeline: 2, streaming: true }) })).actions), ["syncSlots:pg1,pg3"], "a streaming one is following it across a switch of the remote's timeline, not off it");
  const stopped = pg({ process: "stopped", role: null, timeline: 2, controlState: "shut down in recovery", checkpointLsn: 4000n as Lsn, streaming: false, upstream: null });
  t.same(summary(decide(input(d, "pg2", { pg: stopped })).actions), ["rewind<pg1"], "stopped, it is rewound against the standby leader");
  t.same(summary(decide(input(d, "pg2", { pg: stopped, memory: { ...STEADY_MEMORY, preparedFrom: m("pg1") } })).actions), ["start:replica<pg1"], "then it starts as its replica");
  t.same(summary(decide(input(d, "pg2", { pg: { ...stopped, timeline: 1 } })).actions), ["start:replica<pg1"], "one on the standby leader's timeline starts at once");
  const remoteMoved = demoted({ timeline: 3 });
  t.same(summary(decide(input(remoteMoved, "pg2", { pg: { ...stopped, timeline: 1 } })).actions), ["rewind<pg1"], "one on an older timeline is in doubt: pg_rewind tells (no rewind required when it is on it)");
  const leaderDown = demoted({ state: "rewinding", timeline: 2 });
  t.same(summary(decide(input(leaderDown, "pg2", { pg: pg({ timeline: 2, replayTimeline: 2, streaming: false }) })).actions), [], "while the standby leader does not run there is nothing to compare with");
});

t.test("promote-cluster after demote-cluster: the remote's timeline is recorded as a new line of the history", async (t) => {
  const d = running();
  d.advance(1000);
  d.ok("pg1", { kind: "recordTimeline", timeline: 3, parent: 2, lsn: 4000n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("cli:ops", setConfig(DEMOTE));
  d.advance(1000);
  t.match(rejected(d.run("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 8000n as Lsn, reason: "manual", newPrimary: m("pg1") })), /^timelineNotNewer/, "not while it is a standby cluster");
  d.ok("cli:ops", setConfig({ standby_cluster: null }));
  const onRemoteHistory = pg({ process: "stopped", role: null, timeline: 1, controlState: "shut down in recovery", checkpointLsn: 8500n as Lsn, streaming: false, upstream: null });
  t.same(lineageAgainst(input(d, "pg2", { pg: onRemoteHistory }), null), { kind: "onHistory" }, "until the new line is recorded, the old one does not judge: a member on the remote's timeline 1 past the old fork may start and race");
  const promoted = decide(input(d, "pg1", { pg: { ...PRIMARY, timeline: 2, timelineParent: 1, timelineSwitchLsn: 8000n as Lsn }, lease: heldLease() }));
  const record = promoted.actions.find((a) => a.kind === "dcs" && a.command.kind === "recordTimeline");
  t.same(record?.kind === "dcs" && record.command.kind === "recordTimeline" && [record.command.timeline, record.command.parent, record.command.reason], [2, 1, "manual"], "timeline 2 after 3 on record: the remote's history goes on");
  t.match(rejected(d.run("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 8000n as Lsn, reason: "failover", newPrimary: m("pg1") })), /^timelineNotNewer/, "only as the manual change of promote-cluster");
  const before = running();
  t.equal(lineageAgainst(input(before, "pg2", { pg: onRemoteHistory }), null).kind, "diverged", "(in the cluster's own life such a member went past the fork at 3000)");
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 8000n as Lsn, reason: "manual", newPrimary: m("pg1") });
  t.match(rejected(d.run("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 8000n as Lsn, reason: "manual", newPrimary: m("pg1") })), /^timelineNotNewer/, "and once");
  const ancestry = ancestryOf(d.scope().primaryHistory, 2);
  t.same(ancestry, { timeline: 2, ancestors: [{ timeline: 1, leftAt: 8000n }], complete: true }, "the later record of timeline 2 is the current history's");
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", timeline: 2, walWritten: 9000n as Lsn, walReceived: null, walReplayed: null }) });
  const follower = decide(input(d, "pg2", { pg: pg({ process: "stopped", role: null, timeline: 3, controlState: "shut down in recovery", checkpointLsn: 4500n as Lsn, streaming: false, upstream: null }) }));
  t.same(summary(follower.actions), ["rewind<pg1"], "a member still on the old timeline 3 is rewound before it follows the new primary");
  t.match(follower.detail, /its timeline 3 is newer than the primary's 2/);
});

t.test("the ancestry stops at promote-cluster's record: the remote's older timelines were never recorded here", async (t) => {
  const change = (timeline: number, parent: number, lsn: bigint, reason: PrimaryChange["reason"]): PrimaryChange => ({ timeline, parent, lsn: lsn as Lsn, atMs: timeline, reason, newPrimary: m("pg1") });
  const history = [change(3, 2, 100n, "failover"), change(5, 3, 500n, "manual"), change(6, 5, 600n, "failover")];
  t.same(ancestryOf(history, 6), { timeline: 6, ancestors: [{ timeline: 5, leftAt: 600n }, { timeline: 3, leftAt: 500n }], complete: false }, "timeline 3 on record is this cluster's own, not the remote's");
});
