/**
 * A standby cluster (issue 6 item 9) as a decide() table over real DCS states: the bootstrap by a
 * clone of the remote primary, the standby leader that holds the lease and never promotes, the
 * members that cascade from it, the promotion when standby_cluster is removed (timeline recorded
 * as "manual"); the config's checks; raftgres.conf for the remote upstream.
 */
import { either as E } from "fp-ts";
import t from "tap";
import type { JsonObject } from "../../src/dcs/json.js";
import type { Lsn } from "../../src/dcs/model.js";
import { remoteConnUrl, standbyClusterOf, standbyClusterProblem } from "../../src/dcs/standby_cluster.js";
import { syncModeOf } from "../../src/dcs/sync_mode.js";
import { viewScope } from "../../src/dcs/views.js";
import { decide } from "../../src/ha/decide.js";
import { memberStatus } from "../../src/ha/member_status.js";
import { remoteUpstream } from "../../src/ha/standby.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { renderServerConf } from "../../src/pg/conf.js";
import { resolveSettings } from "../../src/pg/settings.js";
import { rejected } from "../dcs/fixtures.js";
import { REPLICATION, SUPERUSER } from "../pg/support.js";
import { Driver, heldLease, input, m, pg, PRIMARY, SCOPE, SETTINGS, status, summary } from "./fixtures.js";

const SECTION = { host: "10.0.0.5", port: 5433, primary_slot_name: "standby_a" };
const STANDBY = standbyClusterOf({ standby_cluster: SECTION })!;
const REMOTE = "remote 10.0.0.5:5433 slot standby_a";
const STANDBY_SETTINGS = { ...SETTINGS, bootstrapStandbyCluster: STANDBY };
const held = heldLease;
const EMPTY = pg({ dataDir: "empty", systemId: null, process: "stopped", role: null, timeline: null, controlState: "unknown", walReceived: null, walReplayed: null, streaming: false, upstream: null });

const EMPTY_MEMORY_WITH_CRASH = { crashedAtMs: null, replaySince: null, rewindFailure: null, preparedFrom: null, tookLeaseFor: null, promotionBlockedUntilMs: null, syncApplied: { value: null, atMs: 0, lsn: 0n }, startFailure: null, slotsSynced: null, viewConfirmed: true, handedOver: false };

/** pg1 is the standby leader of a standby cluster whose config was written; pg2 and pg3 stream from it. */
function standbyCluster(config: JsonObject = { standby_cluster: SECTION }): Driver {
  const d = new Driver();
  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "standby_leader", state: "streaming", walWritten: null }) });
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "7301234567890123456" });
  d.ok("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 });
  d.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: config });
  d.ok("pg2", { kind: "upsertMember", status: status("pg2") });
  d.ok("pg3", { kind: "upsertMember", status: status("pg3") });
  return d;
}

t.test("bootstrap: the winner clones the remote primary instead of initdb, starts as its standby, records the remote's system id", async (t) => {
  const d = new Driver();
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "" });
  const cloned = decide(input(d, "pg1", { pg: EMPTY, settings: STANDBY_SETTINGS }));
  t.same(summary(cloned.actions), [`clone<${REMOTE}`]);
  t.match(cloned.reason, /standby leader: a clone of the remote primary/);
  const clone = cloned.actions[0];
  t.same(clone?.kind === "clone" && clone.source.connUrl, "host='10.0.0.5' port='5433' dbname='postgres'");
  t.same(summary(decide(input(d, "pg1", { pg: EMPTY })).actions), ["bootstrap"], "without standby_cluster in bootstrap.dcs: initdb");
  const stopped = pg({ process: "stopped", role: null, controlState: "shut down in recovery", upstream: null });
  t.same(summary(decide(input(d, "pg1", { pg: stopped, settings: STANDBY_SETTINGS })).actions), [`start:replica<${REMOTE}`]);
  const running = pg({ upstream: m(REMOTE), systemId: "6999999999999999999" });
  t.same(summary(decide(input(d, "pg1", { pg: running, settings: STANDBY_SETTINGS })).actions), ["dcs:initializeCluster"], "the system id recorded is the remote's");
  t.match(decide(input(d, "pg2", { pg: EMPTY, settings: STANDBY_SETTINGS })).reason, /^waiting for pg1 to bootstrap/, "the others wait, whatever their own bootstrap.dcs says");
  const noHost = { ...STANDBY_SETTINGS, bootstrapStandbyCluster: standbyClusterOf({ standby_cluster: { restore_command: "cp /a/%f %p" } }) };
  t.match(decide(input(d, "pg1", { pg: EMPTY, settings: noHost })).reason, /names no host/, "an archive-only section cannot create the standby leader");

  d.ok("pg1", { kind: "upsertMember", status: status("pg1", { role: "replica", state: "streaming" }) });
  d.ok("pg1", { kind: "initializeCluster", member: m("pg1"), systemId: "6999999999999999999" });
  t.same(summary(decide(input(d, "pg1", { pg: running, settings: STANDBY_SETTINGS })).actions), ["dcs:acquireLease"], "then it takes the lease in the race");
  d.ok("pg1", { kind: "acquireLease", member: m("pg1"), ttlMs: 30_000 });
  const leader = decide(input(d, "pg1", { pg: running, lease: held(), settings: STANDBY_SETTINGS }));
  t.same(summary(leader.actions), ["dcs:renewLease", "syncSlots:"], "before bootstrap.dcs is written, its own section keeps it a standby leader");
  t.same(summary(decide(input(d, "pg2", { pg: EMPTY })).actions), ["clone<pg1"], "the others clone the standby leader");
});

