import t from "tap";
import { cluster, server, TestNode } from "./fixtures.js";

const json = { "content-type": "application/json" };

t.test("GET /config returns the config with its version as ETag; 502 without cluster state", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 30, postgresql: { parameters: { max_connections: 100 } } } });
  const app = server(node);
  const answer = await app.inject({ method: "GET", url: "/config" });
  t.equal(answer.statusCode, 200);
  t.same(answer.json(), { ttl: 30, postgresql: { parameters: { max_connections: 100 } } });
  t.equal(answer.headers["etag"], '"1"');
  await app.close();
  const empty = server(new TestNode());
  t.equal((await empty.inject({ method: "GET", url: "/config" })).statusCode, 502);
  await empty.close();
});

t.test("PATCH /config merges (null deletes), answers the new config and wakes the HA loop", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 30, loop_wait: 10, postgresql: { parameters: { max_connections: 100, work_mem: "4MB" } } } });
  const app = server(node);
  const answer = await app.inject({ method: "PATCH", url: "/config", headers: json, payload: { loop_wait: null, postgresql: { parameters: { work_mem: "8MB" } } } });
  t.equal(answer.statusCode, 200);
  t.same(answer.json(), { ttl: 30, postgresql: { parameters: { max_connections: 100, work_mem: "8MB" } } });
  t.equal(answer.headers["etag"], '"2"');
  t.same(node.executed.map((e) => [e.command.kind, e.author]), [["setConfig", "api"]]);
  t.match(node.executed[0]!.command, { expectedVersion: 1, mode: "patch" });
  t.ok(node.calls.includes("wake"));
  await app.close();
});

t.test("PATCH /config loses to a concurrent change: 409 and nothing written", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 30 } });
  node.beforeExecute = () => {
    node.beforeExecute = null;
    node.driver.ok("api:bob", { kind: "setConfig", expectedVersion: null, mode: "patch", value: { loop_wait: 5 } });
  };
  const app = server(node);
  const answer = await app.inject({ method: "PATCH", url: "/config", headers: json, payload: { ttl: 40 } });
  t.equal(answer.statusCode, 409);
  t.match(answer.json(), { error: "conflict", message: /at version 2, not 1/ });
  t.same(node.view()!.config.value, { ttl: 30, loop_wait: 5 }, "only the concurrent change applied");
  t.notOk(node.calls.includes("wake"));
  await app.close();
});

t.test("If-Match with a stale ETag answers 409; with the current one it applies", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 30 } });
  const app = server(node);
  const stale = await app.inject({ method: "PATCH", url: "/config", headers: { ...json, "if-match": '"0"' }, payload: { ttl: 40 } });
  t.equal(stale.statusCode, 409);
  const put = await app.inject({ method: "PUT", url: "/config", headers: { ...json, "if-match": '"0"' }, payload: { ttl: 40 } });
  t.equal(put.statusCode, 409, "a conditional PUT too");
  const fresh = await app.inject({ method: "PATCH", url: "/config", headers: { ...json, "if-match": '"1"' }, payload: { ttl: 40 } });
  t.equal(fresh.statusCode, 200);
  t.equal((await app.inject({ method: "PATCH", url: "/config", headers: { ...json, "if-match": "yesterday" }, payload: { ttl: 41 } })).statusCode, 400);
  await app.close();
});

t.test("PATCH and PUT refuse malformed bodies with 400 and change nothing", async (t) => {
  const node = cluster();
  const app = server(node);
  const cases: [string, string | undefined, RegExp][] = [
    ["{ttl: 30", "application/json", /not valid JSON/],
    ["[1, 2]", "application/json", /must be a JSON object, not an array/],
    ["42", "application/json", /not a number/],
    ["", "application/json", /has none/],
    ["{\"ttl\": -1}", "application/json", /ttl must be a number of seconds from 3 to 3600, got -1/],
    ["{\"pause\": \"yes\"}", undefined, /pause must be true, false or null/],
  ];
  for (const [payload, type, message] of cases) {
    for (const method of ["PATCH", "PUT"] as const) {
      const answer = await app.inject({ method, url: "/config", headers: type === undefined ? {} : { "content-type": type }, payload });
      t.equal(answer.statusCode, 400, `${method} ${payload}`);
      t.match(answer.json(), { error: "badRequest", message }, `${method} ${payload}`);
    }
  }
  t.equal(node.view()!.config.version, 0, "nothing was written");
  await app.close();
});

t.test("PUT /config replaces the whole config", async (t) => {
  const node = cluster();
  node.driver.ok("pg1", { kind: "setConfig", expectedVersion: 0, mode: "patch", value: { ttl: 30, loop_wait: 10 } });
  const app = server(node);
  const answer = await app.inject({ method: "PUT", url: "/config", headers: json, payload: { ttl: 20 } });
  t.equal(answer.statusCode, 200);
  t.same(answer.json(), { ttl: 20 });
  t.same(node.view()!.config.value, { ttl: 20 });
  node.executeFailure = { code: "unavailable", message: "the cluster state could not be updated: no Raft leader" };
  const down = await app.inject({ method: "PUT", url: "/config", headers: json, payload: { ttl: 25 } });
  t.equal(down.statusCode, 502, "Patroni's 502 when the write fails");
  t.match(down.json(), { error: "dcsUnavailable", message: /no Raft leader/ });
  await app.close();
});

t.test("pause travels through the config: PATCH {pause: true} pauses, null resumes, GET shows it", async (t) => {
  const node = cluster();
  const app = server(node);
  t.equal((await app.inject({ method: "PATCH", url: "/config", headers: json, payload: { pause: true } })).statusCode, 200);
  t.equal(node.view()!.paused, true);
  t.equal(node.view()!.config.version, 0, "pause is not stored in the config");
  t.same((await app.inject({ method: "GET", url: "/config" })).json(), { pause: true });
  t.equal((await app.inject({ method: "PATCH", url: "/config", headers: json, payload: { pause: null, ttl: 30 } })).statusCode, 200);
  t.equal(node.view()!.paused, false);
  t.same(node.view()!.config.value, { ttl: 30 });
  await app.close();
});

t.test("PATCH /config when the Raft group cannot be read answers 503", async (t) => {
  const node = cluster();
  node.readFailure = "no Raft leader";
  const app = server(node);
  const answer = await app.inject({ method: "PATCH", url: "/config", headers: json, payload: { ttl: 30 } });
  t.equal(answer.statusCode, 503);
  t.match(answer.json(), { error: "dcsUnavailable", message: /no Raft leader/ });
  await app.close();
});
