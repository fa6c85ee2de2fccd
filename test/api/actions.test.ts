import t from "tap";
import { either as E } from "fp-ts";
import { postgresVersionNumber } from "../../src/api/restart_request.js";
import { cluster, REPLICA_LOCAL, server } from "./fixtures.js";

const json = { "content-type": "application/json" };

t.test("POST /restart restarts now (200), passing the timeout; a busy node's refusal is 409, a failure 503", async (t) => {
  const node = cluster();
  const app = server(node);
  const done = await app.inject({ method: "POST", url: "/restart", headers: json, payload: { timeout: "30s" } });
  t.equal(done.statusCode, 200);
  t.same(done.json(), { message: "restarted PostgreSQL" });
  t.same(node.lastRestart, { timeoutMs: 30_000 });
  const empty = await app.inject({ method: "POST", url: "/restart" });
  t.equal(empty.statusCode, 200, "the body is optional");
  node.restartAnswer = E.left({ code: "busy", message: "a clone is running (42%)" });
  const refused = await app.inject({ method: "POST", url: "/restart" });
  t.equal(refused.statusCode, 409);
  t.match(refused.json(), { error: "conflict", message: "restart failed: a clone is running (42%)" });
  node.restartAnswer = E.left({ code: "failed", message: "PostgreSQL did not start within 30 s" });
  const failed = await app.inject({ method: "POST", url: "/restart" });
  t.equal(failed.statusCode, 503, "a restart that failed is the node's failure");
  t.match(failed.json(), { error: "actionFailed", message: /did not start/ });
  await app.close();
});

t.test("POST /restart filters: role, postgres_version, restart_pending; unmatched is 412, malformed 400", async (t) => {
  const node = cluster("pg2", { ...REPLICA_LOCAL, serverVersion: 150004 });
  const app = server(node);
  const post = async (payload: unknown) => {
    const answer = await app.inject({ method: "POST", url: "/restart", headers: json, payload: JSON.stringify(payload) });
    return { status: answer.statusCode, body: answer.json() };
  };
  t.match(await post({ role: "primary" }), { status: 412, body: { message: /restart conditions are not satisfied: role is replica, not primary/ } });
  t.match(await post({ postgres_version: "15.4" }), { status: 412, body: { message: /server_version 150004 is not older than 15.4/ } });
  t.match(await post({ restart_pending: true }), { status: 412, body: { message: /no restart is pending/ } });
  t.equal(node.calls.filter((c) => c === "restart").length, 0, "nothing restarted");
  t.match(await post({ role: "replica", postgres_version: "15.5" }), { status: 200 });
  t.match(await post({ role: "leader" }), { status: 400, body: { message: /should be either primary, standby_leader, or replica/ } });
  t.match(await post({ postgres_version: "fifteen" }), { status: 400 });
  t.match(await post({ timeout: -1 }), { status: 400, body: { message: /Timeout should be a positive number/ } });
  t.match(await post({ colour: "blue" }), { status: 400, body: { message: /the body has the unknown key "colour" \(known: schedule, role, postgres_version, timeout, restart_pending\)/ } });
  await app.close();
  t.equal(postgresVersionNumber("15.2"), 150002);
  t.equal(postgresVersionNumber("9.6.3"), 90603);
  t.equal(postgresVersionNumber("16"), 160000);
  t.equal(postgresVersionNumber("9"), null);
});

t.test("a scheduled restart: 202, 409 for a second, shown in /patroni, DELETE 200 then 404; 409 in pause", async (t) => {
  const node = cluster();
  const app = server(node);
  const schedule = { schedule: "2099-01-01T03:00:00Z", role: "primary" };
  t.equal((await app.inject({ method: "POST", url: "/restart", headers: json, payload: schedule })).statusCode, 202);
  t.equal((await app.inject({ method: "POST", url: "/restart", headers: json, payload: schedule })).statusCode, 409);
  t.match((await app.inject({ method: "GET", url: "/patroni" })).json(), { scheduled_restart: { schedule: "2099-01-01T03:00:00.000Z", role: "primary" } });
  t.equal((await app.inject({ method: "DELETE", url: "/restart" })).statusCode, 200);
  t.equal((await app.inject({ method: "DELETE", url: "/restart" })).statusCode, 404);
  t.notOk("scheduled_restart" in (await app.inject({ method: "GET", url: "/patroni" })).json());
  t.equal((await app.inject({ method: "POST", url: "/restart", headers: json, payload: { schedule: "2020-01-01T00:00:00Z" } })).statusCode, 422);
  node.driver.ok("api", { kind: "setPause", paused: true });
  const paused = await app.inject({ method: "POST", url: "/restart", headers: json, payload: schedule });
  t.equal(paused.statusCode, 409, "Patroni's 500, but a 5xx is never the client's doing");
  t.match(paused.json(), { message: "Can't schedule restart in the paused state" });
  await app.close();
});

t.test("a scheduled restart runs at its time", async (t) => {
  const node = cluster();
  const app = server(node);
  const at = new Date(Date.now() + 400).toISOString();
  t.equal((await app.inject({ method: "POST", url: "/restart", headers: json, payload: { schedule: at } })).statusCode, 202);
  await new Promise((resolve) => setTimeout(resolve, 900));
  t.same(node.calls.filter((c) => c === "restart"), ["restart"]);
  t.equal((await app.inject({ method: "DELETE", url: "/restart" })).statusCode, 404, "done, so no longer scheduled");
  await app.close();
});

t.test("POST /reload answers 202; POST /reinitialize 200, or 409 with the node's reason", async (t) => {
  const node = cluster("pg2", REPLICA_LOCAL);
  const app = server(node);
  const reload = await app.inject({ method: "POST", url: "/reload" });
  t.equal(reload.statusCode, 202);
  t.same(reload.json(), { message: "reload scheduled" });
  const reinit = await app.inject({ method: "POST", url: "/reinitialize", headers: json, payload: { force: true, from_leader: "true" } });
  t.equal(reinit.statusCode, 200);
  t.same(reinit.json(), { message: "reinitialize started" });
  t.same(node.lastReinit, { force: true, fromLeader: true, from: null });
  t.equal((await app.inject({ method: "POST", url: "/reinitialize" })).statusCode, 200, "no body: no force");
  t.same(node.lastReinit, { force: false, fromLeader: false, from: null });
  t.equal((await app.inject({ method: "POST", url: "/reinitialize", headers: json, payload: { from: "pg3" } })).statusCode, 200);
  t.same(node.lastReinit, { force: false, fromLeader: false, from: "pg3" }, "from names the member to clone from");
  t.equal((await app.inject({ method: "POST", url: "/reinitialize", headers: json, payload: { from: "pg3", from_leader: true } })).statusCode, 400, "from and from_leader exclude each other");
  node.reinitAnswer = E.left({ code: "refused", message: "I am the leader, I cannot be reinitialized" });
  const refused = await app.inject({ method: "POST", url: "/reinitialize" });
  t.equal(refused.statusCode, 409);
  t.match(refused.json(), { error: "conflict", message: /I am the leader/ });
  t.equal((await app.inject({ method: "POST", url: "/reinitialize", headers: json, payload: { force: "maybe" } })).statusCode, 400);
  await app.close();
});
