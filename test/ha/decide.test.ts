/**
 * decide() as a table: each case is a cluster state (built with real DCS commands), a local
 * PostgreSQL and a local lease, and the actions and reason that must come out.
 */
import t from "tap";
import { DEFAULT_TAGS, type Lsn } from "../../src/dcs/model.js";
import { decide } from "../../src/ha/decide.js";
import { EMPTY_MEMORY } from "../../src/ha/input.js";
import { REPLAY_STUCK_RESTART_MS, REPLAY_STUCK_REWIND_MS } from "../../src/ha/rejoin_check.js";
import { RECEIVE_RECHECK_MS } from "../../src/ha/rules/race.js";
import { Driver, heldLease, input, m, pg, PRIMARY, SETTINGS, status, summary, STEADY_MEMORY } from "./fixtures.js";

const held = heldLease;

/** pg1 holds the lease (generation 1), pg2 and pg3 stream; the lease then expires if asked. */
function cluster(options: { expired?: boolean; released?: boolean } = {}): Driver {
  const d = new Driver();
  d.bootstrap();
  d.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  if (options.released) d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  if (options.expired) {
    d.advance(31_000);
    d.ok("pg2", { kind: "upsertMember", status: status("pg2", { state: "running" }) });
    d.ok("pg3", { kind: "upsertMember", status: status("pg3", { state: "running" }) });
  }
  return d;
}

t.test("bootstrap: the race, the winner's initdb and lease, the others' clone", async (t) => {
  const empty = pg({ dataDir: "empty", systemId: null, process: "stopped", role: null, timeline: null, controlState: "unknown", walReceived: null, walReplayed: null, streaming: false, upstream: null });
  t.same(summary(decide(input(null, "pg1", { pg: empty })).actions), ["dcs:initializeCluster"], "a member of a new cluster races to initialize it");
  t.same(decide(input(null, "pg1", { pg: empty, settings: { ...SETTINGS, nofailover: true } })).actions, [], "a nofailover member never bootstraps");
  const unreachable = decide(input(null, "pg1", { pg: { ...empty, dataDir: "inaccessible", problem: "directory /srv (mode 700, owner uid 0) is not reachable by OS user postgres" } }));
  t.same(unreachable.actions, [], "a member that cannot reach its data directory does not race to initialize");
  t.match(`${unreachable.reason}: ${unreachable.detail}`, /not accessible: directory \/srv .* not reachable/, "and says why");

  const d = new Driver();
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "uninitialized", state: "stopped" }) });
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "" });
  t.same(summary(decide(input(d, "pg1", { pg: empty })).actions), ["bootstrap"], "the winner runs initdb");
  t.match(decide(input(d, "pg2", { pg: empty })).reason, /^waiting for pg1 to bootstrap/, "the others wait");
  const fresh = { ...PRIMARY, systemId: "7301234567890123456" };
  t.same(summary(decide(input(d, "pg1", { pg: fresh })).actions), ["dcs:initializeCluster"], "the winner records the system id once its primary runs");
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "7301234567890123456" });
  t.same(summary(decide(input(d, "pg1", { pg: fresh })).actions), ["dcs:acquireLease"], "then takes the lease");
  d.ok("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 5000 });
  t.same(summary(decide(input(d, "pg2", { pg: empty })).actions), ["clone<pg1"], "then the others clone from the primary");
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { tags: { ...DEFAULT_TAGS, clonefrom: true } }) });
  t.same(summary(decide(input(d, "pg2", { pg: empty })).actions), ["clone<pg3"], "or from a streaming replica tagged clonefrom");
  t.match(decide(input(d, "pg2", { pg: pg({ systemId: "999" }) })).reason, /belongs to another cluster/, "foreign data is never started");
});

