/**
 * Issue 12 at the REST edge: every body bounded and checked before anything is written, with a
 * 4xx whose sentence names what is wrong and the limit or rule. The reproductions first (an
 * authenticated cluster, as the user had), then the rule for each route.
 */
import t, { type Test } from "tap";
import type { FastifyInstance } from "fastify";
import { basic, cluster, server, type TestNode } from "./fixtures.js";

const authentication = { username: "admin", password: "s3cret" };
const headers = { "content-type": "application/json", authorization: basic("admin", "s3cret") };

function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

async function send(app: FastifyInstance, method: "POST" | "PATCH" | "PUT" | "DELETE", url: string, payload?: string | object) {
  const body = payload === undefined ? {} : { payload: typeof payload === "string" ? payload : JSON.stringify(payload) };
  const answer = await app.inject({ method, url, headers, ...body });
  return { status: answer.statusCode, body: answer.json() as { error?: string; message: string } };
}

/** What a request must not have done: no command, no action, no wake. */
function unchanged(t: Test, node: TestNode, configVersion = 0): void {
  t.same(node.executed, [], "no command was executed");
  t.same(node.calls, [], "the node was asked nothing");
  t.equal(node.view()!.config.version, configVersion, "the config is unchanged");
}

t.test("a config nested 4,000 or 5,000 deep is a 400 naming the depth limit, not a crash or a 503", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  for (const depth of [4000, 5000, 17]) {
    const answer = await send(app, "PATCH", "/config", nested(depth));
    t.equal(answer.status, 400, `${depth} deep`);
    t.match(answer.body, { error: "badRequest", message: "PATCH /config refused: the body is nested more than 16 levels deep, over the limit of 16" });
  }
  const inStrings = await send(app, "PATCH", "/config", { ttl: `\"${"[{".repeat(40)}` });
  t.match(inStrings, { status: 400, body: { message: /ttl must be a number of seconds from 3 to 3600, got "\\"\[\{/ } }, "brackets inside strings do not count");
  const sixteen = await send(app, "PATCH", "/config", { standby_cluster: JSON.parse(nested(14)) });
  t.match(sixteen, { status: 400, body: { message: /standby_cluster: unknown key "a"/ } }, "16 deep is within the bounds: the config's rules come next");
  unchanged(t, node);
  await app.close();
});

t.test("HA settings are checked as Patroni 3.1+ does: every problem at once, naming the key and the rule", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  const answer = await send(app, "PATCH", "/config", { loop_wait: "x", retry_timeout: 0, postgresql: "x" });
  t.equal(answer.status, 400);
  t.match(answer.body.message, /^the config was not changed: /);
  t.match(answer.body.message, /loop_wait must be a number of seconds from 0\.1 to 600, got "x"/);
  t.match(answer.body.message, /retry_timeout must be a number of seconds from 0\.5 to 1800, got 0/);
  t.match(answer.body.message, /postgresql must be an object \(parameters, use_pg_rewind, use_slots, pg_hba …\), got "x"/);
  const rule = await send(app, "PATCH", "/config", { ttl: 5, loop_wait: 2, retry_timeout: 2 });
  t.equal(rule.status, 400);
  t.match(rule.body.message, /loop_wait 2 s \+ 2 × retry_timeout 2 s = 6 s exceeds ttl 5 s: the rule is loop_wait \+ 2 × retry_timeout ≤ ttl/);
  const put = await send(app, "PUT", "/config", { ttl: 1, loop_wait: null });
  t.match(put, { status: 400, body: { message: /ttl must be a number of seconds from 3 to 3600, got 1; loop_wait must be a number of seconds from 0\.1 to 600, got null/ } });
  unchanged(t, node);
  t.equal((await send(app, "PATCH", "/config", { ttl: 10, loop_wait: 2, retry_timeout: 3 })).status, 200, "values within the rule pass");
  await app.close();
});

