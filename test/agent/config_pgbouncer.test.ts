import { either as E } from "fp-ts";
import t from "tap";
import { parseAgentConfig } from "../../src/agent/config.js";
import { MINIMAL_NODE_YML, problems } from "./config_support.js";
import { PGBOUNCER_DEFAULTS } from "../../src/agent/config_pgbouncer.js";

const BASE = MINIMAL_NODE_YML;

const SECTION = `
pgbouncer:
  admin: { username: raftgres, password: adminpw }
  instances:
    - name: app1
      address: 10.0.0.5:6432
      databases_file: /etc/pgbouncer/raftgres_databases.ini
    - address: 10.0.0.6:6432
  databases:
    appdb: dbname=appdb pool_size=20
    reports: ""
`;

t.test("a node.yml without a pgbouncer section pauses no pgbouncer", async (t) => {
  const parsed = parseAgentConfig(BASE, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.equal(parsed.right.pgbouncer, null);
});

t.test("the pgbouncer section is read with its defaults", async (t) => {
  const parsed = parseAgentConfig(BASE + SECTION, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  const settings = parsed.right.pgbouncer!;
  t.same(settings.instances.map((i) => i.target), [
    { name: "app1", host: "10.0.0.5", port: 6432, username: "raftgres", password: "adminpw" },
    { name: "10.0.0.6:6432", host: "10.0.0.6", port: 6432, username: "raftgres", password: "adminpw" },
  ], "an instance without a name is named by its address");
  t.same(settings.instances.map((i) => i.databasesFile), ["/etc/pgbouncer/raftgres_databases.ini", null]);
  t.same([...settings.databases], [["appdb", "dbname=appdb pool_size=20"], ["reports", ""]]);
  t.equal(settings.pauseWaitMs, PGBOUNCER_DEFAULTS.pauseWaitMs);
  t.equal(settings.pauseMaxMs, PGBOUNCER_DEFAULTS.pauseMaxMs);
  t.equal(settings.commandTimeoutMs, PGBOUNCER_DEFAULTS.commandTimeoutMs);
});

t.test("every mistake in the pgbouncer section names its key and what to do", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["  admin: { username: raftgres, password: adminpw }\n", "", /node\.yml: pgbouncer\.admin: is required/],
    ["      address: 10.0.0.5:6432", "      address: pgb1", /node\.yml: pgbouncer\.instances\[0\]\.address: must be host:port, got "pgb1"/],
    ["      databases_file: /etc/pgbouncer/raftgres_databases.ini", "      databases_file: dbs.ini", /pgbouncer\.instances\[0\]\.databases_file: must be an absolute path/],
    ["    - address: 10.0.0.6:6432", "    - address: 10.0.0.6:6432\n      name: app1", /pgbouncer\.instances\[1\]\.name: "app1" names another instance too/],
    ["    - address: 10.0.0.6:6432", "    - address: 10.0.0.6:6432\n      admin_port: 1", /pgbouncer\.instances\[1\]\.admin_port: unknown key; the keys of pgbouncer\.instances\[1\] are name, address, databases_file/],
    ["    appdb: dbname=appdb pool_size=20", "    appdb: host=10.0.0.9 dbname=appdb", /pgbouncer\.databases\.appdb: host is the primary's, written by raftgres: leave it out/],
    ["    appdb: dbname=appdb pool_size=20", "    appdb: dbname=appdb\n      pool=2", /pgbouncer\.databases\.appdb: "pool" is not a pgbouncer database setting/],
    ["    appdb: dbname=appdb pool_size=20", "    appdb: \"dbname='app db'\"", /pgbouncer\.databases\.appdb: "dbname='app" must be key=value with no quotes/],
    ["    appdb: dbname=appdb pool_size=20", "    \"*\": dbname=appdb", /pgbouncer\.databases\.\*: .*fallback database \* cannot be paused by name/],
    ["    appdb: dbname=appdb pool_size=20", "    appdb: 5", /pgbouncer\.databases\.appdb: must be a string of key=value settings, got 5/],
    ["  databases:\n    appdb: dbname=appdb pool_size=20\n    reports: \"\"\n", "", /node\.yml: pgbouncer\.databases: must map 1 to 32 pgbouncer database names/],
    ["  databases:", "  pause_wait_ms: 50\n  databases:", /pgbouncer\.pause_wait_ms: must be an integer from 100 to 60000, got 50/],
    ["  databases:", "  pause_wait_ms: 10000\n  pause_max_ms: 5000\n  databases:", /pgbouncer\.pause_max_ms: must be at least pause_wait_ms \+ 1000 \(11000\), got 5000/],
    ["  instances:\n    - name: app1\n      address: 10.0.0.5:6432\n      databases_file: /etc/pgbouncer/raftgres_databases.ini\n    - address: 10.0.0.6:6432\n", "  instances: []\n", /pgbouncer\.instances: must be a list of 1 to 16 pgbouncers/],
    ["pgbouncer:", "pgbouncer:\n  listen: 1", /node\.yml: pgbouncer\.listen: unknown key; the keys of pgbouncer are admin, instances, databases/],
  ];
  for (const [from, to, expected] of cases) {
    const text = (BASE + SECTION).replace(from, to);
    t.not(text, BASE + SECTION, `the case edits the file: ${from.trim()}`);
    t.match(problems(text), expected, expected.source);
  }
});

t.test("a list of instances longer than the bound is refused before any is read", async (t) => {
  const many = Array.from({ length: 17 }, (_, i) => `    - address: 10.0.0.${i + 1}:6432`).join("\n");
  const text = (BASE + SECTION).replace(/  instances:\n(    .*\n|      .*\n)+/, `  instances:\n${many}\n`);
  t.match(problems(text), /pgbouncer\.instances: must be a list of 1 to 16 pgbouncers/);
});