t.test("the holder renews every cycle, promotes a replica once the lease is committed, records the timeline, keeps slots", async (t) => {
  const d = cluster();
  const primary = decide(input(d, "pg1", { pg: { ...PRIMARY, timeline: 2 }, lease: held() }));
  t.same(summary(primary.actions), ["dcs:renewLease", "dcs:recordTimeline", "syncSlots:pg2,pg3"]);
  t.match(primary.reason, /renewed the lease as the primary/);
  const promoted = decide(input(d, "pg1", { pg: pg(), lease: held() }));
  t.same(summary(promoted.actions), ["dcs:renewLease", "promote"], "a replica holding the lease is promoted");
  t.same(summary(decide(input(d, "pg1", { pg: pg(), lease: held(1, 9_000) })).actions), [], "an expired local deadline is not a held lease");
  const restarted = decide(input(d, "pg1", { pg: pg(), lease: null }));
  t.same(summary(restarted.actions), ["dcs:renewLease"], "an agent that restarted renews the lease the log gives it before acting on it");
  t.match(restarted.reason, /before the agent restarted/);
});

t.test("a holder whose renewals fail stops PostgreSQL before the watchdog margin, whatever the log says", async (t) => {
  const d = cluster();
  const nearDeadline = 10_000 + SETTINGS.watchdogMarginMs + SETTINGS.demoteLeadMs;
  const stopped = decide(input(d, "pg1", { pg: PRIMARY, lease: held(1, nearDeadline) }));
  t.same(summary(stopped.actions), ["stop:immediate"]);
  t.match(stopped.reason, /could not be renewed/);
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, lease: held(1, nearDeadline + 1) })).actions), ["dcs:renewLease", "syncSlots:pg2,pg3"], "one millisecond earlier it still renews");
  const down = { ...PRIMARY, process: "stopped" as const, controlState: "shut down" as const };
  const kept = decide(input(d, "pg1", { pg: down, lease: held(1, nearDeadline) }));
  t.same(summary(kept.actions), ["dcs:renewLease"], "stopped that way, it is not started again while the lease is not renewed (found by the jepsen-like harness)");
  t.match(kept.reason, /stays stopped/);
});

t.test("a crashed primary holding the lease starts in place, and gives the lease up after primary_start_timeout", async (t) => {
  const d = cluster();
  const crashed = { ...PRIMARY, process: "crashed" as const, controlState: "in production" as const };
  t.same(summary(decide(input(d, "pg1", { pg: crashed, lease: held(), memory: { crashedAtMs: 9_500, replaySince: null, rewindFailure: null, preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false } })).actions), ["dcs:renewLease", "start:primary"]);
  const late = { crashedAtMs: 10_000 - SETTINGS.primaryStartTimeoutMs - 1, replaySince: null, rewindFailure: null, preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false };
  t.same(summary(decide(input(d, "pg1", { pg: crashed, lease: held(), memory: late })).actions), ["dcs:releaseLease"]);
  const replicaCrashed = { ...crashed, controlState: "in archive recovery" as const };
  t.same(summary(decide(input(d, "pg1", { pg: replicaCrashed, lease: held() })).actions), ["dcs:renewLease", "start:replica"], "a replica's data directory restarts as a replica, then is promoted");
});

t.test("a member that is not the holder: a primary stops, a diverged one rewinds or reinitializes, a replica follows", async (t) => {
  const d = cluster();
  t.same(summary(decide(input(d, "pg2", { pg: PRIMARY })).actions), ["stop:immediate"], "a second primary stops at once");
  // pg1 was promoted onto timeline 2 at 500; pg2, the former primary, wrote on timeline 1 past it.
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 500n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", timeline: 2, walWritten: 5000n as Lsn }) });
  const stoppedPrimary = { ...PRIMARY, process: "stopped" as const, controlState: "shut down" as const, checkpointLsn: 600n as Lsn };
  t.same(summary(decide(input(d, "pg2", { pg: stoppedPrimary })).actions), ["rewind<pg1"]);
  t.same(summary(decide(input(d, "pg2", { pg: stoppedPrimary, memory: { crashedAtMs: null, replaySince: null, rewindFailure: "pg_rewind failed", preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false } })).actions), ["reinit<pg1"]);
  const noReinit = { ...SETTINGS, reinitOnRewindFailure: false };
  t.match(decide(input(d, "pg2", { pg: stoppedPrimary, settings: noReinit, memory: { crashedAtMs: null, replaySince: null, rewindFailure: "pg_rewind failed", preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false } })).reason, /cannot be rewound: reinitialize it/);
  t.same(summary(decide(input(d, "pg2", { pg: stoppedPrimary, memory: { crashedAtMs: null, replaySince: null, rewindFailure: null, preparedFrom: m("pg1"), tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: null, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false } })).actions), ["start:replica<pg1"], "after the rewind it starts");
  const stoppedReplica = pg({ process: "stopped", timeline: 2, controlState: "shut down in recovery", checkpointLsn: 900n as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: stoppedReplica })).actions), ["start:replica<pg1"]);
  t.same(summary(decide(input(d, "pg2", { pg: pg({ upstream: m("pg3") }) })).actions), ["followPrimary<pg1"]);
  t.same(summary(decide(input(d, "pg2", { pg: pg() })).actions), ["syncSlots:pg1,pg3"], "a streaming replica keeps the other members' slots");
  t.same(summary(decide(input(d, "pg2", { pg: pg(), settings: { ...SETTINGS, useSlots: false } })).actions), ["syncSlots:"], "with use_slots off none: the ones it kept are dropped");
});