t.test("the standby leader streams from the remote primary, never promotes, keeps the members' slots, no synchronous replication", async (t) => {
  const d = standbyCluster({ standby_cluster: SECTION, synchronous_mode: "on", synchronous_mode_strict: true });
  t.equal(syncModeOf(d.scope().config).mode, "off", "a standby cluster has no synchronous mode");
  const streaming = pg({ upstream: m(REMOTE) });
  const steady = decide(input(d, "pg1", { pg: streaming, lease: held() }));
  t.same(summary(steady.actions), ["dcs:renewLease", "syncSlots:pg2,pg3"]);
  t.match(steady.reason, /^renewed the lease as the standby leader, streaming from remote 10\.0\.0\.5:5433/);
  const elsewhere = decide(input(d, "pg1", { pg: pg({ upstream: m("pg2") }), lease: held() }));
  t.same(summary(elsewhere.actions), ["dcs:renewLease", `followPrimary<${REMOTE}`], "a member that takes the lease points primary_conninfo at the remote");
  const moved = standbyCluster({ standby_cluster: { ...SECTION, host: "10.0.0.6" } });
  t.same(summary(decide(input(moved, "pg1", { pg: streaming, lease: held() })).actions), ["dcs:renewLease", "followPrimary<remote 10.0.0.6:5433 slot standby_a"], "a new remote host re-points it");
  const stopped = pg({ process: "crashed", role: null, controlState: "in archive recovery" });
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: held() })).actions), ["dcs:renewLease", `start:replica<${REMOTE}`], "a crashed standby leader starts again as a standby of the remote, not to be promoted");
  const late = { ...EMPTY_MEMORY_WITH_CRASH, crashedAtMs: 10_000 - SETTINGS.primaryStartTimeoutMs - 1 };
  t.same(summary(decide(input(d, "pg1", { pg: stopped, lease: held(), memory: late })).actions), ["dcs:releaseLease"], "and gives the lease up after primary_start_timeout");
  t.same(summary(decide(input(d, "pg1", { pg: PRIMARY, lease: held() })).actions), ["dcs:renewLease", "stop:fast"], "a primary holding a standby cluster's lease stops, to start as a standby");
  const follower = decide(input(d, "pg2", { pg: pg({ upstream: m("pg1") }) }));
  t.same(summary(follower.actions), ["syncSlots:pg1,pg3"], "the others cascade from the standby leader");
  t.match(follower.reason, /^streaming from pg1/);
  d.advance(31_000);
  d.ok("pg3", { kind: "upsertMember", status: status("pg3") });
  const racing = decide(input(d, "pg2", { pg: pg({ upstream: m("pg1"), replayTimeline: 1 }) })).actions;
  t.same(racing, [{ kind: "dcs", command: { kind: "acquireLease", member: "pg2", ttlMs: SETTINGS.ttlMs } }], "a member racing to lead a standby cluster says no takeover point: it will not promote, and its replicas go on past it");
});

t.test("removing standby_cluster promotes the standby leader; its new timeline is recorded as manual", async (t) => {
  const d = standbyCluster();
  d.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { standby_cluster: null } });
  t.equal(syncModeOf(d.scope().config).mode, "off");
  const promote = decide(input(d, "pg1", { pg: pg({ upstream: m(REMOTE) }), lease: held() }));
  t.same(summary(promote.actions), ["dcs:renewLease", "promote"]);
  const promoted = decide(input(d, "pg1", { pg: { ...PRIMARY, timeline: 2 }, lease: held() }));
  t.same(summary(promoted.actions), ["dcs:renewLease", "dcs:recordTimeline", "syncSlots:pg2,pg3"]);
  const record = promoted.actions[1];
  t.same(record?.kind === "dcs" && record.command.kind === "recordTimeline" && [record.command.reason, record.command.timeline], ["manual", 2]);
  d.ok("pg1", { kind: "recordTimeline", timeline: 2, lsn: 5000n as Lsn, reason: "manual", newPrimary: m("pg1") });
  d.advance(1000);
  d.ok("pg1", { kind: "recordTimeline", timeline: 3, lsn: 6000n as Lsn, reason: "failover", newPrimary: m("pg1") });
  const later = decide(input(d, "pg1", { pg: { ...PRIMARY, timeline: 4 }, lease: held() }));
  const next = later.actions[1];
  t.same(next?.kind === "dcs" && next.command.kind === "recordTimeline" && next.command.reason, "failover", "later changes of primary are not manual");
});

