/**
 * The HAProxy runtime API client: endpoints and names checked, commands built, HAProxy 2.6's
 * answers named (the texts are Debian's haproxy 2.6.12's, copied from a real socket), and the
 * connection bounded in time and size. The exchanges run over real sockets against small servers
 * that answer as HAProxy does or misbehave; test/haproxy runs the client against HAProxy itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t, { type Test } from "tap";
import { PUSH_ATTEMPTS_MAX, PUSH_BACKOFF_MS_MAX, PUSH_BACKOFF_MS_MIN, pushBackoffMs } from "../../src/ha/io/haproxy_push.js";
import {
  endpointText,
  interpretAnswer,
  isConfigurationFailure,
  parseEndpoint,
  runtimeCommand,
  runtimeNameProblem,
  setServerHealthCommand,
  showServersStateCommand,
  shutdownSessionsCommand,
} from "../../src/ha/io/haproxy_runtime.js";

t.setTimeout(30_000);

t.test("admin sockets are read as haproxy.cfg's stats socket names them", async (t) => {
  t.same(parseEndpoint("/run/haproxy/admin.sock"), E.right({ kind: "unix", path: "/run/haproxy/admin.sock" }));
  t.same(parseEndpoint("unix@/run/haproxy/admin.sock"), E.right({ kind: "unix", path: "/run/haproxy/admin.sock" }));
  t.same(parseEndpoint("127.0.0.1:9999"), E.right({ kind: "tcp", host: "127.0.0.1", port: 9999 }));
  t.same(parseEndpoint("ipv4@lb1.example:9999"), E.right({ kind: "tcp", host: "lb1.example", port: 9999 }));
  t.same(parseEndpoint("ipv6@[::1]:9999"), E.right({ kind: "tcp", host: "::1", port: 9999 }));
  t.equal(endpointText({ kind: "tcp", host: "::1", port: 9999 }), "[::1]:9999");
  for (const bad of ["admin.sock", "unix@relative.sock", "host", "host:0", "host:65536", "a b:1", `/${"x".repeat(120)}`, ""]) {
    t.ok(E.isLeft(parseEndpoint(bad)), `${JSON.stringify(bad.slice(0, 20))} is refused`);
  }
});

t.test("commands are one line built from checked names; an unchecked name is a bug", async (t) => {
  t.equal(setServerHealthCommand("primary", "pg1", "down"), "set server primary/pg1 health down");
  t.equal(setServerHealthCommand("primary", "db-1.a:b", "up"), "set server primary/db-1.a:b health up");
  t.equal(shutdownSessionsCommand("replicas", "pg2"), "shutdown sessions server replicas/pg2");
  t.equal(showServersStateCommand("primary"), "show servers state primary");
  t.equal(runtimeNameProblem("pg1"), null);
  for (const bad of ["", "a b", "a;b", "a/b", "a\nb", "a\\b", "x".repeat(101)]) {
    t.not(runtimeNameProblem(bad), null, `${JSON.stringify(bad.slice(0, 10))} is no HAProxy name`);
    t.throws(() => setServerHealthCommand("primary", bad, "up"), /bug: an unchecked HAProxy name/);
  }
});

t.test("HAProxy's answers are named, with what to change", async (t) => {
  const command = "set server primary/pg1 health down";
  t.same(interpretAnswer(command, "\n"), E.right(""), "an empty line is success");
  const cases: [string, string, RegExp][] = [
    ["No such backend.\n\n", "noSuchBackend", /write_backend and haproxy\.read_backend/],
    ["No such server.\n\n", "noSuchServer", /haproxy\.servers maps each member/],
    ["Permission denied\n\n", "permissionDenied", /level admin/],
    ["Unknown command, but maybe one of the following ones is a better match:\n  clear table …\n\n", "unknownCommand", /HAProxy 2\.0 or later/],
    ["'set server <srv> health' expects 'up', 'stopping', or 'down'.\n\n", "refused", /expects 'up'/],
  ];
  for (const [answer, code, advice] of cases) {
    const interpreted = interpretAnswer(command, answer);
    if (E.isRight(interpreted)) {
      t.fail(`${JSON.stringify(answer)} was taken for success`);
      continue;
    }
    t.equal(interpreted.left.code, code, `${JSON.stringify(answer.slice(0, 20))} is ${code}`);
    t.match(interpreted.left.message, /^HAProxy refused "set server primary\/pg1 health down": /);
    t.match(interpreted.left.message, advice);
    t.equal(isConfigurationFailure(interpreted.left.code), true, "a retry cannot fix it");
  }
  t.same(interpretAnswer("show servers state primary", "1\n# be_id …\n", true), E.right("1\n# be_id …\n"), "a query's data is its answer");
  t.equal(isConfigurationFailure("timeout"), false);
  t.equal(isConfigurationFailure("unreachable"), false);
});

t.test("a failed push waits longer each time, within bounds, a bounded number of times", async (t) => {
  const waits = Array.from({ length: PUSH_ATTEMPTS_MAX - 1 }, (_, i) => pushBackoffMs(i + 1));
  t.equal(waits[0], PUSH_BACKOFF_MS_MIN);
  for (let i = 1; i < waits.length; i++) t.ok(waits[i]! >= waits[i - 1]!, "never shorter than the one before");
  t.ok(waits.every((w) => w <= PUSH_BACKOFF_MS_MAX), "never longer than the maximum");
  const totalMs = waits.reduce((a, b) => a + b, 0);
  t.ok(totalMs < 10_000, `a push is given up within ${totalMs} ms of backoff`);
});

/** A unix socket server answering each connection with `answer(line, socket)`. */
async function server(t: Test, answer: (line: string, socket: Socket) => void): Promise<{ path: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "haproxy-runtime-"));
  const path = join(dir, "admin.sock");
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  // Half-open as HAProxy is: the client's end of its request does not end the answer.
  const listener: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes("\n")) return;
      lines.push(text);
      answer(text.trimEnd(), socket);
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, lines };
}