/** pg1 promoted twice: timeline 2 branched off 1 at 500, timeline 3 off 2 at 900; it runs on 3 at 5000. */
function forked(): ReturnType<typeof cluster> {
  const d = cluster();
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 500n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "recordTimeline", timeline: 3, parent: 2, lsn: 900n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", timeline: 3, walWritten: 5000n as Lsn }) });
  return d;
}

t.test("a stopped data directory starts as a replica only on the primary's history; otherwise it is rewound first", async (t) => {
  const d = forked();
  const stopped = (fields: Parameters<typeof pg>[0]) => pg({ process: "stopped", streaming: false, walReceived: null, walReplayed: null, ...fields });
  const clean = (timeline: number, checkpoint: bigint) => stopped({ timeline, controlState: "shut down", checkpointLsn: checkpoint as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: clean(2, 800n) })).actions), ["start:replica<pg1"], "a former primary whose shutdown checkpoint the new timeline follows starts without a rewind");
  t.same(summary(decide(input(d, "pg2", { pg: clean(2, 900n) })).actions), ["rewind<pg1"], "one whose last record starts at or past the fork went past it");
  t.match(decide(input(d, "pg2", { pg: clean(2, 900n) })).detail, /left timeline 2 at 0\/384 and its WAL goes on to 0\/384/);
  t.same(summary(decide(input(d, "pg2", { pg: clean(4, 100n) })).actions), ["rewind<pg1"], "a timeline newer than the primary's is off its history");
  t.same(summary(decide(input(d, "pg2", { pg: stopped({ timeline: 2, controlState: "in production", checkpointLsn: 800n as Lsn }) })).actions), ["rewind<pg1"], "a primary that crashed before the fork may have written past it");
  const replica = (timeline: number, checkpoint: bigint, minRecovery: bigint | null, minTimeline: number | null) =>
    stopped({ timeline, controlState: "shut down in recovery", checkpointLsn: checkpoint as Lsn, minRecoveryLsn: minRecovery as Lsn | null, minRecoveryTimeline: minTimeline });
  t.same(summary(decide(input(d, "pg2", { pg: replica(2, 700n, 850n, 2) })).actions), ["start:replica<pg1"], "a replica that replayed up to the fork follows the switch itself");
  t.same(summary(decide(input(d, "pg2", { pg: replica(2, 700n, 950n, 2) })).actions), ["rewind<pg1"], "one that replayed past the fork on the old timeline diverged");
  t.same(summary(decide(input(d, "pg2", { pg: replica(2, 700n, 950n, 3) })).actions), ["start:replica<pg1"], "the minimum recovery point's timeline says it switched");
  t.same(summary(decide(input(d, "pg2", { pg: replica(1, 400n, 450n, 1) })).actions), ["start:replica<pg1"], "an older ancestor, before its fork");
  t.same(summary(decide(input(d, "pg2", { pg: replica(1, 400n, null, null) })).actions), ["rewind<pg1"], "without a minimum recovery point, where its WAL ends is not known");
});

t.test("with the primary's ancestry unknown, a stopped data directory is rewound (pg_rewind decides)", async (t) => {
  const d = cluster();
  d.ok("pg1", { kind: "recordTimeline", timeline: 3, lsn: 900n as Lsn, reason: "failover", newPrimary: m("pg1") });
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running", timeline: 3, walWritten: 5000n as Lsn }) });
  const old = pg({ process: "stopped", streaming: false, timeline: 2, controlState: "shut down", checkpointLsn: 100n as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: old })).actions), ["rewind<pg1"]);
  t.match(decide(input(d, "pg2", { pg: old })).detail, /not recorded back to timeline 2/);
});

