/**
 * The pure parts of src/pg, without PostgreSQL: WAL positions, connection strings, slot names,
 * pg_controldata output, the configuration text, settings validation and the reachability check.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { confValue, primaryConninfo, renderHba, renderServerConf, STREAMING_TIMEOUTS } from "../../src/pg/conf.js";
import { formatConninfo, parseConnectionString, redact } from "../../src/pg/conninfo.js";
import { parseControlData } from "../../src/pg/controldata.js";
import { formatLsn, parseLsn } from "../../src/pg/lsn.js";
import { lookupOsUser, unreachableDirectory } from "../../src/pg/os_user.js";
import { passfileText, pgpassField, scramVerifier } from "../../src/pg/passfile.js";
import { type PostgresSettings, resolveSettings } from "../../src/pg/settings.js";
import { PostgresInstance } from "../../src/pg/postgres_instance.js";
import { slotName } from "../../src/pg/slot_names.js";
import { ServerFiles } from "../../src/pg/server_files.js";
import type { Lsn, MemberName } from "../../src/pg/types.js";
import { REPLICATION, SUPERUSER } from "./support.js";

const m = (name: string): MemberName => name as MemberName;

const base: PostgresSettings = {
  memberName: m("pg1"),
  dataDir: "/var/lib/raftgres/pg1",
  listenHost: "0.0.0.0",
  port: 5433,
  superuser: SUPERUSER,
  replication: REPLICATION,
  parameters: { work_mem: "8MB", max_wal_senders: 20 },
  pgHba: ["hostssl all all 10.0.0.0/8 cert"],
  logger: SILENT_LOGGER,
};

t.test("WAL positions parse from X/Y and format back", async (t) => {
  t.same(parseLsn("16/B374D848"), E.right((0x16n << 32n) + 0xb374d848n));
  t.same(parseLsn("0/0"), E.right(0n));
  t.equal(formatLsn(((0x16n << 32n) + 0xb374d848n) as Lsn), "16/B374D848");
  t.ok(E.isLeft(parseLsn("16B374D848")));
  t.ok(E.isLeft(parseLsn("123456789/0")), "a half has at most 8 digits");
});

t.test("connection strings: URL and keyword forms, quoting that survives a round trip", async (t) => {
  const url = parseConnectionString("postgresql://al%20ice:p%40ss@[::1]:5433/app?sslmode=require");
  t.same(E.isRight(url) && [...url.right], [["host", "::1"], ["port", "5433"], ["user", "al ice"], ["password", "p@ss"], ["dbname", "app"], ["sslmode", "require"]]);
  const keywords = parseConnectionString(`host=db1 port = 5432 password='it\\'s a \\\\secret' application_name=x`);
  t.same(E.isRight(keywords) && Object.fromEntries(keywords.right), { host: "db1", port: "5432", password: "it's a \\secret", application_name: "x" });
  const again = E.isRight(keywords) ? parseConnectionString(formatConninfo(keywords.right)) : keywords;
  t.same(E.isRight(again) && Object.fromEntries(again.right), E.isRight(keywords) && Object.fromEntries(keywords.right));
  t.ok(E.isLeft(parseConnectionString("host='unterminated")));
  t.ok(E.isLeft(parseConnectionString("=5")));
  t.equal(redact("host=a password='x y' user=b"), "host=a password=*** user=b");
  t.equal(redact("postgresql://u:secret@h/db"), "postgresql://u:***@h/db");
});

t.test("slot names: lowercase [a-z0-9_] with a prefix, distinct for names that sanitize alike", async (t) => {
  t.equal(slotName(m("pg1")), "rg_pg1");
  t.equal(slotName(m("pg_1")), "rg_pg_1");
  t.match(slotName(m("pg-1")), /^rg_pg_1_[0-9a-f]{8}$/);
  t.not(slotName(m("pg-1")), slotName(m("pg.1")));
  t.not(slotName(m("PG1")), slotName(m("pg1")));
  const long = slotName(m("a".repeat(63)));
  t.ok(long.length <= 63 && /^[a-z0-9_]+$/.test(long), long);
});

t.test("pg_controldata output parses into system id, state, timeline and rewind prerequisites", async (t) => {
  const text = [
    "Database system identifier:           7711520578337721766",
    "Database cluster state:               shut down in recovery",
    "Latest checkpoint's TimeLineID:       3",
    "wal_log_hints setting:                off",
    "Data page checksum version:           0",
  ].join("\n");
  t.same(parseControlData(text), E.right({ systemId: "7711520578337721766", state: "shut down in recovery", checkpointTimeline: 3, checkpointLsn: null, minRecoveryLsn: null, minRecoveryTimeline: null, dataChecksums: false, walLogHints: false }));
  const recovery = parseControlData(`${text}\nLatest checkpoint location:           0/5000060\nMinimum recovery ending location:     0/6000108\nMin recovery ending loc's timeline:   4\n`);
  t.match(E.isRight(recovery) && recovery.right, { checkpointLsn: 0x5000060n, minRecoveryLsn: 0x6000108n, minRecoveryTimeline: 4 }, "the minimum recovery point and its timeline");
  const zero = parseControlData(`${text}\nMinimum recovery ending location:     0/0\nMin recovery ending loc's timeline:   0\n`);
  t.match(E.isRight(zero) && zero.right, { minRecoveryLsn: null, minRecoveryTimeline: null }, "0/0 on timeline 0 is none");
  const odd = parseControlData(text.replace("shut down in recovery", "in some new state").replace("off", "on"));
  t.match(E.isRight(odd) && odd.right, { state: "unknown", walLogHints: true });
  t.ok(E.isLeft(parseControlData("pg_controldata: error: could not open file")));
});

t.test("raftgres.conf: HA parameters win over the user's, a replica names its upstream and slot", async (t) => {
  const resolved = resolveSettings(base);
  if (E.isLeft(resolved)) throw new Error(resolved.left);
  // Parameters from before the checks (resolveSettings refuses them now) are left out, named.
  const s = { right: { ...resolved.right, parameters: { ...resolved.right.parameters, port: 1, hot_standby: false, wal_level: "minimal", no_such_param: 1, work_mem_x: "1" } } };
  const primary = renderServerConf(s.right, { role: "primary" });
  t.ok(E.isRight(primary));
  const text = E.isRight(primary) ? primary.right.text : "";
  t.match(E.isRight(primary) && primary.right.refused, [/port: raftgres sets port itself/, /hot_standby: raftgres sets/, /wal_level = "minimal": raftgres needs/, /no_such_param is not a PostgreSQL 15 parameter/, /work_mem_x is not a PostgreSQL 15 parameter: did you mean work_mem\?/]);
  t.notMatch(text, /no_such_param|work_mem_x|^port = 1$/m);
  t.match(text, /^# raftgres upstream member: \n/);
  t.match(text, /^port = 5433$/m);
  t.match(text, /^hot_standby = on$/m);
  t.match(text, /^wal_level = 'logical'$/m, "minimal cannot be allowed: logical, the default, is written instead");
  t.ok(text.indexOf("wal_level = 'logical'") < text.indexOf("include_if_exists = 'raftgres.dynamic.conf'"), "as a default the cluster's parameters may change: wal_level replica is honoured");
  const replicaLevel = renderServerConf({ ...resolved.right, parameters: { wal_level: "replica" } }, { role: "primary" });
  const replicaText = E.isRight(replicaLevel) ? replicaLevel.right.text : "";
  t.equal(replicaText.match(/^wal_level = .*$/gm)?.at(-1), "wal_level = 'replica'", "this node's replica wins over the default");
  t.match(text, /^max_wal_senders = 20$/m, "the user's choice where HA does not care");
  t.match(text, /^work_mem = '8MB'$/m);
  t.match(text, /^unix_socket_directories = ''$/m);
  const socket = renderServerConf({ ...resolved.right, parameters: { unix_socket_directories: "/var/run/postgresql" } }, { role: "primary" });
  const socketText = E.isRight(socket) ? socket.right.text : "";
  t.equal(socketText.match(/^unix_socket_directories = .*$/gm)?.at(-1), "unix_socket_directories = '/var/run/postgresql'", "a socket directory the configuration names wins over none");
  t.match(text, /^primary_conninfo = ''$/m);
  const upstream = { member: m("pg2"), connUrl: "postgresql://10.0.0.2:5433/postgres" };
  const replica = renderServerConf(s.right, { role: "replica", upstream });
  t.match(E.isRight(replica) && replica.right.text, /^# raftgres upstream member: pg2\n[\s\S]*^primary_slot_name = 'rg_pg1'$/m);
  const filesWithoutSlots = new ServerFiles();
  filesWithoutSlots.setUseSlots(false);
  const slotless = renderServerConf({ ...s.right, serverFiles: filesWithoutSlots }, { role: "replica", upstream });
  t.match(E.isRight(slotless) && slotless.right.text, /^primary_slot_name = ''$/m, "use_slots off: no slot named, the primary keeps none");
  const conninfo = primaryConninfo(s.right, upstream);
  const parsed = E.isRight(conninfo) ? parseConnectionString(conninfo.right) : conninfo;
  t.same(E.isRight(parsed) && Object.fromEntries(parsed.right), { host: "10.0.0.2", port: "5433", user: "rg_repl", passfile: "/var/lib/raftgres/pg1.pgpass", application_name: "pg1", ...STREAMING_TIMEOUTS });
  t.notMatch(text + (E.isRight(replica) ? replica.right.text : ""), REPLICATION.password, "no password in raftgres.conf");
  t.equal(confValue("it's \\ here"), "'it''s \\\\ here'");
  t.equal(confValue(200), "200");
  t.equal(confValue(-1), "-1");
  t.equal(confValue(0.5), "0.5");
  t.equal(confValue(1e21), "'1e+21'", "a number the configuration lexer would split is quoted");
  t.equal(confValue(1e-7), "'1e-7'");
  t.equal(confValue(true), "on");
  t.ok(E.isLeft(renderServerConf(s.right, { role: "replica", upstream: { member: m("x"), connUrl: "host='oops" } })));
  const hba = renderHba(s.right).split("\n");
  t.equal(hba[3], "hostssl all all 10.0.0.0/8 cert", "the user's lines come first, after the line naming their setting");
  t.ok(hba.includes('host replication "rg_repl" 127.0.0.1/32 scram-sha-256'));
  t.notOk(hba.some((line) => /0\.0\.0\.0\/0|::\/0/.test(line)), "nothing from anywhere");
});

t.test("settings are validated with every problem named; defaults are filled in", async (t) => {
  const s = resolveSettings(base);
  t.match(E.isRight(s) && s.right, { binDir: "/usr/lib/postgresql/15/bin", logDir: "/var/lib/raftgres/pg1.log.d", connectHost: "127.0.0.1", socketDir: null, osUser: { name: "postgres" }, timeouts: { startTimeoutMs: 60_000 } });
  const bad = resolveSettings({
    ...base,
    dataDir: "relative",
    port: 70_000,
    osUser: "no-such-user-here",
    parameters: { data_directory: "/x", "bad name": 1, no_such_param: "1", checkpoint_timeout: "1s\nfsync = off" },
    timeouts: { stopTimeoutMs: 5 },
    replication: SUPERUSER,
  });
  t.ok(E.isLeft(bad));
  const message = E.isLeft(bad) ? bad.left : "";
  for (const part of ["dataDir", "port 70000", "no-such-user-here", "data_directory", "bad name", "stopTimeoutMs", "different roles", "parameters.no_such_param is not a PostgreSQL 15 parameter", "control characters"]) t.match(message, part);
  t.ok(E.isLeft(resolveSettings({ ...base, logDir: "/var/lib/raftgres/pg1/log" })), "no log directory inside the data directory");
});

t.test("a directory the OS user cannot traverse is named, with what to do", async (t) => {
  const user = lookupOsUser("postgres");
  if (E.isLeft(user)) throw new Error(user.left);
  const root = mkdtempSync(join(tmpdir(), "raftgres-units-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "a"));
  const problem = unreachableDirectory(join(root, "a", "data"), user.right);
  t.match(problem, `directory ${root} (mode 0700`);
  t.match(problem, "chmod o+x");
  chmodSync(root, 0o711);
  t.equal(unreachableDirectory(join(root, "a", "data"), user.right), null);
  t.match(lookupOsUser("root"), { left: /refuses to run as root/ });
});

t.test("an instance whose data directory is out of the OS user's reach says which directory", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "raftgres-units-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const created = PostgresInstance.create({ ...base, dataDir: join(root, "pg1", "data") });
  if (E.isLeft(created)) throw new Error(created.left);
  const observed = await created.right.observe();
  t.match(observed, { dataDir: "inaccessible", process: "stopped", problem: `directory ${root} (mode 0700` });
  const bootstrap = await created.right.run({ kind: "bootstrap" });
  t.match(bootstrap, { left: { code: "wrongState", message: "is not reachable by OS user \"postgres\"" } });
});

t.test("an instance whose bin_dir lacks PostgreSQL's programs is refused, naming them", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "raftgres-units-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const created = PostgresInstance.create({ ...base, binDir: root });
  t.match(created, { left: `bin_dir ${root} has no postgres, initdb, pg_controldata, pg_basebackup, pg_rewind` });
});

t.test("the password file: libpq's escapes, one line per role; SCRAM verifiers as PostgreSQL stores them", async (t) => {
  t.equal(pgpassField("a:b\\c"), "a\\:b\\\\c");
  t.equal(passfileText({ replication: { username: "rg_repl", password: "p:w\\x" }, superuser: { username: "rg_admin", password: "s" } }), "*:*:*:rg_repl:p\\:w\\\\x\n*:*:*:rg_admin:s\n");
  const s = resolveSettings(base);
  t.equal(E.isRight(s) && s.right.passfile, "/var/lib/raftgres/pg1.pgpass", "beside the data directory, not in it");
  t.ok(E.isLeft(resolveSettings({ ...base, passfile: "/var/lib/raftgres/pg1/pgpass" })), "never inside the data directory");
  t.ok(E.isLeft(resolveSettings({ ...base, replication: { username: "rg_repl", password: "tab\there" } })), "no control characters in a password");
  // RFC 7677's test vector: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==.
  const verifier = scramVerifier("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"));
  t.equal(verifier, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
  t.equal(scramVerifier("pässword"), null, "SASLprep is the server's business");
});
