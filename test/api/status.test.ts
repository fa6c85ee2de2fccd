import t from "tap";
import type { Lsn } from "../../src/dcs/model.js";
import { m } from "../dcs/fixtures.js";
import { cluster, PRIMARY_LOCAL, REPLICA_LOCAL, server, TestNode } from "./fixtures.js";

t.test("GET /patroni uses Patroni's field names and adds raftgres's facts", async (t) => {
  const app = server(cluster("pg1", { ...PRIMARY_LOCAL, pendingRestart: { shared_buffers: { oldValue: "128MB", newValue: "256MB" } } }));
  const answer = await app.inject({ method: "GET", url: "/patroni" });
  t.equal(answer.statusCode, 200);
  t.match(answer.json(), {
    state: "running",
    postmaster_start_time: "2023-11-14T22:13:20.000Z",
    role: "primary",
    server_version: 150018,
    xlog: { location: 1000 },
    timeline: 1,
    replication: [{ usename: "replicator", application_name: "pg2", client_addr: "10.0.0.2", state: "streaming", sync_state: "async", sync_priority: 0 }],
    dcs_last_seen: 1_700_000_000,
    tags: { nofailover: false, failover_priority: 1, nosync: false, noloadbalance: false, clonefrom: false },
    database_system_identifier: "7301234567890123456",
    pending_restart: true,
    pending_restart_reason: { shared_buffers: { old_value: "128MB", new_value: "256MB" } },
    patroni: { version: "0.1.0", scope: "main", name: "pg1" },
    raftgres: { lease: { generation: 1, ms_left: 20_000 }, lease_holder: "pg1", reason: "holding the lease as the primary", raft: { role: "leader", term: 3, commit_index: 42, applied_index: 41, peers: [{ id: "pg2", match_index: 42 }, { id: "pg3", match_index: 40 }] } },
  });
  t.notOk("cluster_unlocked" in answer.json(), "the lease is held");
  t.notOk("pause" in answer.json());
  await app.close();
});

t.test("GET /patroni on a replica: receive/replay positions, streaming, sync flag, pause and unlocked", async (t) => {
  const node = cluster("pg2");
  node.driver.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 0 });
  node.driver.ok("api", { kind: "setPause", paused: true });
  const app = server(node);
  const body = (await app.inject({ method: "GET", url: "/patroni" })).json();
  t.match(body, { role: "replica", xlog: { received_location: 1000, replayed_location: 1000, paused: false }, replication_state: "streaming", sync_standby: true, pause: true });
  node.driver.ok("pg1", { kind: "releaseLease", member: m("pg1"), generation: 1 });
  t.match((await app.inject({ method: "GET", url: "/patroni" })).json(), { cluster_unlocked: true });
  node.status = { ...REPLICA_LOCAL, process: null, busy: "clone", watchdogOk: false };
  t.match((await app.inject({ method: "GET", url: "/patroni" })).json(), { state: "creating replica", watchdog_failed: true });
  await app.close();
});

t.test("GET /cluster lists members sorted with roles, lags and the scheduled switchover", async (t) => {
  const node = cluster("pg2");
  const d = node.driver;
  d.ok("pg1", { kind: "upsertMember", status: { ...d.scope().members.get(m("pg1"))!, walWritten: 5000n as Lsn } });
  d.ok("pg3", { kind: "upsertMember", status: { ...d.scope().members.get(m("pg3"))!, walReceived: null, walReplayed: null, state: "starting" } });
  d.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 0 });
  d.ok("api:alice", { kind: "requestSwitchover", from: m("pg1"), to: m("pg2"), scheduledAtMs: d.nowMs + 3_600_000 });
  const app = server(node);
  const body = (await app.inject({ method: "GET", url: "/cluster" })).json();
  t.same(body.members.map((x: { name: string; role: string; state: string }) => [x.name, x.role, x.state]), [["pg1", "leader", "running"], ["pg2", "sync_standby", "streaming"], ["pg3", "replica", "starting"]]);
  t.match(body.members[0], { api_url: "http://pg1:8008/patroni", host: "pg1", port: 5432, timeline: 1 });
  t.notOk("lag" in body.members[0], "the leader has no lag");
  t.match(body.members[1], { receive_lsn: "0/3E8", receive_lag: 4000, replay_lsn: "0/3E8", replay_lag: 4000, lsn: "0/3E8", lag: 4000 });
  t.match(body.members[2], { receive_lsn: "unknown", lag: "unknown" });
  t.match(body, { scope: "main", scheduled_switchover: { at: "2023-11-14T23:13:20.000Z", from: "pg1", to: "pg2" }, raftgres: { pending: { requested_by: "api:alice" } } });
  node.readFailure = "no Raft leader";
  t.match((await app.inject({ method: "GET", url: "/cluster" })).json(), { members: [{ name: "pg1" }, { name: "pg2" }, { name: "pg3" }], raftgres: { stale: true, stale_reason: "no Raft leader" } });
  await app.close();
  const empty = server(new TestNode("pg1"));
  t.equal((await empty.inject({ method: "GET", url: "/cluster" })).statusCode, 502);
  await empty.close();
});