t.test("a running replica off the primary's history stops for a rewind at once; one in doubt only when its replay is stuck", async (t) => {
  const d = forked();
  const since = (sinceMs: number, lsn = 1000n) => ({ ...EMPTY_MEMORY, viewConfirmed: true, replaySince: { lsn: lsn as Lsn, sinceMs } });
  const ahead = pg({ timeline: 4, walReplayed: 1000n as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: ahead })).actions), ["stop:fast"], "a timeline newer than the primary's: at once");
  const doubt = pg({ streaming: false, timeline: 2, walReplayed: 1000n as Lsn, walReceived: 1000n as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: doubt, memory: since(10_000 - REPLAY_STUCK_REWIND_MS + 1) })).actions), [], "past the fork on a timeline it may have left, replay moving");
  t.same(summary(decide(input(d, "pg2", { pg: doubt, memory: since(10_000 - REPLAY_STUCK_REWIND_MS) })).actions), ["stop:fast"], "replay stuck while the primary went on");
  t.same(summary(decide(input(d, "pg2", { pg: { ...doubt, streaming: true }, memory: since(10_000 - REPLAY_STUCK_REWIND_MS) })).actions), ["stop:fast"], "the WAL receiver's momentary state does not matter");
  const before = pg({ streaming: false, timeline: 2, walReplayed: 800n as Lsn, walReceived: 800n as Lsn });
  t.same(summary(decide(input(d, "pg2", { pg: before, memory: since(0, 800n) })).actions), [], "before the fork on an ancestor: it follows the switch itself, however long replay waits");
  const idle = decide(input(d, "pg2", { pg: before, memory: since(10_000 - REPLAY_STUCK_RESTART_MS, 800n) }));
  t.same(summary(idle.actions), ["stop:fast"], "but a WAL receiver away for good gets PostgreSQL started again");
  t.match(idle.reason, /^stopping to start again: not streaming, and its replay has not moved for 30 s/);
  t.notOk(summary(decide(input(d, "pg2", { pg: { ...before, streaming: true }, memory: since(10_000 - REPLAY_STUCK_RESTART_MS, 800n) })).actions).includes("stop:fast"), "not one that streams (it waits for WAL to replay)");
});

t.test("with no lease, a stopped data directory off the last primary's history does not start", async (t) => {
  const d = forked();
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  const diverged = pg({ process: "stopped", streaming: false, timeline: 2, controlState: "shut down", checkpointLsn: 950n as Lsn });
  const decided = decide(input(d, "pg2", { pg: diverged }));
  t.same(summary(decided.actions), []);
  t.match(decided.reason, /not on the last primary's history; it is rewound once a primary runs/);
  t.same(summary(decide(input(d, "pg2", { pg: { ...diverged, checkpointLsn: 850n as Lsn } })).actions), ["start:replica"], "one on it starts read-only and may race");
  d.ok("pg3", { kind: "requestFailover", to: m("pg2"), allowDataLoss: true });
  t.same(summary(decide(input(d, "pg2", { pg: diverged })).actions), ["start:replica"], "unless the operator asked for a failover to it allowing data loss");
});

t.test("a last holder whose promotion was never recorded records its timeline, and the others are judged against it", async (t) => {
  const d = cluster({ released: true });
  // pg2 takes over at 1/900 and promotes to timeline 2, but loses the majority before recording it.
  d.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: 5000, position: { timeline: 1, lsn: 900n as Lsn } });
  d.ok("pg2", { kind: "releaseLease", member: m("pg2"), generation: 2 });
  const promoted = pg({ process: "stopped", streaming: false, timeline: 2, controlState: "in production", checkpointLsn: 1200n as Lsn, timelineParent: 1, timelineSwitchLsn: 900n as Lsn });
  const recorded = decide(input(d, "pg2", { pg: promoted }));
  t.same(summary(recorded.actions), ["dcs:recordTimeline"], "not refused as diverged: its timeline extends the history where it took over");
  t.match(recorded.actions[0], { command: { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 900n, reason: "failover", newPrimary: "pg2" } });
  t.same(summary(decide(input(d, "pg3", { pg: promoted })).actions), [], "another member on that timeline is not its holder: it records nothing");
  t.same(summary(decide(input(d, "pg2", { pg: { ...promoted, timelineParent: 3 } })).actions), [], "a timeline that branched elsewhere is not recorded");
  d.ok("pg2", recorded.actions[0]!.kind === "dcs" ? recorded.actions[0]!.command : assertUnreachable());
  t.same(summary(decide(input(d, "pg2", { pg: promoted })).actions), ["start:replica"], "recorded, it starts read-only and may race");
  const wrote = pg({ process: "stopped", streaming: false, timeline: 1, controlState: "in production", checkpointLsn: 950n as Lsn });
  t.match(decide(input(d, "pg1", { pg: wrote })).detail, /left timeline 1 at 0\/384 and its WAL goes on/, "the former primary that kept writing on timeline 1 is off it");
});