t.test("PostgreSQL parameters are checked before they are accepted", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  const cases: [unknown, RegExp][] = [
    [{ no_such_param: "1" }, /postgresql\.parameters\.no_such_param/],
    [{ work_mem: "lots" }, /postgresql\.parameters\.work_mem/],
    [{ max_connections: 0 }, /postgresql\.parameters\.max_connections/],
    [{ work_mem: { value: "4MB" } }, /postgresql\.parameters\.work_mem must be a string, a number or a boolean, got \{"value":"4MB"\}/],
    [{ listen_addresses: "*" }, /postgresql\.parameters\.listen_addresses/],
    [{ search_path: "a\nb" }, /control character/],
  ];
  for (const [parameters, message] of cases) {
    const answer = await send(app, "PATCH", "/config", { postgresql: { parameters } });
    t.equal(answer.status, 400, JSON.stringify(parameters));
    t.match(answer.body.message, message, JSON.stringify(parameters));
  }
  t.match(await send(app, "PATCH", "/config", { postgresql: { parameters: "x" } }), { status: 400, body: { message: /postgresql\.parameters must be an object/ } });
  t.match(await send(app, "PATCH", "/config", { postgresql: { parameter: {} } }), { status: 400, body: { message: /postgresql has no key "parameter" \(known: parameters, use_pg_rewind/ } });
  unchanged(t, node);
  const ok = await send(app, "PATCH", "/config", { postgresql: { parameters: { work_mem: "16MB", max_connections: 200, log_connections: true } } });
  t.equal(ok.status, 200, ok.body.message);
  await app.close();
});

t.test("a PATCH is held only to what it touches: an older mistake does not block other edits", async (t) => {
  const node = cluster();
  // Stored before the edge checked parameters (the cluster state's rules do not know them).
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { postgresql: { parameters: { no_such_param: "1" } }, my_old_key: 1 } });
  const app = server(node, { authentication });
  t.equal((await send(app, "PATCH", "/config", { maximum_lag_on_failover: 2048 })).status, 200);
  t.equal((await send(app, "PATCH", "/config", { postgresql: { parameters: { work_mem: "8MB" } } })).status, 200, "another parameter");
  t.equal((await send(app, "PATCH", "/config", { my_old_key: null, postgresql: { parameters: { no_such_param: null } } })).status, 200, "the mistakes can be deleted");
  t.same(node.view()!.config.value, { maximum_lag_on_failover: 2048, postgresql: { parameters: { work_mem: "8MB" } } });
  const put = await send(app, "PUT", "/config", { ...node.view()!.config.value, ttll: 1 });
  t.match(put, { status: 400, body: { message: /the config has no key "ttll" \(did you mean ttl\?\)/ } }, "a PUT is the whole config");
  await app.close();
});

t.test("unknown config keys, wrong types and an over-size config are refused; nothing is written", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  t.match(await send(app, "PATCH", "/config", { loop_wiat: 1, TTL: 5, Pause: true, my_key: 1 }), { status: 400, body: { message: /the config has no keys "loop_wiat" \(did you mean loop_wait\?\), "TTL" \(did you mean ttl\?\), "Pause" \(did you mean pause\?\): keys of your own are stored as they are, but not near misses of raftgres's \(ttl, loop_wait, retry_timeout/ } });
  t.match(await send(app, "PATCH", "/config", { check_timeline: "yes", max_timelines_history: -1 }), { status: 400, body: { message: /check_timeline must be true or false, got "yes"; max_timelines_history must be an integer of entries/ } });
  t.match(await send(app, "PATCH", "/config", { synchronous_mode: "sometimes" }), { status: 400, body: { message: /synchronous_mode must be off, on or quorum/ } });
  const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, "x".repeat(8000)]));
  t.match(await send(app, "PATCH", "/config", { postgresql: { recovery_conf: big } }), { status: 413, body: { error: "payloadTooLarge", message: /the config would be \d+ bytes in canonical form, over the limit of 262144/ } });
  t.match(await send(app, "PATCH", "/config", { a: "line\nbreak" }), { status: 400, body: { message: /the body\.a holds a control character \(U\+000A at position 4\)/ } });
  t.match(await send(app, "PATCH", "/config", '{"__proto__": {"ttl": 1}}'), { status: 400, body: { message: /the key "__proto__", which is not allowed/ } });
  t.match(await send(app, "PATCH", "/config", { ttl: "x".repeat(9000) }), { status: 400, body: { message: /the body\.ttl is a string of 9000 characters, over the limit of 8192/ } });
  unchanged(t, node);
  await app.close();
});

