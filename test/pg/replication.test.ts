/**
 * Three members on real PostgreSQL 15, one story: a clone streams from the primary, a replica
 * switches upstream with a reload, a replica is promoted (timeline 2), the old primary diverges,
 * is rewound and streams from the new primary, and a rewind with nothing to undo succeeds.
 * The subtests depend on each other and run in order.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import type { PgResult } from "../../src/ha/ports.js";
import type { PostgresInstance } from "../../src/pg/postgres_instance.js";
import type { MemberName } from "../../src/pg/types.js";
import { serverUrl } from "../../src/pg/conninfo.js";
import { walBackupDir } from "../../src/pg/rewind_wal_backup.js";
import { cuttingProxy } from "./cutting_proxy.js";
import { createRecordingLogger, eventually, pgRoot, REPLICATION, sql, SUPERUSER, TEST_PARAMETERS, upstreamOf } from "./support.js";
import { NO_PERMANENT_SLOTS } from "../../src/dcs/permanent_slots.js";

const m = (name: string): MemberName => name as MemberName;
const logger = createRecordingLogger();
const root = await pgRoot(t, logger);
// log_statement ddl: the statement that creates the replication role must not show its password.
const a = await root.make("pga", { parameters: { ...TEST_PARAMETERS, log_statement: "ddl" } });
const b = await root.make("pgb");
const c = await root.make("pg-c");
const members = [m("pga"), m("pgb"), m("pg-c")];

function ok(result: PgResult): true {
  if (E.isLeft(result)) throw new Error(`${result.left.code}: ${result.left.message}`);
  return true;
}

async function rows(instance: PostgresInstance): Promise<number[]> {
  return (await sql<{ x: number }>(instance, "SELECT x FROM story ORDER BY x")).map((r) => r.x);
}

async function sees(instance: PostgresInstance, x: number): Promise<number[]> {
  return eventually(async () => {
    const found = await rows(instance);
    return found.includes(x) ? found : undefined;
  }, 15_000, `${instance.settings.memberName} to replay row ${x}`);
}

async function senderPort(instance: PostgresInstance): Promise<number | undefined> {
  const r = await sql<{ sender_port: number | null; status: string }>(instance, "SELECT sender_port, status FROM pg_stat_wal_receiver");
  return r[0]?.status === "streaming" && r[0].sender_port !== null ? r[0].sender_port : undefined;
}

t.test("a clone made with pg_basebackup streams from the primary and replays its writes", async (t) => {
  t.ok(ok(await a.run({ kind: "bootstrap" })));
  t.ok(ok(await a.run({ kind: "syncSlots", members, permanent: NO_PERMANENT_SLOTS })));
  await sql(a, "CREATE TABLE story (x int); INSERT INTO story VALUES (1)");
  t.ok(ok(await b.run({ kind: "clone", source: upstreamOf(a) })));
  t.ok(ok(await c.run({ kind: "clone", source: upstreamOf(a) })));
  const progress = logger.lines.filter((l) => l.fields["action"] === "clone" && typeof l.fields["percent"] === "number");
  t.ok(progress.length > 0, "clone progress was logged with a percentage");
  t.equal(b.progress(), null, "no progress once done");
  t.match(await b.observe(), { dataDir: "initialized", process: "stopped", upstream: "pga" }, "configured, not started");
  t.ok(ok(await b.run({ kind: "start", as: "replica", upstream: upstreamOf(a) })));
  t.ok(ok(await c.run({ kind: "start", as: "replica", upstream: upstreamOf(a) })));
  await sql(a, "INSERT INTO story VALUES (2)");
  t.same(await sees(b, 2), [1, 2]);
  const observed = await eventually(async () => {
    const o = await b.observe();
    return o.streaming ? o : undefined;
  }, 10_000, "pgb streaming");
  const primary = await a.observe();
  t.match(observed, { role: "replica", timeline: 1, replayTimeline: 1, upstream: "pga", systemId: primary.systemId, problem: null });
  t.ok(observed.walReplayed !== null && observed.walReceived !== null);
  const slot = await sql<{ active: boolean }>(a, "SELECT active FROM pg_replication_slots WHERE slot_name = 'rg_pgb'");
  t.same(slot, [{ active: true }], "pgb streams through its slot on pga");
});

t.test("followPrimary switches the upstream with a reload: same postmaster, new sender", async (t) => {
  t.ok(ok(await b.run({ kind: "syncSlots", members, permanent: NO_PERMANENT_SLOTS })), "a replica keeps the member slots too");
  const onB = await sql<{ slot_name: string }>(b, "SELECT slot_name FROM pg_replication_slots ORDER BY slot_name");
  t.equal(onB.length, 2, `slots on the replica: ${onB.map((r) => r.slot_name).join(", ")}`);
  const pid = c.postmasterPid();
  t.equal(await eventually(() => senderPort(c), 10_000, "pg-c streaming from pga"), a.settings.port);
  t.ok(ok(await c.run({ kind: "followPrimary", upstream: upstreamOf(b) })));
  t.equal(await eventually(async () => ((await senderPort(c)) === b.settings.port ? true : undefined), 15_000, "pg-c streaming from pgb"), true);
  t.equal(c.postmasterPid(), pid, "no restart");
  t.match(await c.observe(), { upstream: "pgb", role: "replica" });
  await sql(a, "INSERT INTO story VALUES (3)");
  t.same(await sees(c, 3), [1, 2, 3], "cascaded through pgb");
});

t.test("the passwords are in the password file only: not in primary_conninfo, nor in any log", async (t) => {
  const shown = await sql<{ primary_conninfo: string }>(c, "SHOW primary_conninfo");
  t.match(shown[0]?.primary_conninfo, `passfile='${c.settings.passfile}'`);
  t.notMatch(shown[0]?.primary_conninfo, /password/);
  const file = statSync(c.settings.passfile);
  t.equal(file.mode & 0o777, 0o600, "0600, as libpq requires");
  t.equal(file.uid, c.settings.osUser.uid, "owned by the OS user");
  t.notOk(c.settings.passfile.startsWith(`${c.settings.dataDir}/`), "outside the data directory: pg_basebackup and pg_rewind do not copy it");
  t.match(readFileSync(c.settings.passfile, "utf8"), `:${REPLICATION.username}:`);
  for (const instance of [a, b, c]) {
    const log = readFileSync(join(instance.settings.logDir, "postgresql.log"), "utf8");
    for (const secret of [REPLICATION.password, SUPERUSER.password]) t.notOk(log.includes(secret), `no password in ${instance.settings.memberName}'s server log`);
  }
  const aLog = readFileSync(join(a.settings.logDir, "postgresql.log"), "utf8");
  t.match(aLog, /statement: CREATE ROLE "rg_repl" WITH REPLICATION LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/, "the role was created from its SCRAM verifier (log_statement ddl shows it)");
  t.match(readFileSync(join(c.settings.logDir, "postgresql.log"), "utf8"), /parameter "primary_conninfo" changed to/, "the changed conninfo was logged, without a password");
  const agentLog = JSON.stringify(logger.lines);
  for (const secret of [REPLICATION.password, SUPERUSER.password]) t.notOk(agentLog.includes(JSON.stringify(secret).slice(1, -1)), "no password in the agent's log");
});

t.test("promote moves a replica to timeline 2 and its cascaded replica follows", async (t) => {
  // Issue 16: routing hears of the promotion as soon as the server takes writes, before the
  // promote action has written its files and returned.
  let finished = false;
  const told: { duringAction: boolean; write: Promise<unknown> }[] = [];
  const unsubscribe = b.onWritable(() => told.push({ duringAction: !finished, write: sql(b, "INSERT INTO story VALUES (4)") }));
  t.ok(ok(await b.run({ kind: "promote" })));
  finished = true;
  unsubscribe();
  t.equal(told.length, 1, "onWritable is called once");
  t.ok(told[0]?.duringAction, "before the promote action returned");
  await t.resolves(told[0]!.write, "a write issued the moment onWritable was called succeeds");
  t.match(await b.observe(), { role: "primary", timeline: 2, upstream: null });
  const conf = readFileSync(join(b.settings.dataDir, "raftgres.conf"), "utf8");
  t.match(conf, /primary_conninfo = ''/, "a restart stays primary");
  t.same(await sees(c, 4), [1, 2, 3, 4]);
  const onC = await eventually(async () => {
    const o = await c.observe();
    return o.timeline === 2 && o.streaming ? o : undefined;
  }, 15_000, "pg-c on timeline 2");
  t.match(onC, { role: "replica", upstream: "pgb" });
});

t.test("the old primary diverges, is rewound against the new one and streams from it", async (t) => {
  await sql(a, "INSERT INTO story VALUES (100)");
  const refused = await a.run({ kind: "rewind", source: upstreamOf(b) });
  t.equal(E.isLeft(refused) && refused.left.code, "wrongState", "rewind refuses a running server");
  // Immediate: a crashed old primary, which pg_rewind recovers in single-user mode first.
  t.ok(ok(await a.run({ kind: "stop", mode: "immediate" })));
  t.match(await a.observe(), { process: "stopped", timeline: 1, controlState: "in production" });
  // Issue 14: a source that goes away mid-way (a second failover) is "sourceLost" — retried
  // against the primary of the moment, never a reason to wipe the data directory.
  const proxy = await cuttingProxy(b.settings.port, 256 * 1024);
  t.teardown(() => proxy.close());
  const interrupted = await a.run({ kind: "rewind", source: { member: m("pgb"), connUrl: serverUrl("127.0.0.1", proxy.port) } });
  t.ok(proxy.cuts() > 0, "the proxy cut the transfer");
  t.equal(E.isLeft(interrupted) && interrupted.left.code, "sourceLost", E.isLeft(interrupted) ? interrupted.left.message : "it succeeded");
  t.match(await a.observe(), { dataDir: "initialized", process: "stopped" }, "the data directory is still there");
  t.ok(existsSync(join(walBackupDir(a.settings.dataDir), "COMPLETE")), "with a copy of its own WAL beside it");
  t.ok(ok(await a.run({ kind: "rewind", source: upstreamOf(b) })), "the rewind against the source itself then succeeds");
  t.ok(logger.lines.some((l) => l.fields["member"] === "pga" && /an earlier pg_rewind was interrupted/.test(l.message)), "after putting that WAL back");
  t.notOk(existsSync(walBackupDir(a.settings.dataDir)), "the copy is gone once the rewind succeeded");
  const pgaLines = logger.lines.filter((l) => l.fields["member"] === "pga").map((l) => l.message);
  t.ok(pgaLines.some((l) => /^rewound against pgb/.test(l)), "a real rewind, not a no-op", { lines: pgaLines.slice(-25) });
  t.ok(ok(await b.run({ kind: "syncSlots", members, permanent: NO_PERMANENT_SLOTS })));
  t.ok(ok(await a.run({ kind: "start", as: "replica", upstream: upstreamOf(b) })));
  await sql(b, "INSERT INTO story VALUES (5)");
  t.same(await sees(a, 5), [1, 2, 3, 4, 5], "the diverged row 100 is gone");
  const observed = await eventually(async () => {
    const o = await a.observe();
    return o.streaming ? o : undefined;
  }, 15_000, "pga streaming from pgb");
  t.match(observed, { role: "replica", timeline: 2, replayTimeline: 2, upstream: "pgb" }, "the replay timeline read over a replication session");
});

t.test("a rewind of a crashed replica that never diverged succeeds and it streams again", async (t) => {
  t.ok(ok(await c.run({ kind: "stop", mode: "immediate" })));
  t.match(await c.observe(), { controlState: "in archive recovery" });
  t.ok(ok(await c.run({ kind: "rewind", source: upstreamOf(b) })));
  t.ok(logger.lines.some((l) => l.fields["member"] === "pg-c" && /no rewind required/.test(l.message)), "nothing to undo");
  t.ok(ok(await c.run({ kind: "start", as: "replica", upstream: upstreamOf(b) })));
  await sql(b, "INSERT INTO story VALUES (6)");
  t.same(await sees(c, 6), [1, 2, 3, 4, 5, 6]);
});

t.test("reinit wipes a replica and clones it again", async (t) => {
  t.ok(ok(await a.run({ kind: "reinit", source: upstreamOf(b), reason: "test" })));
  t.match(await a.observe(), { process: "stopped", upstream: "pgb", dataDir: "initialized" });
  t.ok(ok(await a.run({ kind: "start", as: "replica", upstream: upstreamOf(b) })));
  await sql(b, "INSERT INTO story VALUES (7)");
  t.same(await sees(a, 7), [1, 2, 3, 4, 5, 6, 7]);
});
