/**
 * GET /cluster as Patroni 4 shows it (patroni/utils.py cluster_as_json): LSNs in PostgreSQL's
 * notation with lags in bytes, the tags a member set, every member's pending restart (the answering
 * node's as it knows it now, the others' as they reported it), a scheduled restart on the answering
 * node's row, and a member that stopped reporting shown as unknown, never as it was.
 */
import t from "tap";
import { DEFAULT_TAGS, type Lsn } from "../../src/dcs/model.js";
import { status as memberStatus, m } from "../dcs/fixtures.js";
import { basic, cluster, PRIMARY_LOCAL, REPLICA_LOCAL, server } from "./fixtures.js";

type Member = Record<string, unknown> & { name: string };

async function clusterMembers(app: ReturnType<typeof server>): Promise<Member[]> {
  const answer = await app.inject({ method: "GET", url: "/cluster" });
  if (answer.statusCode !== 200) throw new Error(`GET /cluster answered ${answer.statusCode}: ${answer.body}`);
  return (answer.json() as { members: Member[] }).members;
}

t.test("LSNs are PostgreSQL's X/X text; lags stay numbers, 0 when ahead; unknown when not known", async (t) => {
  const node = cluster("pg1");
  const d = node.driver;
  const primary = 0x1_0401_d188n;
  d.ok("pg1", { kind: "upsertMember", status: { ...d.scope().members.get(m("pg1"))!, walWritten: primary as Lsn } });
  d.ok("pg2", { kind: "upsertMember", status: memberStatus("pg2", { walReceived: (primary - 16n) as Lsn, walReplayed: (primary - 1024n) as Lsn }) });
  d.ok("pg3", { kind: "upsertMember", status: memberStatus("pg3", { walReceived: (primary + 8n) as Lsn, walReplayed: 0n as Lsn }) });
  const app = server(node);
  t.teardown(() => app.close());
  const [pg1, pg2, pg3] = await clusterMembers(app);
  t.notOk("lsn" in pg1! || "receive_lsn" in pg1!, "the leader has no positions, as in Patroni");
  t.same([pg2!["receive_lsn"], pg2!["receive_lag"], pg2!["replay_lsn"], pg2!["replay_lag"], pg2!["lsn"], pg2!["lag"]], ["1/401D178", 16, "1/401CD88", 1024, "1/401D178", 16]);
  t.same([pg3!["receive_lsn"], pg3!["receive_lag"], pg3!["replay_lsn"], pg3!["replay_lag"]], ["1/401D190", 0, "unknown", "unknown"], "ahead of the primary: lag 0; position 0: unknown");
});

t.test("tags are the ones a member set, and absent when it set none", async (t) => {
  const node = cluster("pg1");
  const d = node.driver;
  d.ok("pg3", { kind: "upsertMember", status: memberStatus("pg3", { tags: { ...DEFAULT_TAGS, nofailover: true, replicatefrom: m("pg2") } }) });
  const app = server(node);
  t.teardown(() => app.close());
  const members = await clusterMembers(app);
  t.notOk("tags" in members[0]!, "pg1 set no tag");
  t.same(members[2]!["tags"], { nofailover: true, replicatefrom: "pg2" });
});

t.test("the answering node's row carries its pending restart and its scheduled restart", async (t) => {
  const pending = { shared_buffers: { oldValue: "128MB", newValue: "256MB" } };
  const app = server(cluster("pg2", { ...REPLICA_LOCAL, pendingRestart: pending }));
  t.teardown(() => app.close());
  const scheduled = await app.inject({ method: "POST", url: "/restart", headers: { authorization: basic("a", "b") }, payload: { schedule: "2099-01-01T00:00:00Z" } });
  t.equal(scheduled.statusCode, 202, scheduled.body);
  const members = await clusterMembers(app);
  t.match(members[1], { name: "pg2", pending_restart: true, pending_restart_reason: { shared_buffers: { old_value: "128MB", new_value: "256MB" } }, scheduled_restart: { schedule: "2099-01-01T00:00:00.000Z" } });
  for (const other of [members[0]!, members[2]!]) t.notOk("pending_restart" in other || "scheduled_restart" in other, `${other.name}: reported none, and a schedule is the answering node's only`);
  t.equal((await app.inject({ method: "DELETE", url: "/restart" })).statusCode, 200);
});