t.test("GET /history lists [timeline, lsn, reason, timestamp, new_leader] per change of primary", async (t) => {
  const node = cluster("pg1");
  node.driver.ok("pg1", { kind: "recordTimeline", timeline: 1, lsn: 0n as Lsn, reason: "bootstrap", newPrimary: m("pg1") });
  node.driver.advance(1000);
  node.driver.ok("pg1", { kind: "recordTimeline", timeline: 2, lsn: 50_331_808n as Lsn, reason: "switchover", newPrimary: m("pg2") });
  const app = server(node);
  t.same((await app.inject({ method: "GET", url: "/history" })).json(), [[1, 50_331_808, "switchover", "2023-11-14T22:13:21.000Z", "pg2"]]);
  await app.close();
});

/** Parses the Prometheus text format back: HELP/TYPE per family, one sample per line. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Map<string, number> } {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\w+) (gauge|counter)$/.exec(line);
    if (type !== null) types.set(type[1]!, type[2]!);
    if (line.startsWith("#")) continue;
    const sample = /^(\w+)\{((?:\w+="(?:[^"\\]|\\.)*",?)*)\} (-?[\d.]+(?:e[+-]?\d+)?)$/.exec(line);
    if (sample === null) throw new Error(`not a sample line: ${line}`);
    samples.set(`${sample[1]}{${sample[2]}}`, Number(sample[3]));
  }
  return { types, samples };
}

t.test("GET /metrics is Prometheus text with Patroni's names and raftgres's Raft series", async (t) => {
  const app = server(cluster("pg1"));
  const answer = await app.inject({ method: "GET", url: "/metrics" });
  t.equal(answer.statusCode, 200);
  t.match(answer.headers["content-type"], /^text\/plain; version=0\.0\.4/);
  t.ok(answer.body.endsWith("\n"));
  const { types, samples } = parseMetrics(answer.body);
  const at = (name: string, extra = ""): number | undefined => samples.get(`${name}{scope="main",name="pg1"${extra}}`);
  t.equal(at("patroni_version"), 100, "0.1.0 padded as 000100");
  t.equal(at("patroni_postgres_running"), 1);
  t.equal(at("patroni_primary"), 1);
  t.equal(at("patroni_replica"), 0);
  t.equal(at("patroni_xlog_location"), 1000);
  t.equal(at("patroni_postgres_timeline"), 1);
  t.equal(at("patroni_postgres_server_version"), 150018);
  t.equal(at("patroni_postmaster_start_time"), 1_700_000_000);
  t.equal(at("patroni_dcs_last_seen"), 1_700_000_000);
  t.equal(at("patroni_cluster_unlocked"), 0);
  t.equal(at("patroni_is_paused"), 0);
  t.equal(at("patroni_pending_restart"), 0);
  t.equal(at("patroni_postgres_state"), 5, "running is code 5");
  t.equal(at("patroni_failover_priority"), 1);
  t.equal(at("raftgres_raft_term"), 3);
  t.equal(at("raftgres_raft_commit_index"), 42);
  t.equal(at("raftgres_raft_applied_index"), 41);
  t.equal(at("raftgres_raft_is_leader"), 1);
  t.equal(at("raftgres_raft_peer_match_index", ',peer="pg2"'), 42);
  t.equal(at("raftgres_raft_peer_match_index", ',peer="pg3"'), 40);
  t.equal(at("raftgres_raft_loop_stall_max_ms"), 180);
  t.equal(at("raftgres_raft_loop_stall_recent_max_ms"), 35);
  t.equal(at("raftgres_lease_generation"), 1);
  t.equal(types.get("patroni_xlog_location"), "counter");
  t.equal(types.get("patroni_primary"), "gauge");
  for (const name of new Set([...samples.keys()].map((k) => k.slice(0, k.indexOf("{"))))) t.ok(types.has(name), `${name} has a TYPE line`);
  await app.close();

  const replica = server(cluster("pg2", { ...REPLICA_LOCAL, process: "stopped" }));
  const r = parseMetrics((await replica.inject({ method: "GET", url: "/metrics" })).body).samples;
  t.equal(r.get('patroni_postgres_state{scope="main",name="pg2"}'), 12, "stopped is code 12");
  t.equal(r.get('patroni_replica{scope="main",name="pg2"}'), 1);
  t.equal(r.get('patroni_xlog_received_location{scope="main",name="pg2"}'), 1000);
  await replica.close();
});