function assertUnreachable(): never {
  throw new Error("the decision holds a cluster-state command");
}

t.test("with no lease, the best replica races; the others say whom they wait for", async (t) => {
  const d = cluster({ released: true });
  const ahead = pg({ walReceived: 2000n as Lsn, streaming: false });
  t.same(summary(decide(input(d, "pg2", { pg: ahead })).actions), ["dcs:acquireLease"], "further along than everyone else: race");
  t.match(decide(input(d, "pg3", { pg: pg({ walReceived: 900n as Lsn, walReplayed: 900n as Lsn }) })).reason, /pg2 has more WAL/);
  t.match(decide(input(d, "pg3", { pg: pg() })).reason, /pg2 has the same WAL and priority, and goes first by name/);
  t.same(summary(decide(input(d, "pg2", { pg: pg() })).actions), ["dcs:acquireLease"], "the tie goes to the first name");
  const asked = (p: ReturnType<typeof pg>) => decide(input(d, "pg2", { pg: p })).actions.find((a) => a.kind === "dcs");
  t.match(asked({ ...ahead, replayTimeline: 1 }), { command: { kind: "acquireLease", position: { timeline: 1, lsn: 2000n } } }, "a replica says where its WAL stands on its replay timeline, to be checked against the takeover point");
  t.notOk(asked(ahead)?.kind === "dcs" && "position" in (asked(ahead) as { command: object }).command, "and says nothing when that timeline was not read");
  t.match(decide(input(d, "pg2", { pg: pg(), settings: { ...SETTINGS, nofailover: true } })).reason, /nofailover/);
  t.match(decide(input(d, "pg2", { pg: pg({ walReceived: 10n as Lsn, walReplayed: 10n as Lsn }) })).reason, /bytes behind|has more WAL/);
  d.advance(5_000);
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  t.match(decide(input(d, "pg2", { pg: pg() })).reason, /waiting for pg3 to report its position/, "a silent candidate may be further along");
  const paused = cluster({ released: true });
  paused.ok("api:op", { kind: "setPause", paused: true });
  t.match(decide(input(paused, "pg2", { pg: pg() })).reason, /^PAUSE/);
});

t.test("with no lease, a member the synchronous state holds back is not waited for", async (t) => {
  // pg2 became the primary in quorum mode and ran without a synchronous standby (k = 0), then
  // lost the lease (its agent froze, its watchdog killed PostgreSQL); it is back as a replica
  // with the same WAL as pg1. pg1 is held back (pg2's last commits may be on no other member);
  // pg2, the last leader, must not wait for pg1 by name order (found by the cluster simulation,
  // quorum seed 601: nobody promoted).
  const d = cluster({ released: true });
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "quorum" } });
  d.ok("pg2", { kind: "acquireLease", member: m("pg2"), ttlMs: SETTINGS.ttlMs });
  d.ok("pg2", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 900n as Lsn, reason: "failover", newPrimary: m("pg2") });
  d.ok("pg2", { kind: "setSyncState", expectedVersion: null, leader: m("pg2"), standbys: [], quorum: 0 });
  d.ok("pg2", { kind: "releaseLease", member: m("pg2"), generation: d.scope().lease!.generation });
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { timeline: 2 }) });
  d.ok("pg2", { kind: "upsertMember", status: status("pg2", { timeline: 2 }) });
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { timeline: 2, walReceived: 900n as Lsn, walReplayed: 900n as Lsn }) });
  const onTimeline2 = pg({ timeline: 2 });
  t.match(decide(input(d, "pg1", { pg: onTimeline2 })).reason, /synchronous_mode quorum: pg2 last ran without a synchronous standby/, "pg1 is held back");
  t.same(summary(decide(input(d, "pg2", { pg: onTimeline2 })).actions), ["dcs:acquireLease"], "pg2 races: it holds its own commits, and pg1 will not race");
});

