/**
 * What fastify and Node's HTTP server answer by themselves, in the API's shape: bytes that are not
 * HTTP, headers over the limit, malformed paths, no route, bad content types. Raw sockets where
 * Node answers before fastify (inject never reaches that code).
 */
import { connect } from "node:net";
import t from "tap";
import type { FastifyInstance } from "fastify";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import { basic, cluster, REPLICA_LOCAL, server } from "./fixtures.js";

const authentication = { username: "admin", password: "s3cret" };
const AUTH = `Authorization: ${basic("admin", "s3cret")}\r\n`;

/** Sends `text` on a new connection; the status and the JSON body of the answer. */
async function raw(port: number, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (out += chunk));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer within 5 s; got ${JSON.stringify(out)}`)));
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}

async function listening(t: Tap): Promise<{ app: FastifyInstance; port: number }> {
  const app = server(cluster(), { authentication });
  await app.listen({ host: "127.0.0.1", port: 0 });
  t.teardown(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { app, port: address.port };
}

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

const SENTENCE = /^[A-Za-z"].{10,}[^\s]$/;

t.test("Node's own refusals come in the API's shape: not HTTP 400, headers over the limit 431", async (t) => {
  const { port } = await listening(t);
  const garbage = await raw(port, "GARBAGE\r\n\r\n");
  t.equal(garbage.status, 400);
  t.match(garbage.body, { error: "badRequest", message: /the request is not valid HTTP\/1\.1 \(HPE_INVALID_METHOD\)/ });
  const huge = await raw(port, `GET /config HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
  t.equal(huge.status, 431);
  t.match(huge.body, { error: "headersTooLarge", message: /the request line and headers are over \d+ bytes, the limit/ });
  const length = await raw(port, `POST /reload HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: abc\r\n\r\n{}`);
  t.equal(length.status, 400);
  t.match(length.body.message, SENTENCE);
});

t.test("malformed paths, over-long names and unknown routes of changes are 4xx sentences", async (t) => {
  const { port } = await listening(t);
  const badEscape = await raw(port, "GET /config% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  t.same(badEscape, { status: 400, body: { error: "badRequest", message: 'the path "/config%" is not a valid URL: a %-escape is malformed' } });
  const long = await raw(port, `POST /members/${"a".repeat(200)}/maintenance HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n\r\n`);
  t.equal(long.status, 414);
  t.match(long.body, { error: "uriTooLong", message: /is over 100 characters, the limit/ });
  // A read of an unknown path is a health check, as in Patroni (unrouted.test.ts); a change is not.
  const none = await raw(port, `POST /nowhere HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n\r\n`);
  t.equal(none.status, 404);
  t.match(none.body, { error: "notFound", message: /^there is no route "POST \/nowhere"/ });
  const method = await raw(port, `PATCH /switchover HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n\r\n`);
  t.match(method, { status: 404, body: { error: "notFound" } });
});

t.test("any Content-Type is read as JSON text; one that is not a media type is a 415 sentence", async (t) => {
  const { app } = await listening(t);
  const post = (contentType: string | undefined) => app.inject({ method: "POST", url: "/reload", headers: { authorization: basic("admin", "s3cret"), ...(contentType === undefined ? {} : { "content-type": contentType }) }, payload: "{}" });
  for (const type of [undefined, "application/json", "text/plain", "application/json; charset=latin1"]) t.equal((await post(type)).statusCode, 202, String(type));
  const bad = await post("???");
  t.equal(bad.statusCode, 415);
  t.same(bad.json(), { error: "unsupportedMediaType", message: 'the Content-Type header "???" is not a media type: send application/json' });
});

t.test("a body over the limit is 413 naming the limit", async (t) => {
  const { app } = await listening(t);
  const answer = await app.inject({ method: "PATCH", url: "/config", headers: { "content-type": "application/json", authorization: basic("admin", "s3cret") }, payload: `{"x":"${"a".repeat(1024 * 1024)}"}` });
  t.equal(answer.statusCode, 413);
  t.same(answer.json(), { error: "payloadTooLarge", message: "the request body is over 1048576 bytes, the limit" });
});

t.test("a client still sending a body over the limit gets its 413 and keeps its connection", async (t) => {
  // Closing a socket with unread bytes resets it: a client mid-body lost the 413 ("fetch failed").
  const { port } = await listening(t);
  const socket = connect(port, "127.0.0.1");
  t.teardown(() => socket.destroy());
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (received += chunk));
  const errors: Error[] = [];
  socket.on("error", (error) => errors.push(error));
  const until = async (what: string, done: () => boolean): Promise<void> => {
    for (let waited = 0; !done(); waited += 20) {
      if (waited > 5000 || socket.destroyed) throw new Error(`${what}: not within 5 s (socket ${socket.destroyed ? "closed" : "open"}, got ${JSON.stringify(received.slice(0, 300))})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const length = 2 * 1024 * 1024;
  socket.write(`POST /failover HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
  socket.write("a".repeat(64 * 1024));
  await until("the 413", () => received.includes("payloadTooLarge"));
  t.match(received, /^HTTP\/1\.1 413 /);
  t.notMatch(received, /connection: close/i, "the connection is kept while the rest of the body is read");
  const rest = length - 64 * 1024;
  for (let sent = 0; sent < rest; sent += 256 * 1024) socket.write("a".repeat(Math.min(256 * 1024, rest - sent)));
  socket.write(`DELETE /nowhere HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n\r\n`);
  await until("the answer to the next request on the same connection", () => received.includes("notFound"));
  t.same(errors.map(String), [], "the client saw no reset");
});

t.test("a bug in a route is a logged 500 in the API's shape", async (t) => {
  const node = cluster();
  node.view = () => {
    throw new Error("planted");
  };
  const app = server(node);
  const answer = await app.inject({ method: "DELETE", url: "/switchover" });
  t.equal(answer.statusCode, 500);
  t.match(answer.json(), { error: "internal", message: /the request failed inside raftgres \(a bug, logged\): planted/ });
  await app.close();
});

t.test("a change answered with a 5xx is logged with its sentence; a health check's 503 is not", async (t) => {
  const lines: LoggedLine[] = [];
  const node = cluster("pg2", REPLICA_LOCAL);
  node.readFailure = "no Raft leader is known";
  const app = server(node, { logger: createRecordingLogger(lines) });
  t.equal((await app.inject({ method: "PATCH", url: "/config", headers: { "content-type": "application/json" }, payload: { ttl: 10 } })).statusCode, 503);
  t.equal((await app.inject({ method: "GET", url: "/primary" })).statusCode, 503);
  t.same(lines.map((line) => [line.level, line.message]), [["warn", "answered 503: cannot read the config to change it: no Raft leader is known"]]);
  await app.close();
});
