/**
 * One primary on real PostgreSQL 15: bootstrap and observe, slots, stops, a crash, a start that
 * fails, and adoption of a running postmaster by a new instance.
 */
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import type { PostmasterExit } from "../../src/ha/ports.js";
import { slotName } from "../../src/pg/slot_names.js";
import { PostgresInstance } from "../../src/pg/postgres_instance.js";
import type { MemberName } from "../../src/pg/types.js";
import { pgRoot, sql } from "./support.js";
import { NO_PERMANENT_SLOTS } from "../../src/dcs/permanent_slots.js";

const m = (name: string): MemberName => name as MemberName;

const root = await pgRoot(t);
const primary = await root.make("pg1");
const bootstrapped = await primary.run({ kind: "bootstrap" });
if (E.isLeft(bootstrapped)) throw new Error(bootstrapped.left.message);

t.test("bootstrap leaves a running primary on timeline 1 whose WAL position grows after a write", async (t) => {
  const before = await primary.observe();
  t.match(before, { dataDir: "initialized", process: "running", role: "primary", timeline: 1, controlState: "in production", upstream: null, problem: null });
  t.match(before.systemId, /^\d{10,}$/, "system id from pg_controldata");
  t.equal(await primary.systemId(), before.systemId);
  t.equal(typeof before.walWritten, "bigint");
  await sql(primary, "CREATE TABLE grow (x int); INSERT INTO grow SELECT generate_series(1, 1000)");
  const after = await primary.observe();
  t.ok(after.walWritten! > before.walWritten!, `${after.walWritten} > ${before.walWritten}`);
  const roles = await sql<{ rolreplication: boolean }>(primary, "SELECT rolreplication FROM pg_roles WHERE rolname = 'rg_repl'");
  t.same(roles, [{ rolreplication: true }], "the replication role exists");
  const sums = await sql<{ data_checksums: string }>(primary, "SHOW data_checksums");
  t.equal(sums[0]?.data_checksums, "on");
  t.equal(E.isLeft(await primary.run({ kind: "bootstrap" })) && "wrongState", "wrongState", "a second bootstrap is refused");
});

t.test("syncSlots creates a slot per member and drops only inactive member slots", async (t) => {
  await sql(primary, "SELECT pg_create_physical_replication_slot('operator_slot')");
  t.ok(E.isRight(await primary.run({ kind: "syncSlots", members: [m("pg1"), m("pg2"), m("Pg-3")], permanent: NO_PERMANENT_SLOTS })));
  const slots = async (): Promise<string[]> =>
    (await sql<{ slot_name: string }>(primary, "SELECT slot_name FROM pg_replication_slots ORDER BY slot_name")).map((r) => r.slot_name);
  t.same(await slots(), [slotName(m("pg2")), slotName(m("Pg-3")), "operator_slot"].sort(), "no slot for the primary itself");
  const reserved = await sql<{ n: string }>(primary, "SELECT count(*) AS n FROM pg_replication_slots WHERE slot_name LIKE 'rg\\_%' AND restart_lsn IS NOT NULL");
  t.equal(reserved[0]?.n, "2", "member slots reserve WAL at once");
  t.ok(E.isRight(await primary.run({ kind: "syncSlots", members: [m("pg1"), m("pg4")], permanent: NO_PERMANENT_SLOTS })));
  t.same(await slots(), [slotName(m("pg4")), "operator_slot"].sort(), "slots of members gone are dropped, the operator's stays");
});

t.test("stop fast leaves a clean shutdown, stop immediate does not, and both start again", async (t) => {
  t.ok(E.isRight(await primary.run({ kind: "stop", mode: "fast" })));
  t.match(await primary.observe(), { process: "stopped", controlState: "shut down", timeline: 1, role: null });
  t.equal(primary.postmasterPid(), null);
  t.ok(E.isRight(await primary.run({ kind: "stop", mode: "fast" })), "stopping a stopped server is done");
  t.ok(E.isRight(await primary.run({ kind: "start", as: "primary", upstream: null })));
  t.ok(E.isRight(await primary.run({ kind: "stop", mode: "immediate" })));
  t.match(await primary.observe(), { process: "stopped", controlState: "in production" }, "no shutdown checkpoint");
  t.ok(E.isRight(await primary.run({ kind: "start", as: "primary", upstream: null })), "crash recovery");
  t.match(await primary.observe(), { process: "running", role: "primary" });
});

t.test("an unexpected postmaster exit reaches the listeners within a second and a later start works", async (t) => {
  const pid = primary.postmasterPid()!;
  const exits: PostmasterExit[] = [];
  const unsubscribe = primary.onUnexpectedExit((exit) => exits.push(exit));
  t.teardown(unsubscribe);
  const killedAt = Date.now();
  process.kill(pid, "SIGKILL");
  while (exits.length === 0 && Date.now() - killedAt < 1_000) await new Promise((r) => setTimeout(r, 10));
  t.equal(exits.length, 1, `reported after ${Date.now() - killedAt} ms`);
  t.match(exits[0], { pid, signal: "SIGKILL" });
  t.match(await primary.observe(), { process: "crashed", role: null });
  t.ok(existsSync(join(primary.settings.dataDir, "postmaster.pid")), "the stale postmaster.pid is still there");
  const started = await primary.run({ kind: "start", as: "primary", upstream: null });
  t.ok(E.isRight(started), E.isLeft(started) ? started.left.message : "started over the stale pid file");
  t.same(await sql(primary, "SELECT count(*)::int AS n FROM grow"), [{ n: 1000 }]);
  t.equal(exits.length, 1, "a requested stop or start is no unexpected exit");
});

t.test("a start on a port in use fails with the server's log lines, and works once the port is free", async (t) => {
  t.ok(E.isRight(await primary.run({ kind: "stop", mode: "fast" })));
  // It takes the port and drops every connection, as a foreign program on that port might.
  const blocker = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => blocker.listen(primary.settings.port, "127.0.0.1", resolve));
  const failed = await primary.run({ kind: "start", as: "primary", upstream: null });
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  t.ok(E.isLeft(failed));
  if (E.isLeft(failed)) {
    t.equal(failed.left.code, "failed");
    t.match(failed.left.message, /exited during start/);
    t.match(failed.left.message, /could not bind|Address already in use/, "quotes the server log");
  }
  t.match(await primary.observe(), { process: "stopped" });
  t.ok(E.isRight(await primary.run({ kind: "start", as: "primary", upstream: null })));
});

t.test("a new instance on the same data directory adopts the running postmaster and can stop it", async (t) => {
  const pid = primary.postmasterPid()!;
  primary.close();
  const adopted = PostgresInstance.create({ ...primary.settings, osUser: primary.settings.osUser.name });
  if (E.isLeft(adopted)) throw new Error(adopted.left);
  const second = adopted.right;
  t.teardown(() => second.close());
  t.equal(second.postmasterPid(), pid);
  t.match(await second.observe(), { process: "running", role: "primary", timeline: 1 });
  t.ok(E.isRight(await second.run({ kind: "stop", mode: "fast" })));
  t.equal(second.postmasterPid(), null);
  t.match(await second.observe(), { process: "stopped", controlState: "shut down" });
});
