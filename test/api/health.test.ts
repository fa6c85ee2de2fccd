import t from "tap";
import type { Lsn } from "../../src/dcs/model.js";
import { DEFAULT_TAGS } from "../../src/dcs/model.js";
import { m } from "../dcs/fixtures.js";
import { cluster, PRIMARY_LOCAL, REPLICA_LOCAL, server, TestNode } from "./fixtures.js";

async function codes(node: TestNode, paths: readonly string[]): Promise<Record<string, number>> {
  const app = server(node);
  const out: Record<string, number> = {};
  for (const path of paths) out[path] = (await app.inject({ method: "GET", url: path })).statusCode;
  await app.close();
  return out;
}

const ALL = ["/", "/primary", "/read-write", "/master", "/leader", "/standby-leader", "/standby_leader", "/replica", "/read-only", "/sync", "/synchronous", "/async", "/asynchronous", "/quorum", "/read-only-sync", "/read-only-quorum", "/health"];

t.test("the primary holding the lease passes the primary checks and fails the replica ones", async (t) => {
  t.same(await codes(cluster("pg1"), ALL), {
    "/": 200, "/primary": 200, "/read-write": 200, "/master": 200, "/leader": 200, "/standby-leader": 503, "/standby_leader": 503,
    "/replica": 503, "/read-only": 200, "/sync": 503, "/synchronous": 503, "/async": 503, "/asynchronous": 503, "/quorum": 503,
    "/read-only-sync": 200, "/read-only-quorum": 200, "/health": 200,
  });
});

t.test("a streaming replica passes /replica, /read-only and /async", async (t) => {
  t.same(await codes(cluster("pg2"), ALL), {
    "/": 503, "/primary": 503, "/read-write": 503, "/master": 503, "/leader": 503, "/standby-leader": 503, "/standby_leader": 503,
    "/replica": 200, "/read-only": 200, "/sync": 503, "/synchronous": 503, "/async": 200, "/asynchronous": 200, "/quorum": 503,
    "/read-only-sync": 503, "/read-only-quorum": 503, "/health": 200,
  });
});

t.test("a replica off the primary's history fails every health check and says diverged", async (t) => {
  const node = cluster("pg2", { ...REPLICA_LOCAL, diverged: "its timeline 4 is newer than the primary's 3" });
  const answered = await codes(node, ALL);
  t.same(Object.entries(answered).filter(([, code]) => code !== 503), [], "503 everywhere, /replica, /read-only and /health included");
  const app = server(node);
  const patroni = (await app.inject({ method: "GET", url: "/patroni" })).json() as { state: string };
  await app.close();
  t.equal(patroni.state, "diverged");
});

t.test("a primary whose PostgreSQL is down fails /primary even while it holds the lease", async (t) => {
  const node = cluster("pg1", { ...PRIMARY_LOCAL, process: "crashed" });
  t.same(await codes(node, ["/primary", "/health", "/read-only"]), { "/primary": 503, "/health": 503, "/read-only": 503 });
});

t.test("the synchronous standby listed by the primary passes /sync, not /async; quorum voters pass /quorum", async (t) => {
  const node = cluster("pg2");
  node.driver.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "on" } });
  node.driver.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2")], quorum: 1 });
  t.same(await codes(node, ["/sync", "/async", "/quorum", "/read-only-sync", "/read-only-quorum"]), { "/sync": 200, "/async": 503, "/quorum": 503, "/read-only-sync": 200, "/read-only-quorum": 503 });
  node.driver.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { synchronous_mode: "quorum" } });
  node.driver.ok("pg1", { kind: "setSyncState", expectedVersion: null, leader: m("pg1"), standbys: [m("pg2"), m("pg3")], quorum: 1 });
  t.same(await codes(node, ["/sync", "/async", "/quorum", "/read-only-quorum"]), { "/sync": 503, "/async": 503, "/quorum": 200, "/read-only-quorum": 200 });
});

t.test("without any cluster state the checks that need it fail", async (t) => {
  const node = new TestNode("pg2", REPLICA_LOCAL);
  t.same(await codes(node, ["/replica", "/sync", "/async", "/read-only-sync"]), { "/replica": 200, "/sync": 503, "/async": 503, "/read-only-sync": 503 });
});

t.test("?lag= accepts bytes and units, refuses what is not a size, and compares the replayed WAL", async (t) => {
  const node = cluster("pg2", { ...REPLICA_LOCAL, walReceived: 1000n as Lsn, walReplayed: 1000n as Lsn });
  // The primary reports 101000: the replica replayed 100000 bytes less.
  node.driver.ok("pg1", { kind: "upsertMember", status: { ...node.driver.scope().members.get(m("pg1"))!, walWritten: 101_000n as Lsn } });
  t.same(await codes(node, ["/replica?lag=16kB", "/replica?lag=1MB", "/replica?lag=99999", "/replica?lag=100000", "/replica?lag=1GB", "/async?lag=64kB", "/read-only?lag=10"]), {
    "/replica?lag=16kB": 503, "/replica?lag=1MB": 200, "/replica?lag=99999": 503, "/replica?lag=100000": 200, "/replica?lag=1GB": 200, "/async?lag=64kB": 503, "/read-only?lag=10": 503,
  });
  const app = server(node);
  const bad = await app.inject({ method: "GET", url: "/replica?lag=1%20MiB" });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: "badRequest", message: /lag="1 MiB" is not a size/ });
  t.equal((await app.inject({ method: "HEAD", url: "/replica?lag=lots" })).statusCode, 400);
  await app.close();
});