t.test("every member's row carries the pending restart it reported, asked from any node", async (t) => {
  const node = cluster("pg1");
  const d = node.driver;
  const pendingRestart = [
    { name: "max_connections", oldValue: "100", newValue: "200" },
    { name: "shared_buffers", oldValue: "128MB", newValue: "256MB" },
  ];
  d.ok("pg3", { kind: "upsertMember", status: memberStatus("pg3", { pendingRestart }) });
  const app = server(node);
  t.teardown(() => app.close());
  const members = await clusterMembers(app);
  t.match(members[2], {
    name: "pg3",
    pending_restart: true,
    pending_restart_reason: { max_connections: { old_value: "100", new_value: "200" }, shared_buffers: { old_value: "128MB", new_value: "256MB" } },
  });
  t.notOk("scheduled_restart" in members[2]!, "a schedule is the answering node's only");
  t.notOk("pending_restart" in members[0]! || "pending_restart" in members[1]!, "pg1 (the answering node, nothing pending) and pg2 reported none");
  // The restart done, pg3 reports without it: the row follows.
  d.ok("pg3", { kind: "upsertMember", status: memberStatus("pg3") });
  t.notOk("pending_restart" in (await clusterMembers(app))[2]!, "cleared by pg3's next report");
  // A member that stopped reporting: its last report may be stale, so it is not shown.
  d.ok("pg3", { kind: "upsertMember", status: memberStatus("pg3", { pendingRestart }) });
  d.advance(6000);
  d.ok("pg1", { kind: "upsertMember", status: d.scope().members.get(m("pg1"))! });
  t.match((await clusterMembers(app))[2], { name: "pg3", state: "unknown", gone: true }, "silent for longer than ttl");
  t.notOk("pending_restart" in (await clusterMembers(app))[2]!, "a silent member's pending restart is not shown");
});

t.test("a member silent for longer than ttl is unknown, with when it was last seen", async (t) => {
  const node = cluster("pg1");
  const d = node.driver;
  const app = server(node);
  t.teardown(() => app.close());
  // ttl is 5 s (CONFIG_DEFAULTS); pg1 and pg2 go on reporting, pg3's agent stopped.
  for (let i = 0; i < 3; i++) {
    d.advance(2000);
    d.ok("pg1", { kind: "upsertMember", status: d.scope().members.get(m("pg1"))! });
    d.ok("pg2", { kind: "upsertMember", status: memberStatus("pg2") });
    const pg3 = (await clusterMembers(app))[2]!;
    if (i < 2) t.match(pg3, { name: "pg3", state: "streaming" }, `within ttl (${(i + 1) * 2} s)`);
    else t.match(pg3, { name: "pg3", role: "replica", state: "unknown", gone: true, last_seen: "2023-11-14T22:13:20.000Z" }, "6 s silent: unknown");
  }
  t.match((await clusterMembers(app))[1], { name: "pg2", state: "streaming" });
  t.notOk("gone" in (await clusterMembers(app))[1]!);
});

t.test("a stale copy is judged at the wall clock: nobody reported since, so nobody is running", async (t) => {
  const node = cluster("pg2", REPLICA_LOCAL);
  let wallMs = node.driver.nowMs;
  const app = server(node, { clock: () => wallMs });
  t.teardown(() => app.close());
  node.readFailure = "no Raft leader is known";
  const fresh = (await app.inject({ method: "GET", url: "/cluster" })).json() as { members: Member[]; raftgres: Record<string, unknown> };
  t.same(fresh.members.map((x) => x.state), ["running", "streaming", "streaming"], "just cut off: as last reported");
  t.match(fresh.raftgres, { stale: true, lease: { holder: "pg1", expired: false } });
  wallMs += 6000;
  const later = (await app.inject({ method: "GET", url: "/cluster" })).json() as { members: Member[] };
  t.same(later.members.map((x) => x.state), ["unknown", "unknown", "unknown"]);
  wallMs += 30_000;
  const expired = (await app.inject({ method: "GET", url: "/cluster" })).json() as { members: Member[]; raftgres: Record<string, unknown> };
  t.equal(expired.members[0]!["role"], "replica", "a lease expired by the wall clock makes no leader");
  t.match(expired.raftgres, { lease: { holder: "pg1", expired: true } });
  // A linearizable read is judged at the cluster state's own time, whatever this node's clock says.
  node.readFailure = null;
  t.same((await clusterMembers(app)).map((x) => x["state"]), ["running", "streaming", "streaming"]);
});

t.test("a scheduled switchover names only what the request named", async (t) => {
  const node = cluster("pg1", PRIMARY_LOCAL);
  node.driver.ok("api", { kind: "requestSwitchover", from: m("pg1"), to: null, scheduledAtMs: node.driver.nowMs + 60_000 });
  const app = server(node);
  t.teardown(() => app.close());
  const body = (await app.inject({ method: "GET", url: "/cluster" })).json() as Record<string, unknown>;
  t.same(body["scheduled_switchover"], { at: "2023-11-14T22:14:20.000Z", from: "pg1" });
});
