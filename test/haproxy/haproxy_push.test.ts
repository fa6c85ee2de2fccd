/**
 * The HAProxy pusher (src/ha/io/haproxy_push.ts) against a real HAProxy 2.6, without a cluster:
 * the members' REST checks are small HTTP servers whose answers the test sets, their PostgreSQL
 * ports small TCP servers that greet with the member's name. The checks run with the production
 * recipe `inter 3s fall 3 rise 2`, so a server that changes state within a second of a push was
 * moved by the push (the checks need (fall−1)·inter = 6 s to take one down, (rise−1)·inter = 3 s
 * to bring one up). Also: the checks still correct a wrong forced state; a push to an absent
 * socket is retried until HAProxy is there, or given up after a bounded number of attempts, and
 * reported; a socket below level admin is given up at once. Every process is killed by PID.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import t, { type Test } from "tap";
import { HaproxyPush, type HaproxySettings, PUSH_ATTEMPTS_MAX, type RoutingVerdict } from "../../src/ha/io/haproxy_push.js";
import { type RuntimeEndpoint, runtimeCommand, setServerHealthCommand } from "../../src/ha/io/haproxy_runtime.js";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { HaproxyProcess, haproxyMissing, serverStates, type ServerState } from "../../lab/haproxy.js";
import { waitFor } from "../../lab/pg_cluster.js";
import { freePort } from "../../lab/sockets.js";

t.setTimeout(90_000);
const MEMBERS = ["pg1", "pg2", "pg3"] as const;
type Member = (typeof MEMBERS)[number];
const INTER_MS = 3000;
const FALL = 3;
const RISE = 2;
/** A push shows in HAProxy within this; the checks could not move a server in less than (rise−1)·inter. */
const PUSH_SEEN_MS = 1000;

const missing = haproxyMissing();
if (missing !== null) t.plan(0, missing);
else await run().catch((error: unknown) => t.fail(error instanceof Error ? error.stack ?? error.message : String(error)));

interface Fixture {
  readonly checks: Map<string, number>;
  readonly pgPorts: Map<Member, number>;
  readonly apiPorts: Map<Member, number>;
}

/** Per member: an HTTP server answering OPTIONS /primary and /replica as `checks` says, and a "PostgreSQL" greeting with the member's name. */
async function members(t: Test, checks: Map<string, number>): Promise<Fixture> {
  const pgPorts = new Map<Member, number>();
  const apiPorts = new Map<Member, number>();
  const servers: (Server | HttpServer)[] = [];
  const sockets = new Set<Socket>();
  for (const member of MEMBERS) {
    const api = createHttpServer((request, response) => {
      response.writeHead(checks.get(`${member}${request.url}`) ?? 503);
      response.end();
    });
    const pg = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.write(`${member}\n`);
    });
    for (const server of [api, pg]) {
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    }
    apiPorts.set(member, (api.address() as { port: number }).port);
    pgPorts.set(member, (pg.address() as { port: number }).port);
  }
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });
  return { checks, pgPorts, apiPorts };
}

function config(dir: string, socket: string, fixture: Fixture, ports: { write: number; read: number }): string {
  const servers = (check: string) => MEMBERS.map((m) => `    server ${m} 127.0.0.1:${fixture.pgPorts.get(m)} check port ${fixture.apiPorts.get(m)}`).join("\n") + `\n    # ${check}`;
  return `global
    stats socket ${socket} level admin
    stats socket ${join(dir, "user.sock")} level user
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
listen primary
    bind 127.0.0.1:${ports.write}
    option httpchk OPTIONS /primary
    http-check expect status 200
    balance first
    default-server inter ${INTER_MS} fall ${FALL} rise ${RISE}
${servers("/primary")}
listen replicas
    bind 127.0.0.1:${ports.read}
    option httpchk OPTIONS /replica
    http-check expect status 200
    balance roundrobin
    default-server inter ${INTER_MS} fall ${FALL} rise ${RISE}
${servers("/replica")}
`;
}

/** The member a new connection through `port` reaches (its greeting), or null when HAProxy closes it. */
function reach(port: number): Promise<{ member: string | null; socket: Socket }> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let text = "";
    const timer = setTimeout(() => resolve({ member: null, socket }), 2000);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes("\n")) return;
      clearTimeout(timer);
      resolve({ member: text.trim(), socket });
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ member: null, socket });
    });
  });
}

async function states(endpoint: RuntimeEndpoint, backend: string): Promise<Record<string, ServerState>> {
  return Object.fromEntries(await serverStates(endpoint, backend));
}

