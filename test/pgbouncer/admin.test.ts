/**
 * The pgbouncer admin client (src/pg/pgbouncer_admin.ts) against a real pgbouncer: PAUSE and
 * RESUME by database, RELOAD of a rewritten databases file, and each failure named by its code
 * (a RESUME of a database not paused, a refused login, nobody listening, a silent peer).
 */
import { readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import * as E from "fp-ts/lib/Either.js";
import t from "tap";
import { pgbouncerCommand, type PgbouncerTarget } from "../../src/pg/pgbouncer_admin.js";
import { primaryAddress, renderDatabases, writeDatabasesFile } from "../../src/pg/pgbouncer_databases.js";
import { pgbouncerMissing, startPgbouncer } from "../../lab/pgbouncer.js";
import { freePort } from "../../lab/sockets.js";

const ADMIN = { username: "raftgres_admin", password: "raftgres-test-pgbouncer" };
t.setTimeout(60_000);

const missing = pgbouncerMissing();
if (missing !== null) t.plan(0, missing);
else await run();

async function run(): Promise<void> {
  const pgbouncer = await startPgbouncer({ users: [], admin: ADMIN });
  t.teardown(() => pgbouncer.stop());
  const target: PgbouncerTarget = { name: "pgb", host: "127.0.0.1", port: pgbouncer.port, ...ADMIN };

  await t.test("a rewritten databases file is RELOADed, then its database is paused and resumed by name", async (t) => {
    const primary = primaryAddress("pg2", "postgres://127.0.0.1:5999/postgres")!;
    t.same(primary, { member: "pg2", host: "127.0.0.1", port: 5999 });
    const text = renderDatabases("main", primary, new Map([["appdb", "dbname=appdb pool_size=5"]]));
    t.same(writeDatabasesFile(pgbouncer.databasesFile, text), E.right(true), "written");
    t.same(writeDatabasesFile(pgbouncer.databasesFile, text), E.right(false), "unchanged the second time");
    t.match(readFileSync(pgbouncer.databasesFile, "utf8"), /^appdb = host=127\.0\.0\.1 port=5999 dbname=appdb pool_size=5$/m);
    t.same(await pgbouncerCommand(target, { kind: "reload" }, 2_000), E.right(undefined), "RELOAD");
    const databases = await pgbouncer.admin("SHOW DATABASES");
    t.match(databases.find((d) => d["name"] === "appdb"), { host: "127.0.0.1", port: 5999, database: "appdb" }, "pgbouncer uses the new definition");
    t.same(await pgbouncerCommand(target, { kind: "pause", database: "appdb" }, 2_000), E.right(undefined), "PAUSE appdb");
    t.same(await pgbouncer.paused(["appdb"]), ["appdb"]);
    t.same(await pgbouncerCommand(target, { kind: "resume", database: "appdb" }, 2_000), E.right(undefined), "RESUME appdb");
    t.same(await pgbouncer.paused(["appdb"]), []);
    const again = await pgbouncerCommand(target, { kind: "resume", database: "appdb" }, 2_000);
    t.match(again, { left: { code: "notPaused", message: /pgbouncer pgb \(127\.0\.0\.1:\d+\): RESUME appdb: database appdb is not paused/ } }, "a second RESUME says the database is not paused");
  });

  await t.test("each failure is named: a refused login, nobody listening, a silent peer", async (t) => {
    const wrong = await pgbouncerCommand({ ...target, password: "wrong" }, { kind: "reload" }, 2_000);
    t.match(wrong, { left: { code: "refused", message: /refused the admin login: .*admin_users/ } });
    const notAdmin = await pgbouncerCommand({ ...target, username: "nobody" }, { kind: "reload" }, 2_000);
    t.match(notAdmin, { left: { code: "refused" } }, "a user pgbouncer does not know is refused");
    const closed = await pgbouncerCommand({ ...target, port: await freePort() }, { kind: "reload" }, 2_000);
    t.match(closed, { left: { code: "unreachable", message: /is unreachable: .*ECONNREFUSED/ } });
    // A peer that accepts and never answers: the time limit ends the attempt.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const hung = await pgbouncerCommand({ ...target, port }, { kind: "pause", database: "appdb" }, 300);
    t.match(hung, { left: { code: "unreachable" } }, "a silent peer is unreachable");
    t.ok(Date.now() - started < 5_000, "the attempt ended at its time limit, not the peer's whim");
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
}