t.test("?replication_state= and ?tag_<key>= filter replicas; primary checks ignore tags", async (t) => {
  const node = cluster("pg2");
  t.same(await codes(node, [
    "/replica?replication_state=streaming", "/replica?replication_state=in%20archive%20recovery",
    "/replica?tag_nofailover=false", "/replica?tag_nofailover=true", "/replica?tag_failover_priority=1", "/replica?tag_rack=a", "/read-only?tag_nosync=true",
  ]), {
    "/replica?replication_state=streaming": 200, "/replica?replication_state=in%20archive%20recovery": 503,
    "/replica?tag_nofailover=false": 200, "/replica?tag_nofailover=true": 503, "/replica?tag_failover_priority=1": 200, "/replica?tag_rack=a": 503, "/read-only?tag_nosync=true": 503,
  });
  t.same(await codes(cluster("pg1"), ["/primary?tag_rack=a", "/leader?tag_nofailover=true", "/read-only?tag_rack=a"]), { "/primary?tag_rack=a": 200, "/leader?tag_nofailover=true": 200, "/read-only?tag_rack=a": 503 });
  const notStreaming = cluster("pg2", { ...REPLICA_LOCAL, streaming: false });
  t.same(await codes(notStreaming, ["/replica", "/replica?replication_state=streaming"]), { "/replica": 200, "/replica?replication_state=streaming": 503 });
  const hidden = cluster("pg2", { ...REPLICA_LOCAL, tags: { ...DEFAULT_TAGS, noloadbalance: true } });
  t.same(await codes(hidden, ["/replica", "/read-only", "/health"]), { "/replica": 503, "/read-only": 503, "/health": 200 });
});

t.test("HEAD and OPTIONS answer the status alone; GET carries the node status", async (t) => {
  const app = server(cluster("pg1"));
  for (const method of ["HEAD", "OPTIONS"] as const) {
    const yes = await app.inject({ method, url: "/primary" });
    const no = await app.inject({ method, url: "/replica" });
    t.equal(yes.statusCode, 200, `${method} /primary`);
    t.equal(no.statusCode, 503, `${method} /replica`);
    t.equal(yes.body, "", `${method} has no body`);
    t.equal(no.body, "", `${method} has no body`);
  }
  t.equal((await app.inject({ method: "OPTIONS", url: "/" })).statusCode, 200, "OPTIONS / is answered (HAProxy's default check)");
  const get = await app.inject({ method: "GET", url: "/replica" });
  t.equal(get.statusCode, 503);
  t.match(get.json(), { state: "running", role: "primary", patroni: { scope: "main", name: "pg1" } });
  await app.close();
});

t.test("/liveness follows the HA loop's age (ttl on a primary, twice on a replica, always in pause)", async (t) => {
  const ttlMs = 5000;
  t.same(await codes(cluster("pg1", { ...PRIMARY_LOCAL, haLoopAgeMs: ttlMs - 1 }), ["/liveness"]), { "/liveness": 200 });
  t.same(await codes(cluster("pg1", { ...PRIMARY_LOCAL, haLoopAgeMs: ttlMs + 1 }), ["/liveness"]), { "/liveness": 503 });
  t.same(await codes(cluster("pg2", { ...REPLICA_LOCAL, haLoopAgeMs: ttlMs + 1 }), ["/liveness"]), { "/liveness": 200 });
  const paused = cluster("pg1", { ...PRIMARY_LOCAL, haLoopAgeMs: 60_000 });
  paused.driver.ok("api", { kind: "setPause", paused: true });
  t.same(await codes(paused, ["/liveness"]), { "/liveness": 200 });
});

t.test("/readiness: the lease holder is ready; a replica when streaming within the lag", async (t) => {
  t.same(await codes(cluster("pg1"), ["/readiness"]), { "/readiness": 200 });
  const node = cluster("pg2");
  node.driver.ok("pg1", { kind: "upsertMember", status: { ...node.driver.scope().members.get(m("pg1"))!, walWritten: 5000n as Lsn } });
  node.status = { ...REPLICA_LOCAL, walReceived: 4900n as Lsn, walReplayed: 2000n as Lsn };
  t.same(await codes(node, ["/readiness", "/readiness?lag=1000", "/readiness?lag=1000&mode=write"]), { "/readiness": 200, "/readiness?lag=1000": 503, "/readiness?lag=1000&mode=write": 200 });
  const app = server(node);
  const body = (await app.inject({ method: "GET", url: "/readiness?lag=1000" })).json();
  t.match(body, { ready: false, reason: /replication apply lag 3000 exceeds the maximum allowed 1000/ });
  t.equal((await app.inject({ method: "GET", url: "/readiness?mode=fast" })).statusCode, 400);
  await app.close();
  t.same(await codes(cluster("pg2", { ...REPLICA_LOCAL, streaming: false }), ["/readiness"]), { "/readiness": 503 });
});