t.test("with no lease, a primary stops unless it just bootstrapped, and a stopped member starts read-only", async (t) => {
  const d = cluster({ released: true });
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY })).actions), ["stop:immediate"]);
  t.same(summary(decide(input(d, "pg2", { pg: pg({ process: "stopped", controlState: "shut down in recovery" }) })).actions), ["start:replica"]);
  const unconfirmed = { ...STEADY_MEMORY, viewConfirmed: false };
  const waits = decide(input(d, "pg2", { pg: pg({ process: "stopped", controlState: "shut down in recovery" }), memory: unconfirmed }));
  t.same(waits.actions, [], "a restarted agent whose view is only its replayed log starts nothing");
  t.match(waits.reason, /waiting for this node's cluster state to catch up/);
  t.same(decide(input(d, "pg2", { pg: pg({ walReceived: 2000n as Lsn }), memory: unconfirmed })).actions, [], "nor races for the lease");
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, memory: unconfirmed })).actions), ["stop:immediate"], "a primary with no lease stops all the same");
  const expired = cluster({ expired: true });
  t.match(decide(input(expired, "pg1", { pg: PRIMARY, lease: held(1, 50_000) })).reason, /does not hold the lease/, "the log's expiry wins over a local deadline");
});

t.test("a long action in progress: only the lease is kept", async (t) => {
  const d = cluster();
  t.same(summary(decide(input(d, "pg1", { pg: pg(), lease: held(), busy: "promote" })).actions), ["dcs:renewLease"]);
  t.same(summary(decide(input(d, "pg2", { pg: pg({ process: "stopped" }), busy: "rewind" })).actions), []);
});

t.test("a switchover: the holder stops PostgreSQL cleanly, then releases the lease; only the named candidate races", async (t) => {
  const d = cluster();
  d.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: m("pg3"), scheduledAtMs: null });
  const stopping = decide(input(d, "pg1", { pg: PRIMARY, lease: held() }));
  t.same(summary(stopping.actions), ["dcs:renewLease", "stop:fast"]);
  t.match(stopping.reason, /stopping PostgreSQL for the switchover to pg3/);
  const stopped = { ...PRIMARY, process: "stopped" as const, controlState: "shut down" as const };
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: held() })).actions), ["dcs:releaseLease"], "then releases the lease instead of starting again");
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  t.match(decide(input(d, "pg2", { pg: pg({ walReceived: 9000n as Lsn }) })).reason, /a switchover to pg3 is pending/, "another replica, even further along, waits");
  t.same(summary(decide(input(d, "pg3", { pg: pg() })).actions), ["dcs:acquireLease"], "the candidate races at once");
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { state: "stopped", walWritten: 1000n as Lsn, walReceived: null, walReplayed: null }) });
  const short = decide(input(d, "pg3", { pg: pg({ walReceived: 1000n as Lsn }) }));
  t.match(short.reason, /waiting to receive pg1's WAL up to its shutdown checkpoint at 1000 \(received up to 1000\)/, "not before it has the old primary's shutdown checkpoint");
  t.equal(short.recheckMs, RECEIVE_RECHECK_MS, "and it looks again soon: no cluster change says when its WAL receiver got there");
  t.same(summary(decide(input(d, "pg3", { pg: pg({ walReceived: 1040n as Lsn }) })).actions), ["dcs:acquireLease"], "then it races");
  t.match(decide(input(d, "pg1", { pg: pg({ controlState: "shut down" }) })).reason, /a switchover to pg3 is pending/, "the old primary does not take it back");
  // In synchronous mode with nothing claimed (the primary ran asynchronously), the candidate that
  // has the old primary's WAL to its end holds every commit; a failover would be held back.
  const sync = cluster();
  sync.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "on" } });
  sync.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [], quorum: 0 });
  sync.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: m("pg3"), scheduledAtMs: null });
  sync.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  sync.ok("pg1", { kind: "upsertMember", status: status("pg1", { state: "stopped", walWritten: 1000n as Lsn, walReceived: null, walReplayed: null }) });
  t.match(decide(input(sync, "pg3", { pg: pg({ walReceived: 1000n as Lsn }) })).reason, /waiting to receive pg1's WAL/, "synchronous, nothing claimed: the candidate waits for the WAL's end");
  t.same(summary(decide(input(sync, "pg3", { pg: pg({ walReceived: 1040n as Lsn }) })).actions), ["dcs:acquireLease"], "and then races: it has every commit");
  sync.ok("api:op", { kind: "cancelSwitchover" });
  t.match(decide(input(sync, "pg3", { pg: pg({ walReceived: 1040n as Lsn }) })).reason, /synchronous_mode on: pg1 last ran without a synchronous standby/, "no switchover pending: a failover to it is held back");
  const open = cluster();
  open.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: null, scheduledAtMs: null });
  open.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  t.match(decide(input(open, "pg1", { pg: pg({ controlState: "shut down" }) })).reason, /handing over/, "nor with no candidate named");
  open.advance(2 * SETTINGS.ttlMs);
  open.ok("pg2", { kind: "upsertMember", status: status("pg2", { walReceived: 900n as Lsn, walReplayed: 900n as Lsn }) });
  open.ok("pg3", { kind: "upsertMember", status: status("pg3", { walReceived: 900n as Lsn, walReplayed: 900n as Lsn }) });
  t.same(summary(decide(input(open, "pg1", { pg: pg() })).actions), ["dcs:acquireLease"], "after two ttl with no taker, the old primary may take the lease back");
});