t.test("one command per connection: the line is sent, the answer read to the close", async (t) => {
  const haproxy = await server(t, (line, socket) => socket.end(line.includes("pg9") ? "No such server.\n\n" : "\n"));
  const endpoint = { kind: "unix" as const, path: haproxy.path };
  t.same(await runtimeCommand(endpoint, "set server primary/pg1 health up", { timeoutMs: 2000 }), E.right(""));
  const refused = await runtimeCommand(endpoint, "set server primary/pg9 health up", { timeoutMs: 2000 });
  t.equal(E.isLeft(refused) && refused.left.code, "noSuchServer");
  t.match(E.isLeft(refused) ? refused.left.message : "", new RegExp(`^${haproxy.path}: HAProxy refused`));
  t.same(haproxy.lines, ["set server primary/pg1 health up\n", "set server primary/pg9 health up\n"], "one line per connection, newline-terminated");
});

t.test("a silent HAProxy is given up at the time limit; an endless answer at the size limit", async (t) => {
  const silent = await server(t, () => {});
  const startedAt = Date.now();
  const late = await runtimeCommand({ kind: "unix", path: silent.path }, "show info", { timeoutMs: 300 }, true);
  const tookMs = Date.now() - startedAt;
  t.equal(E.isLeft(late) && late.left.code, "timeout");
  t.match(E.isLeft(late) ? late.left.message : "", /did not answer "show info" within 300 ms/);
  t.ok(tookMs >= 290 && tookMs < 5000, `it resolved after the limit, not long after (${tookMs} ms)`);
  const chatty = await server(t, (_line, socket) => socket.write("x".repeat(64 * 1024)));
  const long = await runtimeCommand({ kind: "unix", path: chatty.path }, "show info", { timeoutMs: 2000, answerBytesMax: 1024 }, true);
  t.equal(E.isLeft(long) && long.left.code, "answerTooLong");
});

t.test("a connection closed without an answer is no success", async (t) => {
  const cut = await server(t, (_line, socket) => socket.end());
  const answer = await runtimeCommand({ kind: "unix", path: cut.path }, "set server primary/pg1 health up", { timeoutMs: 2000 });
  t.equal(E.isLeft(answer) && answer.left.code, "unreachable");
  t.match(E.isLeft(answer) ? answer.left.message : "", /closed the connection without answering/);
});

t.test("an absent socket or a closed port is unreachable, with what to check", async (t) => {
  const absent = await runtimeCommand({ kind: "unix", path: "/nonexistent/haproxy.sock" }, "show info", { timeoutMs: 1000 }, true);
  t.equal(E.isLeft(absent) && absent.left.code, "unreachable");
  t.match(E.isLeft(absent) ? absent.left.message : "", /no HAProxy admin socket at \/nonexistent\/haproxy\.sock: is HAProxy running, with `stats socket \/nonexistent\/haproxy\.sock level admin`/);
  const closed = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 1));
    });
  });
  const refused = await runtimeCommand({ kind: "tcp", host: "127.0.0.1", port: closed }, "show info", { timeoutMs: 1000 }, true);
  t.equal(E.isLeft(refused) && refused.left.code, "unreachable");
  t.match(E.isLeft(refused) ? refused.left.message : "", /refused the connection/);
});

t.test("a command that is not one printable line, or an unbounded wait, is a bug", async (t) => {
  const endpoint = { kind: "unix" as const, path: "/nonexistent" };
  t.throws(() => runtimeCommand(endpoint, "show info\nshutdown sessions server a/b", { timeoutMs: 100 }), /one printable line/);
  t.throws(() => runtimeCommand(endpoint, "", { timeoutMs: 100 }), /one printable line/);
  t.throws(() => runtimeCommand(endpoint, "show info", { timeoutMs: 0 }), /timeoutMs/);
  t.throws(() => runtimeCommand(endpoint, "show info", { timeoutMs: 60_000 }), /timeoutMs/);
});