async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "haproxy-push-"));
  const processes: HaproxyProcess[] = [];
  const pushers: HaproxyPush[] = [];
  t.teardown(async () => {
    for (const pusher of pushers) pusher.stop();
    for (const haproxy of processes) await haproxy.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  // pg1 is the primary, pg2 and pg3 replicas, as their checks answer.
  const checks = new Map<string, number>([["pg1/primary", 200], ["pg2/replica", 200], ["pg3/replica", 200]]);
  const fixture = await members(t, checks);
  const socket = join(dir, "admin.sock");
  const endpoint: RuntimeEndpoint = { kind: "unix", path: socket };
  const ports = { write: await freePort(), read: await freePort() };
  const haproxy = HaproxyProcess.start(join(dir, "haproxy.cfg"), config(dir, socket, fixture, ports));
  processes.push(haproxy);
  t.teardown(() => {
    if (!t.passing()) t.comment(`haproxy log:\n${haproxy.lastLog(30)}`);
  });
  await waitFor("HAProxy's admin socket", 10_000, async () => (E.isRight(await runtimeCommand(endpoint, "show info", { timeoutMs: 500 }, true)) ? true : undefined), 50);

  const verdicts = new Map<Member, RoutingVerdict>([["pg1", { write: true, read: false }], ["pg2", { write: false, read: true }], ["pg3", { write: false, read: true }]]);
  const logger = createRecordingLogger();
  const settings: HaproxySettings = { sockets: [endpoint], writeBackend: "primary", readBackend: "replicas", servers: new Map<string, string>(), timeoutMs: 500 };
  const pusher = (member: Member, options: Partial<HaproxySettings> = {}): HaproxyPush => {
    const push = new HaproxyPush({ settings: { ...settings, ...options }, me: member, verdict: () => verdicts.get(member)!, members: () => MEMBERS, logger: logger.child({ member }), clock: () => performance.now() });
    pushers.push(push);
    return push;
  };
  const pg1 = pusher("pg1");
  const pg2 = pusher("pg2");

  await t.test("the first observation of the primary forces it up and the others down in the write pool", async (t) => {
    const startedAt = performance.now();
    pg1.observed();
    await pg1.settled(2000);
    t.same(await states(endpoint, "primary"), { pg1: "up", pg2: "down", pg3: "down" }, `HAProxy has only pg1 in the write pool after ${Math.round(performance.now() - startedAt)} ms`);
    t.same(pg1.status()[0], { socket, pushes: 3, failures: 0, gaveUp: 0, pending: 0, lastPush: "primary/pg3 down", lastPushAtMs: pg1.status()[0]!.lastPushAtMs, lastError: null });
    const through = await reach(ports.write);
    through.socket.destroy();
    t.equal(through.member, "pg1", "a connection through the write port reaches pg1");
  });

  await t.test("a switchover: the old primary goes down with its sessions shut, the new one up, within a second", async (t) => {
    const held = await reach(ports.write);
    t.equal(held.member, "pg1", "a client session on pg1 through HAProxy");
    const closed = new Promise<number>((resolve) => held.socket.once("close", () => resolve(performance.now())));
    const stoppedAt = performance.now();
    verdicts.set("pg1", { write: false, read: false });
    pg1.stopping(true);
    await pg1.settled(2000);
    const closedAt = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), PUSH_SEEN_MS))]);
    t.ok(closedAt > 0, `HAProxy closed the session on pg1 ${Math.round(closedAt - stoppedAt)} ms after the push (shutdown sessions)`);
    t.equal((await states(endpoint, "primary"))["pg1"], "down", "pg1 is down in the write pool");
    // pg2's promotion completes; its checks would need (rise−1)·inter = 3 s to notice.
    checks.delete("pg1/primary");
    checks.set("pg1/replica", 200);
    checks.set("pg2/primary", 200);
    checks.delete("pg2/replica");
    verdicts.set("pg2", { write: true, read: false });
    const promotedAt = performance.now();
    pg2.promoted();
    await pg2.settled(2000);
    const tookMs = performance.now() - promotedAt;
    t.ok(tookMs < PUSH_SEEN_MS, `pushed in ${Math.round(tookMs)} ms, less than the checks' (rise−1)·inter = ${(RISE - 1) * INTER_MS} ms`);
    t.same(await states(endpoint, "primary"), { pg1: "down", pg2: "up", pg3: "down" }, "only pg2 in the write pool");
    t.equal((await states(endpoint, "replicas"))["pg2"], "down", "pg2 left the read pool");
    const through = await reach(ports.write);
    through.socket.destroy();
    t.equal(through.member, "pg2", "a new connection through the write port reaches pg2");
  });

  await t.test("a replica's read-pool state follows its /replica answer; an unchanged answer pushes nothing", async (t) => {
    const pushes = pg1.status()[0]!.pushes;
    verdicts.set("pg1", { write: false, read: true });
    pg1.observed();
    await pg1.settled(2000);
    t.equal((await states(endpoint, "replicas"))["pg1"], "up", "pg1 joined the read pool");
    pg1.observed();
    await pg1.settled(2000);
    t.equal(pg1.status()[0]!.pushes, pushes + 1, "one push for one change");
  });

  await t.test("the checks still correct a forced state that is wrong", async (t) => {
    // pg3 forced up in the write pool although its /primary answers 503; pg1 forced down in
    // the read pool although its /replica answers 200.
    for (const command of [setServerHealthCommand("primary", "pg3", "up"), setServerHealthCommand("replicas", "pg1", "down")]) {
      t.same(await runtimeCommand(endpoint, command, { timeoutMs: 1000 }), E.right(""), command);
    }
    t.equal((await states(endpoint, "primary"))["pg3"], "up");
    const boundMs = Math.max(FALL, RISE) * INTER_MS + INTER_MS;
    const startedAt = performance.now();
    await waitFor("the checks to take pg3 down and bring pg1 back", boundMs, async () => {
      const write = await states(endpoint, "primary");
      const read = await states(endpoint, "replicas");
      return write["pg3"] === "down" && read["pg1"] === "up" ? true : undefined;
    }, 200);
    t.pass(`the checks corrected both within ${Math.round(performance.now() - startedAt)} ms (bound ${boundMs} ms)`);
  });

  await t.test("a push to an absent socket is retried and reported, and lands once HAProxy is there", async (t) => {
    const late = join(dir, "late.sock");
    const push = pusher("pg3", { sockets: [{ kind: "unix", path: late }], readBackend: null });
    verdicts.set("pg3", { write: true, read: false });
    push.observed();
    await push.settled(2000);
    const failing = push.status()[0]!;
    t.ok(failing.failures >= 1 && failing.pending === 3, `the pushes failed and wait for a retry (${failing.failures} failures, ${failing.pending} pending)`);
    t.match(failing.lastError, /no HAProxy admin socket at .*late\.sock: is HAProxy running/);
    t.ok(logger.lines.some((line) => line.level === "warn" && /pushing primary\/pg3 up to HAProxy failed \(attempt 1 of/.test(line.message)), "the failure is logged with its attempt");
    const second = HaproxyProcess.start(join(dir, "late.cfg"), config(dir, late, fixture, { write: await freePort(), read: await freePort() }).replace(/\n\s+stats socket \S+user\.sock level user/, ""));
    processes.push(second);
    const landed = await waitFor("the retries to land", 10_000, () => (push.status()[0]!.pending === 0 ? push.status()[0]! : undefined), 50);
    t.equal(landed.gaveUp, 0, "none given up");
    t.equal(landed.lastError, null, "the socket is reported working again");
    t.same(await states({ kind: "unix", path: late }, "primary"), { pg1: "down", pg2: "down", pg3: "up" });
    await second.kill();
  });

  await t.test("a push that keeps failing is given up after a bounded number of attempts; the checks route", async (t) => {
    const push = pusher("pg3", { sockets: [{ kind: "unix", path: join(dir, "never.sock") }], readBackend: null });
    push.observed();
    const done = await waitFor("the retries to end", 15_000, () => (push.status()[0]!.pending === 0 ? push.status()[0]! : undefined), 100);
    t.equal(done.gaveUp, 3, "the three pushes were given up");
    t.equal(done.failures, 3 * PUSH_ATTEMPTS_MAX, `each after ${PUSH_ATTEMPTS_MAX} attempts`);
    t.ok(logger.lines.some((line) => line.level === "error" && /gave up pushing primary\/pg3 up to HAProxy \(6 attempts failed\); its health checks will route/.test(line.message)), "the give-up is logged at error level");
  });

  await t.test("a socket below level admin, or a server HAProxy lacks, is given up at once", async (t) => {
    const user = pusher("pg3", { sockets: [{ kind: "unix", path: join(dir, "user.sock") }], readBackend: null });
    user.observed();
    const denied = await waitFor("the refusal", 5000, () => (user.status()[0]!.pending === 0 ? user.status()[0]! : undefined), 50);
    t.same([denied.failures, denied.gaveUp], [3, 3], "one attempt each: retrying cannot help");
    t.match(denied.lastError, /Permission denied \(give the stats socket `level admin` in haproxy\.cfg\)/);
    const renamed = pusher("pg3", { servers: new Map([["pg3", "db3"]]), readBackend: null });
    renamed.observed();
    const unknown = await waitFor("the refusal", 5000, () => (renamed.status()[0]!.pending === 0 ? renamed.status()[0]! : undefined), 50);
    t.equal(unknown.gaveUp, 1, "the push of the server HAProxy lacks was given up; the other two landed");
    t.ok(logger.lines.some((line) => line.level === "error" && /primary\/db3 up .*No such server\. \(the backend has no server of that name: haproxy\.servers maps each member/.test(line.message)), "the refusal is logged with what to change");
  });

  await t.test("waiting for pushes is bounded even when HAProxy never answers", async (t) => {
    const silentPath = join(dir, "silent.sock");
    // Reads the command, never answers, keeps the connection open (a hung HAProxy).
    const held: Socket[] = [];
    const silent = createServer({ allowHalfOpen: true }, (socket) => {
      held.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
    t.teardown(() => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const push = pusher("pg1", { sockets: [{ kind: "unix", path: silentPath }], readBackend: null, timeoutMs: 2000 });
    push.stopping(true);
    const startedAt = performance.now();
    await push.settled(300);
    const waitedMs = performance.now() - startedAt;
    t.ok(waitedMs < 1000, `settled() returned after ${Math.round(waitedMs)} ms (bound 300 ms) while the push still waits`);
    push.stop();
  });
}