t.test("POST /reload, DELETE /restart and DELETE /switchover take no body keys", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  t.match(await send(app, "POST", "/reload", "garbage"), { status: 400, body: { message: /the body of POST \/reload is not valid JSON/ } });
  t.match(await send(app, "POST", "/reload", { now: true }), { status: 400, body: { message: /POST \/reload refused: its body takes no keys \(send none, or \{\}\), got "now"/ } });
  t.match(await send(app, "POST", "/reload", "[]"), { status: 400, body: { message: /must be a JSON object, not an array/ } });
  t.match(await send(app, "DELETE", "/restart", { all: 1 }), { status: 400, body: { message: /DELETE \/restart refused/ } });
  t.match(await send(app, "DELETE", "/switchover", { all: 1 }), { status: 400, body: { message: /DELETE \/switchover refused/ } });
  unchanged(t, node);
  t.equal((await send(app, "POST", "/reload", {})).status, 202, "{} is the CLI's body");
  t.equal((await send(app, "POST", "/reload")).status, 202, "no body");
  await app.close();
});

t.test("maintenance: an unknown member or candidate is refused listing the members", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  t.match(await send(app, "POST", "/members/pg1/maintenance", { candidate: "nosuch" }), { status: 400, body: { message: "candidate nosuch is not a member of the cluster main (members: pg1, pg2, pg3)" } });
  t.match(await send(app, "POST", "/members/pg9/maintenance"), { status: 404, body: { message: "member pg9 is not a member of the cluster main (members: pg1, pg2, pg3)" } });
  t.match(await send(app, "POST", "/members/pg1/maintenance", { candidate: "pg1" }), { status: 400, body: { message: /candidate pg1 is the member taken out/ } });
  t.match(await send(app, "POST", "/members/pg2/maintenance", { candidate: 7 }), { status: 400, body: { message: /candidate must be a member name \(a string\), not 7/ } });
  t.match(await send(app, "POST", "/members/pg2/maintenance", { candidat: "pg3" }), { status: 400, body: { message: /unknown key "candidat" \(known: candidate\)/ } });
  t.match(await send(app, "DELETE", "/members/pg2/maintenance", { candidate: "pg3" }), { status: 400, body: { message: /its body takes no keys/ } });
  unchanged(t, node);
  t.equal((await send(app, "POST", "/members/pg2/maintenance", {})).status, 200, "a known replica with no candidate");
  await app.close();
});

t.test("switchover and failover: unknown keys 400, unknown leader or candidate 412 listing the members", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  t.match(await send(app, "POST", "/switchover", { leader: "pg1", candidate: "pg9" }), { status: 412, body: { message: "Switchover is not possible: pg9 is not a member of the cluster (members: pg1, pg2, pg3)", candidates: [{ member: "pg9", reason: "pg9 is not a member of the cluster" }] } });
  t.match(await send(app, "POST", "/switchover", { leader: "pg9" }), { status: 412, body: { message: "leader name does not match: leader pg9 is not a member of the cluster main (members: pg1, pg2, pg3)" } });
  t.match(await send(app, "POST", "/failover", { candidate: "nosuch" }), { status: 412, body: { message: /Failover is not possible: nosuch is not a member of the cluster \(members: pg1, pg2, pg3\)/ } });
  t.match(await send(app, "POST", "/switchover", { leader: "pg1", canditate: "pg2" }), { status: 400, body: { message: /unknown key "canditate" \(known: leader, candidate, member, scheduled_at, allow_data_loss\)/ } });
  t.match(await send(app, "POST", "/failover", { candidate: "pg2", allow_data_loss: "yes" }), { status: 400, body: { message: /allow_data_loss must be true or false, not "yes"/ } });
  t.match(await send(app, "POST", "/switchover", { leader: ["pg1"], candidate: {} }), { status: 400, body: { message: /leader must be a member name \(a string\), not \["pg1"\]; candidate must be a member name \(a string\), not \{\}/ } });
  unchanged(t, node);
  await app.close();
});

