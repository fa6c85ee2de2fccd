/**
 * parameterProblems(): PostgreSQL 15's parameter rules, the reproductions of issue 12 item 4,
 * and a cross-check against the real server — every value of a corpus of awkward spellings is
 * written into a configuration file as the agent writes it (confValue) and read by
 * `postgres -C` the way a start reads it: the checker and the server must agree on each one.
 */
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import { confValue } from "../../src/pg/conf.js";
import { closestName, editDistance, parameterProblem, parameterProblems } from "../../src/pg/parameter_check.js";
import { lookupOsUser } from "../../src/pg/os_user.js";
import { PG_PARAMETERS } from "../../src/pg/pg15_parameters.js";
import { runProgram, succeeded } from "../../src/pg/programs.js";
import { DEFAULT_BIN_DIR } from "../../src/pg/settings.js";

const W = "postgresql.parameters";
const ok = (name: string, value: unknown): boolean => parameterProblem(name, value, W) === null;

t.test("issue 12 reproductions: an unknown name, a newline in a value", async (t) => {
  t.same(parameterProblems({ no_such_param: "1" }, W).length, 1);
  t.match(parameterProblems({ no_such_param: "1" }, W)[0], /^postgresql\.parameters\.no_such_param is not a PostgreSQL 15 parameter: did you mean \w+\?$/);
  t.same(parameterProblems({ wrok_mem: "64MB" }, W), ["postgresql.parameters.wrok_mem is not a PostgreSQL 15 parameter: did you mean work_mem?"]);
  t.same(parameterProblems({ checkpoint_timeout: "1s\nfsync = off" }, W), [
    `postgresql.parameters.checkpoint_timeout = "1s\\nfsync = off": control characters (newline, tab …) are not allowed in a parameter's value`,
  ]);
  for (const c of ["\u0000", "\t", "\r", "\u001f", "\u007f"]) t.notOk(ok("application_name", `a${c}b`), JSON.stringify(c));
  t.notOk(ok("myext.x\n", "1"), "control characters in a name");
  t.ok(ok("application_name", "é ü ∂"), "other characters are fine");
});

t.test("every problem is reported, each naming where, the value and the rule", async (t) => {
  const problems = parameterProblems({ max_connections: "lots", work_mem: "64XB", huge_pages: "maybe", enable_seqscan: "o", shared_buffers: "1kB", fsync: true }, W);
  t.same(problems, [
    'postgresql.parameters.max_connections = "lots": max_connections takes an integer',
    'postgresql.parameters.work_mem = "64XB": work_mem takes an integer in memory units; units: TB, GB, MB, kB, B (without one: kB)',
    'postgresql.parameters.huge_pages = "maybe": huge_pages must be one of off, on, try',
    'postgresql.parameters.enable_seqscan = "o": enable_seqscan is a boolean: on, off, true, false, yes, no, 1 or 0 (a unique prefix is enough)',
    'postgresql.parameters.shared_buffers = "1kB": shared_buffers must be between 16 and 1073741823 units of 8kB; "1kB" is 0 units of 8kB',
  ]);
  t.same(parameterProblems({}, "bootstrap.dcs.postgresql.parameters"), []);
  t.match(parameterProblems({ max_connections: 0 }, "bootstrap.dcs.postgresql.parameters"), ["bootstrap.dcs.postgresql.parameters.max_connections = 0: max_connections must be between 1 and 262143"]);
});