t.test("the member report: standby_leader for the holder of a standby cluster's lease", async (t) => {
  const identity = { name: m("pg1"), apiUrl: "http://x", connUrl: "postgres://x:5432/postgres", tags: status("pg1").tags, agentVersion: "t" };
  t.equal(memberStatus(identity, pg(), null, true).role, "standby_leader");
  t.equal(memberStatus(identity, pg(), null, false).role, "replica");
  t.equal(memberStatus(identity, PRIMARY, null, true).role, "primary");
  const d = standbyCluster();
  const view = viewScope(d.machine.state.scopes.get(SCOPE)!, d.nowMs);
  t.equal(view.members.find((x) => x.name === "pg1")?.role, "standby_leader");
});

t.test("the config: standby_cluster is checked, active with host, port or restore_command, added to a running cluster only by demote-cluster", async (t) => {
  t.equal(standbyClusterProblem({ standby_cluster: SECTION }), null);
  t.equal(standbyClusterProblem({ standby_cluster: null }), null);
  t.match(standbyClusterProblem({ standby_cluster: { port: 70000 } }), /port must be an integer from 1 to 65535/);
  t.match(standbyClusterProblem({ standby_cluster: { host: "a b" } }), /host must be a host name/);
  t.match(standbyClusterProblem({ standby_cluster: { primary_slot_name: "Bad-Slot" } }), /primary_slot_name/);
  t.match(standbyClusterProblem({ standby_cluster: { hots: "x" } }), /unknown key "hots"/);
  t.match(standbyClusterProblem({ standby_cluster: "10.0.0.5" }), /must be an object/);
  t.equal(standbyClusterOf({ standby_cluster: { create_replica_methods: ["basebackup"] } }), null, "no host, port or restore_command: not a standby cluster");
  t.same(standbyClusterOf({ standby_cluster: { port: 5433 } })?.host, "127.0.0.1");
  const multi = standbyClusterOf({ standby_cluster: { host: "db1,db2", recovery_min_apply_delay: 60000 } })!;
  t.equal(remoteConnUrl(multi), "host='db1,db2' port='5432' dbname='postgres' target_session_attrs='read-write'", "several hosts: the writable one");
  t.equal(multi.recoveryMinApplyDelay, "60000");

  const normal = new Driver();
  normal.bootstrap();
  t.match(rejected(normal.run("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { standby_cluster: { port: "x" } } })), /standby_cluster.port/);
  normal.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  t.match(rejected(normal.run("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { standby_cluster: SECTION } })), /use raftgres demote-cluster/, "adding it to a running cluster is demote-cluster's (test/ha/demote_cluster.test.ts)");
  const standby = standbyCluster();
  standby.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { standby_cluster: { port: 5434 } } });
  t.equal(standbyClusterOf(standby.scope().config.value)?.port, 5434, "a standby cluster's section may change");
});

t.test("raftgres.conf of a standby leader: the remote's conninfo, the configured slot, restore_command and apply delay", async (t) => {
  const s = resolveSettings({ memberName: m("s1"), dataDir: "/var/lib/raftgres/s1", listenHost: "127.0.0.1", port: 5433, superuser: SUPERUSER, replication: REPLICATION, parameters: {}, pgHba: [], logger: SILENT_LOGGER });
  if (E.isLeft(s)) throw new Error(s.left);
  const remote = remoteUpstream(standbyClusterOf({ standby_cluster: { ...SECTION, restore_command: "cp /archive/%f %p", recovery_min_apply_delay: "5min" } })!);
  const text = renderServerConf(s.right, { role: "replica", upstream: remote });
  const conf = E.isRight(text) ? text.right.text : "";
  t.match(conf, /^# raftgres upstream member: remote 10\.0\.0\.5:5433 slot standby_a\n/);
  t.match(conf, /^primary_conninfo = 'host=''10\.0\.0\.5'' port=''5433'' user=''rg_repl''/m);
  t.match(conf, /^primary_slot_name = 'standby_a'$/m);
  t.match(conf, /^restore_command = 'cp \/archive\/%f %p'$/m);
  t.match(conf, /^recovery_min_apply_delay = '5min'$/m);
  const noSlot = renderServerConf(s.right, { role: "replica", upstream: remoteUpstream(standbyClusterOf({ standby_cluster: { host: "10.0.0.5" } })!) });
  t.match(E.isRight(noSlot) && noSlot.right.text, /^primary_slot_name = ''$/m, "no slot named: none (the member's own slot does not exist on the remote)");
  const archive = renderServerConf(s.right, { role: "replica", upstream: remoteUpstream(standbyClusterOf({ standby_cluster: { restore_command: "cp /a/%f %p" } })!) });
  t.match(E.isRight(archive) && archive.right.text, /^primary_conninfo = ''$/m, "archive only: no streaming");
});