t.test("a scheduled switchover waits for its time; a pending one is carried out even in pause", async (t) => {
  const d = cluster();
  d.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: null, scheduledAtMs: d.nowMs + 60_000 });
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, lease: held() })).actions), ["dcs:renewLease", "syncSlots:pg2,pg3"], "not yet");
  for (const step of [25_000, 25_000, 10_000]) {
    d.advance(step);
    d.ok("pg1", { kind: "renewLease", member: m("pg1"), ttlMs: 30_000, generation: 1 });
  }
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, lease: held() })).actions), ["dcs:renewLease", "stop:fast"], "at its time");
  const p = cluster();
  p.ok("api:op", { kind: "setPause", paused: true });
  p.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: m("pg2"), scheduledAtMs: null });
  t.same(summary(decide(input(p, "pg1", { pg: PRIMARY, lease: held() })).actions), ["dcs:renewLease", "stop:fast"]);
});

t.test("in pause a switchover to a named candidate completes: it alone promotes, the others follow, the old primary rejoins", async (t) => {
  const d = cluster();
  d.ok("api:op", { kind: "setPause", paused: true });
  d.ok("api:op", { kind: "requestSwitchover", from: m("pg1"), to: m("pg3"), scheduledAtMs: null });
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, lease: held() })).actions), ["dcs:renewLease", "stop:fast"], "the primary stops for it");
  const stopped = pg({ process: "stopped", role: null, controlState: "shut down", checkpointLsn: 5000n as Lsn, walReceived: null, walReplayed: null, streaming: false, upstream: null });
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: held() })).actions), ["dcs:releaseLease"], "and hands the lease over");
  d.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  t.same(summary(decide(input(d, "pg3", { pg: pg() })).actions), ["dcs:acquireLease"], "the named candidate races");
  t.match(decide(input(d, "pg2", { pg: pg() })).reason, /^PAUSE: no member holds the lease/, "no one else does");
  t.match(decide(input(d, "pg3", { pg: pg({ process: "stopped", role: null }) })).reason, /^PAUSE: PostgreSQL is stopped; the switchover to this member waits for it to run/, "a stopped candidate is not started");
  d.ok("pg3", { kind: "acquireLease", member: m("pg3"), ttlMs: 30_000 });
  const took = { ...STEADY_MEMORY, tookLeaseFor: "switchover" as const };
  t.same(summary(decide(input(d, "pg3", { pg: pg(), lease: held(2), memory: took })).actions), ["dcs:renewLease", "promote"], "it promotes");
  t.match(decide(input(d, "pg3", { pg: pg(), lease: held(2) })).reason, /^PAUSE: holding the lease/, "a replica holding the lease it did not take for a request is not promoted in pause");
  const promoted = pg({ role: "primary", timeline: 2, timelineParent: 1, timelineSwitchLsn: 5100n as Lsn, controlState: "in production", walWritten: 5200n as Lsn, walReceived: null, walReplayed: null, streaming: false, upstream: null });
  t.match(decide(input(d, "pg3", { pg: promoted, lease: held(2), memory: took })).actions, [{ kind: "dcs" }, { kind: "dcs", command: { kind: "recordTimeline", timeline: 2, reason: "switchover", newPrimary: "pg3" } }], "and records its timeline as a switchover");
  d.ok("pg3", { kind: "recordTimeline", timeline: 2, parent: 1, lsn: 5100n as Lsn, reason: "switchover", newPrimary: m("pg3") });
  d.ok("pg3", { kind: "upsertMember", status: status("pg3", { role: "primary", state: "running", timeline: 2, walWritten: 5200n as Lsn, walReceived: null, walReplayed: null }) });
  t.same(summary(decide(input(d, "pg2", { pg: pg() })).actions), ["followPrimary<pg3"], "a running replica follows the new primary");
  t.same(summary(decide(input(d, "pg1", { pg: stopped, memory: { ...STEADY_MEMORY, handedOver: true } })).actions), ["start:replica<pg3"], "the old primary starts as its replica: the request's demotion");
  t.match(decide(input(d, "pg1", { pg: stopped })).reason, /^PAUSE: following pg3; no automatic action/, "any other stopped member stays stopped");
  t.match(decide(input(d, "pg1", { pg: PRIMARY })).reason, /^PAUSE: this node runs as a primary while pg3 holds the lease; no automatic action/, "and a second primary is not stopped");
});