t.test("values arrive as JSON strings, numbers and booleans; nothing else", async (t) => {
  t.ok(ok("max_connections", 200));
  t.ok(ok("max_connections", "200"));
  t.ok(ok("work_mem", "64MB"));
  t.ok(ok("work_mem", 65536));
  t.ok(ok("hot_standby_feedback", true));
  t.ok(ok("synchronous_commit", false), "false is off, an enum value");
  t.notOk(ok("wal_level", true), "on is no wal_level");
  t.ok(ok("search_path", 5), "a number for a string parameter is its text");
  for (const bad of [null, [1], { a: 1 }, Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
    t.match(parameterProblem("work_mem", bad, W), /a PostgreSQL parameter is a string, a finite number or a boolean/);
  }
});

t.test("integers and reals: units of the base unit, conversion, range", async (t) => {
  t.ok(ok("work_mem", "64kB") && ok("work_mem", "64 kB ") && ok("work_mem", "1TB") && ok("work_mem", "65536B"));
  t.notOk(ok("work_mem", "63kB"), "below min 64");
  t.notOk(ok("work_mem", "64KB"), "units are case-sensitive");
  t.notOk(ok("work_mem", "64 ms"), "a time unit for a memory parameter");
  t.notOk(ok("max_connections", "100kB"), "no unit for a unitless parameter");
  t.ok(ok("checkpoint_timeout", "30s") && ok("checkpoint_timeout", "0.5min") && ok("checkpoint_timeout", "1d"));
  t.notOk(ok("checkpoint_timeout", "29s"));
  t.notOk(ok("checkpoint_timeout", "2d"), "above 86400 s");
  t.ok(ok("log_rotation_age", "90s"), "90 s is 1.5 min, rounded to 2");
  t.ok(ok("unix_socket_permissions", "0777"), "octal, as strtol reads it");
  t.notOk(ok("unix_socket_permissions", "0778"));
  t.ok(ok("vacuum_cost_delay", "0.5") && ok("vacuum_cost_delay", "200us"));
  t.match(parameterProblem("vacuum_cost_delay", "200ms", W), /must be between 0 and 100 ms; "200ms" is 200 ms$/);
  t.notOk(ok("seq_page_cost", "nan"));
  t.notOk(ok("max_wal_senders", 1.5e10), "outside the 32-bit range");
  t.ok(ok("max_wal_senders", 1.5), "a fraction is rounded, as PostgreSQL does");
});

t.test("booleans and enums: PostgreSQL's spellings", async (t) => {
  for (const yes of ["on", "ON", "true", "t", "tRu", "yes", "y", "1", "of", "off", "f", "no", "n", "0"]) t.ok(ok("fsync", yes), yes);
  for (const no of ["o", "", "2", "truex", "onn", " on", "on "]) t.notOk(ok("fsync", no), JSON.stringify(no));
  t.ok(ok("synchronous_commit", "Remote_Apply"), "case-insensitive");
  t.ok(ok("synchronous_commit", "yes"), "a spelling pg_settings hides");
  t.ok(ok("wal_level", "hot_standby"), "an old spelling PostgreSQL still takes");
  t.match(parameterProblem("wal_level", "minimal", W), /raftgres needs wal_level replica or logical/);
});

t.test("names: custom ones with one dot, case-insensitive, the ones raftgres sets, the ones no file may set", async (t) => {
  t.ok(ok("pg_stat_statements.max", "1000") && ok("myext.setting", "it's \\ fine"));
  t.notOk(ok("a.b.c", "1"), "a file takes one dot only (guc-file.l)");
  t.notOk(ok("1a.b", "1") && ok("a.", "1"));
  t.ok(ok("Work_Mem", "4MB") && ok("DateStyle", "ISO, MDY"));
  t.match(parameterProblems({ work_mem: "4MB", WORK_MEM: "8MB" }, W), [/WORK_MEM: work_mem is set as well/]);
  for (const name of ["port", "listen_addresses", "primary_conninfo", "hot_standby", "include", "data_directory", "cluster_name", "wal_log_hints"]) {
    t.match(parameterProblem(name, "x", W), new RegExp(`raftgres sets ${name} itself \\(.+\\); remove it$`));
  }
  t.equal(parameterProblem("hot_standby", "on", W), null, "the value raftgres sets, as Patroni's sample patroni.yml gives it");
  t.equal(parameterProblem("WAL_LOG_HINTS", true, W), null);
  t.match(parameterProblem("hot_standby", false, W), /raftgres sets hot_standby itself/);
  t.match(parameterProblem("wal_log_hints", "off", W), /raftgres sets wal_log_hints itself/);
  t.equal(parameterProblem("unix_socket_directories", "/var/run/postgresql", W), null, "local psql through a socket, as Patroni's guides have it");
  t.match(parameterProblem("block_size", 8192, W), /cannot be set in a configuration file \(it is fixed when PostgreSQL is built/);
  t.match(parameterProblem("role", "x", W), /per-session setting/);
  t.match(parameterProblem("x".repeat(64), "1", W), /at most 63 characters/);
});

t.test("the closest name: edit distance with transpositions", async (t) => {
  t.equal(editDistance("work_mem", "wrok_mem"), 1);
  t.equal(editDistance("", "abc"), 3);
  t.equal(editDistance("kitten", "sitting"), 3);
  t.equal(closestName("shared_bufers"), "shared_buffers");
  t.equal(closestName("max_conections"), "max_connections");
  t.notOk(["block_size", "role"].includes(closestName("role_")), "never a parameter no file may set");
});

t.test("the checker agrees with PostgreSQL 15 on every value of the corpus", async (t) => {
  const corpus: Record<string, readonly unknown[]> = {
    work_mem: ["64MB", "64 MB", "64mb", "1.5GB", "0x10", "010", "08", "1e3", "1e", "-1", ".5", "-.5", "  100", "100 ", "64kB ", "1TBx", "inf", "nan", "", "63", "64", "1TB", "2TB", 65536, 1.5, -1, 1e21, "1 kB", "1kB x", "10000000000", "0.00006TB", "65535B", "65536B", "0x40kB", 63.5, 64.5, 1e-7],
    shared_buffers: ["128kB", "127kB", "16", "15", "1MB", "0.5MB", "8TB", "1.5", "120kB", "124kB", "125kB", 16, "8GB"],
    checkpoint_timeout: ["30s", "29s", "30000ms", "29999ms", "29500ms", "0.5min", "1h", "1d", "2d", "30 s", "30S", "30sec", "1us", "30000000us", "29999999us"],
    log_rotation_age: ["1d", "1s", "30s", "29s", "90s", "1ms", "0", "-1", "35791394", "35791395", "24855d"],
    vacuum_cost_delay: ["0.5", "100", "100.1", "1s", "0.1s", "200us", "1e2", "-0", "x", "inf", "nan", "1e400", "0x10", 99.5, "1 ms"],
    seq_page_cost: ["1", "1.5", "1ms", "-1", "1e308", "inf", "0x1p3", "1e309", ".", "1."],
    enable_seqscan: ["o", "on", "of", "off", "t", "TRUE", "tr", "yes", "y", "n", "no", "nO", "1", "0", "2", "", "true ", "offx", true, false, 1, 0],
    synchronous_commit: ["on", "ON", "true", "local", "Remote_Apply", "x", "", true, 1, "yes", "remote"],
    wal_level: ["replica", "logical", "LOGICAL", "hot_standby", "archive", "x", true],
    // Not 262143: a check hook also counts the workers and WAL senders against MAX_BACKENDS (the
    // checker knows no check hooks; a start that fails on one backs off and says why).
    max_connections: ["100", "100kB", "0", "1", "262000", "262144", 200, "2e2", "+5", "- 5", "0x"],
    unix_socket_permissions: ["0777", "0x1ff", "511", "512", "0778", "-0"],
    log_line_prefix: ["%m [%p] ", "it's", "back\\slash", "", 7],
    "myext.setting": ["x", "it's", 1, true],
  };
  const user = lookupOsUser("postgres");
  if (E.isLeft(user)) throw new Error(user.left);
  const root = mkdtempSync(join(tmpdir(), "raftgres-params-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  chmodSync(root, 0o711);
  const dataDir = join(root, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  chownSync(dataDir, user.right.uid, user.right.gid);
  const initdb = await runProgram(DEFAULT_BIN_DIR, user.right, { program: "initdb", args: ["-D", dataDir, "-U", "postgres", "--locale=C", "-E", "UTF8"], timeoutMs: 120_000 });
  t.ok(succeeded(initdb), `initdb: ${initdb.tail.join("\n")}`);
  appendFileSync(join(dataDir, "postgresql.conf"), "\ninclude_if_exists = 'probe.conf'\n");
  const rounds = Math.max(...Object.values(corpus).map((values) => values.length));
  let compared = 0;
  for (let round = 0; round < rounds; round++) {
    const lines: [string, unknown][] = Object.entries(corpus).filter(([, values]) => round < values.length).map(([name, values]) => [name, values[round]]);
    const probe = join(dataDir, "probe.conf");
    writeFileSync(probe, lines.map(([name, value]) => `${name} = ${confValue(value as string | number | boolean)}\n`).join(""));
    chownSync(probe, user.right.uid, user.right.gid);
    const outcome = await runProgram(DEFAULT_BIN_DIR, user.right, { program: "postgres", args: ["-D", dataDir, "-C", "port"], timeoutMs: 30_000 });
    const output = outcome.tail.join("\n");
    t.notMatch(output, /syntax error/, `round ${round}: every line the agent writes parses`);
    const refused = new Set([...output.matchAll(/parameter "([^"]+)"/g)].map((m) => m[1]));
    for (const [name, value] of lines) {
      compared++;
      const problem = parameterProblem(name, value, W);
      t.equal(problem === null, !refused.has(name), `${name} = ${JSON.stringify(value)}: PostgreSQL ${refused.has(name) ? "refuses" : "accepts"} it; checker: ${problem ?? "accepts"}`);
    }
  }
  t.ok(compared > 150, `${compared} values compared`);
});

t.test("the catalogue has the parameters an operator sets most", async (t) => {
  for (const name of ["max_connections", "shared_buffers", "work_mem", "wal_level", "synchronous_commit", "max_wal_senders", "archive_command"]) t.ok(PG_PARAMETERS[name], name);
});
