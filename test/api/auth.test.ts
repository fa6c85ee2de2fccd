import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { checkBasicAuth, FailedLoginLog } from "../../src/api/auth.js";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import { basic, cluster, server } from "./fixtures.js";

const authentication = { username: "admin", password: "s3cret:with:colons" };

t.test("mutations need Basic credentials when configured: 401 without or with wrong ones, 200 with right", async (t) => {
  const node = cluster();
  const app = server(node, { authentication });
  const without = await app.inject({ method: "POST", url: "/reload" });
  t.equal(without.statusCode, 401);
  t.equal(without.headers["www-authenticate"], 'Basic realm="raftgres"');
  t.match(without.json(), { error: "unauthorized", message: /no Authorization header/ });
  t.equal((await app.inject({ method: "POST", url: "/reload", headers: { authorization: basic("admin", "wrong") } })).statusCode, 401);
  t.equal((await app.inject({ method: "POST", url: "/reload", headers: { authorization: basic("root", authentication.password) } })).statusCode, 401);
  t.equal((await app.inject({ method: "POST", url: "/reload", headers: { authorization: "Bearer abc" } })).statusCode, 401);
  t.equal((await app.inject({ method: "DELETE", url: "/switchover" })).statusCode, 401);
  t.equal((await app.inject({ method: "PATCH", url: "/config", payload: "{}" })).statusCode, 401);
  t.equal((await app.inject({ method: "PUT", url: "/config", payload: "{}" })).statusCode, 401);
  t.same(node.calls, [], "nothing ran");
  const right = await app.inject({ method: "POST", url: "/reload", headers: { authorization: basic("admin", authentication.password) } });
  t.equal(right.statusCode, 202);
  const patched = await app.inject({ method: "PATCH", url: "/config", headers: { authorization: basic("admin", authentication.password), "content-type": "application/json" }, payload: { ttl: 30 } });
  t.equal(patched.statusCode, 200);
  t.equal(node.executed[0]!.author, "api:admin", "the user is the command's author");
  await app.close();
});

t.test("reads stay open unless requireAuthForReads", async (t) => {
  const open = server(cluster(), { authentication });
  for (const url of ["/patroni", "/cluster", "/config", "/metrics", "/primary"]) t.equal((await open.inject({ method: "GET", url })).statusCode, 200, url);
  t.equal((await open.inject({ method: "OPTIONS", url: "/primary" })).statusCode, 200);
  await open.close();
  const closed = server(cluster(), { authentication, requireAuthForReads: true });
  t.equal((await closed.inject({ method: "GET", url: "/patroni" })).statusCode, 401);
  t.equal((await closed.inject({ method: "HEAD", url: "/primary" })).statusCode, 401);
  t.equal((await closed.inject({ method: "GET", url: "/patroni", headers: { authorization: basic("admin", authentication.password) } })).statusCode, 200);
  await closed.close();
});

t.test("checkBasicAuth: a password may contain colons; a user without one is refused", async (t) => {
  t.equal(checkBasicAuth(basic("admin", authentication.password), authentication), null);
  t.not(checkBasicAuth(`Basic ${Buffer.from("admin").toString("base64")}`, authentication), null);
  t.not(checkBasicAuth(basic("admin", ""), authentication), null);
});

t.test("with a certificate the server is built for HTTPS", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "raftgres-api-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  } catch {
    t.comment("openssl is not available to make a test certificate: skipped");
    return;
  }
  const app = server(cluster(), { tls: { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) } });
  t.ok(app.initialConfig.https, "fastify was given https options");
  t.equal((await app.inject({ method: "GET", url: "/primary" })).statusCode, 200);
  await app.close();
});

t.test("failed logins are logged once per source and interval, with the count of the others", async (t) => {
  const lines: LoggedLine[] = [];
  let nowMs = 1_000_000;
  const log = new FailedLoginLog(createRecordingLogger(lines), () => nowMs, 60_000, 4);
  const request = { method: "POST", url: "/reload" };
  for (let i = 0; i < 50; i++) log.refused("10.0.0.1", request, "not authenticated: wrong user name or password");
  t.equal(lines.length, 1, "the first refusal at once, the next 49 counted");
  t.match(lines[0], { level: "warn", fields: { from: "10.0.0.1", method: "POST", url: "/reload" }, message: /^refused a request from 10\.0\.0\.1: not authenticated/ });
  log.refused("10.0.0.2", request, "no Authorization header");
  t.equal(lines.length, 2, "another source has its own first line");
  nowMs += 59_000;
  log.flush();
  t.equal(lines.length, 2, "nothing within the interval");
  nowMs += 1_000;
  log.flush();
  t.equal(lines.length, 3);
  t.match(lines[2], { fields: { from: "10.0.0.1", refused: 49 }, message: "refused 49 more requests from 10.0.0.1 in the last 60 s (the last: not authenticated: wrong user name or password)" });
  log.refused("10.0.0.1", request, "no Authorization header");
  t.equal(lines.length, 3, "the interval starts again from the summary line");
  nowMs += 120_000;
  log.flush();
  t.equal(lines.length, 4, "one more summary");
  t.equal(log.size, 1, "the quiet source is forgotten");
  nowMs += 60_000;
  log.flush();
  t.equal(log.size, 0, "and so is this one, an interval later");
});

t.test("the table of sources is bounded: beyond it, refusals share one count", async (t) => {
  const lines: LoggedLine[] = [];
  const log = new FailedLoginLog(createRecordingLogger(lines), () => 0, 60_000, 4);
  for (let i = 0; i < 1000; i++) log.refused(`10.0.${i >> 8}.${i & 255}`, { method: "POST", url: "/reload" }, "no Authorization header");
  t.ok(log.size <= 5, `at most 4 sources and the shared count (${log.size})`);
  t.equal(lines.length, 5, "4 sources and the first of the others, then nothing");
  t.match(lines[4], { message: /^refused a request from other sources/ });
});

t.test("a server with credentials logs a client retrying a wrong password once", async (t) => {
  const lines: LoggedLine[] = [];
  const app = server(cluster(), { authentication, logger: createRecordingLogger(lines) });
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: "POST", url: "/reload", headers: { authorization: basic("admin", "guess") } })).statusCode, 401);
  t.equal(lines.filter((line) => /refused/.test(line.message)).length, 1);
  await app.close();
});