t.test("in pause a running primary whose lease ran out takes it back; nothing stops it", async (t) => {
  const d = cluster({ expired: true });
  d.ok("api:op", { kind: "setPause", paused: true });
  const decided = decide(input(d, "pg1", { pg: PRIMARY }));
  t.same(decided.actions, [{ kind: "dcs", command: { kind: "acquireLease", member: "pg1", ttlMs: SETTINGS.ttlMs } }]);
  t.match(decided.reason, /^PAUSE: taking the lease for this running primary/);
  t.same(decide(input(d, "pg1", { pg: { ...PRIMARY, systemId: "1" } })).actions, [], "not one whose data directory is another cluster's");
});

t.test("a member whose pre_promote hook failed stays out of the race for a while", async (t) => {
  const d = cluster({ released: true });
  const blocked = { ...EMPTY_MEMORY, viewConfirmed: true, promotionBlockedUntilMs: 12_000 };
  t.match(decide(input(d, "pg2", { pg: pg({ walReceived: 2000n as Lsn }), memory: blocked })).reason, /pre_promote hook failed; it stays out of the race for 2 s more/);
  t.same(summary(decide(input(d, "pg2", { pg: pg({ walReceived: 2000n as Lsn }), memory: blocked, nowMs: 12_000 })).actions), ["dcs:acquireLease"], "then it races again");
});

t.test("the holder renews its lease once per loop_wait, not on every cycle", async (t) => {
  const d = cluster();
  const renews = (sentAtMs: number) => summary(decide(input(d, "pg1", { pg: PRIMARY, lease: { generation: 1, deadlineMs: sentAtMs + 5000, sentAtMs } })).actions).includes("dcs:renewLease");
  t.notOk(renews(9_500), "half a loop_wait after the last renewal: a cycle renews nothing");
  t.ok(renews(9_000), "a loop_wait after it: renewed");
  t.ok(renews(9_090), "a tick a little early still renews (the slack)");
  const promoting = decide(input(d, "pg1", { pg: pg(), lease: { generation: 1, deadlineMs: 14_800, sentAtMs: 9_800 } }));
  t.same(summary(promoting.actions), ["dcs:renewLease", "promote"], "a promotion always goes with a renewal");
});