t.test("restart and reinitialize: Patroni's keys with their types and ranges; from must be a member", async (t) => {
  const node = cluster("pg2");
  const app = server(node, { authentication });
  t.match(await send(app, "POST", "/restart", { timeout: 1e300 }), { status: 400, body: { message: /Timeout should be a positive number of seconds up to 86400/ } });
  t.match(await send(app, "POST", "/restart", { restart_pending: "maybe", role: 1 }), { status: 400, body: { message: /PostgreSQL role should be either primary, standby_leader, or replica, not 1; restart_pending must be true or false/ } });
  t.match(await send(app, "POST", "/restart", { postgres_version: "1".repeat(30) }), { status: 400, body: { message: /is not a PostgreSQL version/ } });
  t.match(await send(app, "POST", "/reinitialize", { from: "pg9" }), { status: 400, body: { message: "from pg9 is not a member of the cluster main (members: pg1, pg2, pg3)" } });
  t.match(await send(app, "POST", "/reinitialize", { from: "pg2" }), { status: 400, body: { message: /from names pg2 itself/ } });
  t.match(await send(app, "POST", "/reinitialize", { force: "sure" }), { status: 400, body: { message: /force must be true or false \(or on\/off, yes\/no, 1\/0\), not "sure"/ } });
  unchanged(t, node);
  const shapes = [{ schedule: "2099-01-01T00:00:00Z", restart_pending: true, role: "replica", postgres_version: "16.1", timeout: "30s" }];
  for (const body of shapes) t.equal((await send(app, "POST", "/restart", body)).status, 202, "Patroni's full restart body is accepted");
  t.equal((await send(app, "POST", "/reinitialize", { force: true, "from-leader": "yes" })).status, 200, "Patroni's spellings");
  await app.close();
});

t.test("Raft membership routes: unknown keys and members are refused", async (t) => {
  const node = cluster();
  const app = server(node, { authentication, timing: { raftCatchUpWaitMs: 50, raftTransferWaitMs: 50, pollIntervalMs: 10 } });
  t.match(await send(app, "POST", "/raft/members", { name: "w1", address: "127.0.0.1:7009", voter: true }), { status: 400, body: { message: /unknown key "voter" \(known: name, address, role\)/ } });
  t.match(await send(app, "POST", "/raft/members", { name: "w1", address: `${"h".repeat(300)}:7009` }), { status: 400, body: { message: /address must be the node's Raft address as host:port/ } });
  t.match(await send(app, "POST", "/raft/transfer", { to: "pg9" }), { status: 400, body: { message: "pg9 is not a member of the Raft group (members: pg1, pg2, pg3)" } });
  t.match(await send(app, "DELETE", "/raft/members/pg3", { force: true }), { status: 400, body: { message: /its body takes no keys/ } });
  t.same(node.membershipChanges, []);
  await app.close();
});

t.test("keys named like Object.prototype's members are keys like any other (found by the REST fuzz)", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  const config = await send(app, "PATCH", "/config", { constructor: { prototype: {} }, postgresql: { toString: 1, parameters: { hasOwnProperty: "1" } } });
  t.equal(config.status, 400);
  t.notMatch(config.body.message, /constructor/, "a key of the user's own");
  t.match(config.body.message, /postgresql has no key "toString"/);
  t.match(config.body.message, /postgresql\.parameters\.hasOwnProperty/);
  t.notMatch(config.body.message, /object Object/);
  t.match(await send(app, "POST", "/restart", { valueOf: 1 }), { status: 400, body: { message: /unknown key "valueOf"/ } });
  const lag = await app.inject({ method: "GET", url: "/replica?lag=1constructor" });
  t.match(lag.json(), { message: /lag="1constructor" is not a size/ });
  unchanged(t, node);
  await app.close();
});

t.test("a user name the client sent is recorded as the author only when it is a short line", async (t) => {
  const node = cluster();
  const app = server(node);
  for (const user of ["line\nbreak", "x".repeat(5000), "ok-user"]) {
    const authorization = `Basic ${Buffer.from(`${user}:pw`).toString("base64")}`;
    const answer = await app.inject({ method: "PATCH", url: "/config", headers: { "content-type": "application/json", authorization }, payload: { ttl: 10 } });
    t.equal(answer.statusCode, 200, user.slice(0, 20));
  }
  t.same(node.executed.map((e) => e.author), ["api", "api", "api:ok-user"]);
  await app.close();
});

t.test("keys of the user's own are stored as they are (the fault-injection harness keeps a token in one)", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  const answer = await send(app, "PATCH", "/config", { jepsen_token: "w1-42", team: { owner: "dba" } });
  t.equal(answer.status, 200, answer.body.message);
  t.same(node.view()!.config.value, { jepsen_token: "w1-42", team: { owner: "dba" } });
  await app.close();
});
