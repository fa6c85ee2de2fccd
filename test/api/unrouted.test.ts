/**
 * Reads of paths the API has no route for, and GET /failsafe, as Patroni 4 answers them
 * (patroni/api.py: parse_request routes by the path's first segment; do_GET checks health by
 * substrings of the path; do_GET_failsafe answers 502 while failsafe mode is off).
 */
import t from "tap";
import { healthCheckOfPath } from "../../src/api/unrouted_reads.js";
import { basic, cluster, server } from "./fixtures.js";

t.test("healthCheckOfPath picks do_GET's check by substring, in its order", async (t) => {
  const cases: [string, string | null][] = [
    ["/standby_leader/x", "standbyLeader"],
    ["/my-standby-leader", "standbyLeader"],
    ["/x/leader", "leader"],
    ["/masterful", "primary"],
    ["/primary/", "primary"],
    ["/read-write-please", "primary"],
    ["/replica-lagged", "replica"],
    ["/read-only/", "readOnly"],
    ["/read-only-sync/x", null],
    ["/read-only-quorum/", null],
    ["/healthz", "health"],
    ["/sync/", null],
    ["/nowhere", null],
    ["/switchover", null],
    ["/raft/x", null],
  ];
  for (const [path, check] of cases) t.equal(healthCheckOfPath(path), check, path);
});

t.test("GET of an unknown path is a health check: 503 with the status document when it names none", async (t) => {
  const app = server(cluster("pg1"));
  t.teardown(() => app.close());
  const none = await app.inject({ method: "GET", url: "/nowhere" });
  t.equal(none.statusCode, 503);
  t.match(none.json(), { state: "running", role: "primary", patroni: { name: "pg1" } });
  const leader = await app.inject({ method: "GET", url: "/x/leader?lag=1MB" });
  t.equal(leader.statusCode, 200, "the primary passes a path containing 'leader'");
  t.match(leader.json(), { role: "primary" });
  t.equal((await app.inject({ method: "GET", url: "/replica-lagged" })).statusCode, 503, "the primary is no replica");
  t.equal((await app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  const bad = await app.inject({ method: "GET", url: "/replica-x?lag=1%20MiB" });
  t.equal(bad.statusCode, 400, "a lag that is not a size is refused as on /replica");
});

t.test("HEAD and OPTIONS of an unknown path answer the status alone", async (t) => {
  const app = server(cluster("pg2"));
  t.teardown(() => app.close());
  for (const method of ["HEAD", "OPTIONS"] as const) {
    const replica = await app.inject({ method, url: "/replica/" });
    t.equal(replica.statusCode, 200, `${method} /replica/ on a streaming replica`);
    t.equal(replica.body, "", `${method} has no body`);
    t.equal((await app.inject({ method, url: "/nowhere" })).statusCode, 503, `${method} /nowhere`);
  }
});

t.test("a read under a route's path is that route, as Patroni routes by the first segment", async (t) => {
  const app = server(cluster("pg1"));
  t.teardown(() => app.close());
  const cluster_ = await app.inject({ method: "GET", url: "/cluster/" });
  t.equal(cluster_.statusCode, 200);
  t.match(cluster_.json(), { scope: "main", members: [{ name: "pg1" }, { name: "pg2" }, { name: "pg3" }] });
  t.match((await app.inject({ method: "GET", url: "/patroni/anything" })).json(), { patroni: { name: "pg1" } });
  t.equal((await app.inject({ method: "GET", url: "/config/" })).statusCode, 200);
  t.same((await app.inject({ method: "GET", url: "/history/x" })).json(), []);
  t.match((await app.inject({ method: "GET", url: "/metrics/" })).body, /^# HELP patroni_version/m);
  t.equal((await app.inject({ method: "GET", url: "/liveness/x" })).statusCode, 200);
  t.equal((await app.inject({ method: "GET", url: "/failsafe/x" })).statusCode, 502);
});

t.test("GET /failsafe is 502: raftgres has no failsafe mode, whatever failsafe_mode says", async (t) => {
  const node = cluster("pg1");
  const app = server(node);
  t.teardown(() => app.close());
  const off = await app.inject({ method: "GET", url: "/failsafe" });
  t.equal(off.statusCode, 502);
  t.match(off.json(), { error: "failsafeOff", message: /^failsafe mode is off: raftgres has none/ });
  node.driver.ok("api", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { failsafe_mode: true } });
  t.equal((await app.inject({ method: "GET", url: "/failsafe" })).statusCode, 502);
});

t.test("changes to unknown paths stay 404 sentences; unknown reads need credentials when reads do", async (t) => {
  const authentication = { username: "admin", password: "s3cret" };
  const app = server(cluster("pg1"), { authentication, requireAuthForReads: true });
  t.teardown(() => app.close());
  const authorization = basic("admin", "s3cret");
  const post = await app.inject({ method: "POST", url: "/nowhere", headers: { authorization } });
  t.equal(post.statusCode, 404);
  t.match(post.json(), { error: "notFound", message: /^there is no route "POST \/nowhere"/ });
  t.equal((await app.inject({ method: "GET", url: "/nowhere" })).statusCode, 401);
  t.equal((await app.inject({ method: "GET", url: "/x/leader", headers: { authorization } })).statusCode, 200);
});
