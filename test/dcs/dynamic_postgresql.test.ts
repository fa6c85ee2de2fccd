/**
 * The cluster's postgresql.pg_hba, use_pg_rewind and use_slots (src/dcs/dynamic_postgresql.ts):
 * what a plausible pg_hba line is, the bounds, the sentences naming the key, and how a stored
 * value is read; and the precedence of node.yml over the cluster's config (src/ha/settings.ts).
 */
import t from "tap";
import { dynamicPgHba, dynamicPostgresqlProblems, dynamicSwitch, hbaFields, hbaLineProblem, PG_HBA_LINE_CHARS_MAX, PG_HBA_LINES_MAX, pgHbaProblem } from "../../src/dcs/dynamic_postgresql.js";
import { DEFAULT_LOCAL_HA_SETTINGS, resolveHaSettings } from "../../src/ha/settings.js";

t.test("hbaLineProblem() accepts the lines PostgreSQL 15 parses, Patroni's samples among them", async (t) => {
  for (const line of [
    "host all all 0.0.0.0/0 md5",
    "host replication replicator 127.0.0.1/32 md5",
    "hostssl all app 10.0.0.0/8 scram-sha-256 clientcert=verify-full",
    "host all all 127.0.0.1 255.255.255.255 trust",
    "host all all ::1/128 scram-sha-256",
    'host "my db" "app user" samenet scram-sha-256',
    "local all all peer map=omicron",
    "host\tall\tall\tdb.example.com\tldap ldapserver=ldap.example.com ldapprefix=\"cn=\" ldapsuffix=\", dc=example\"",
    "hostnossl all all .example.com reject # refuse plain connections",
    "# only a comment",
    "",
  ]) t.equal(hbaLineProblem(line), null, JSON.stringify(line));
});

t.test("hbaLineProblem() refuses what PostgreSQL would refuse, saying what is wrong", async (t) => {
  t.match(hbaLineProblem("hots all all 0.0.0.0/0 md5"), /starts with "hots", which is no record type \(local, host, hostssl/);
  t.match(hbaLineProblem("host all all 0.0.0.0/0"), /has no authentication method \(host DATABASE USER ADDRESS METHOD/);
  t.match(hbaLineProblem("local all all"), /has no authentication method \(local DATABASE USER METHOD/);
  t.match(hbaLineProblem("host all all 0.0.0.0/0 md4"), /has "md4" where the authentication method goes/);
  t.match(hbaLineProblem("host all all 127.0.0.1 md5"), /gives the IP address 127\.0\.0\.1 with neither a \/prefix nor a mask field/, "a bare IP needs its mask");
  t.match(hbaLineProblem("host all all 0.0.0.0/0 md5 extra"), /has "extra" after the method, where only NAME=VALUE options go/);
  t.match(hbaLineProblem('host "all all 0.0.0.0/0 md5'), /unterminated double quote/);
  t.match(hbaLineProblem("host all all 0.0.0.0/0 md5\nhost all all ::/0 trust"), /control character/, "one entry cannot smuggle a second line");
  t.match(hbaLineProblem(`host all all 0.0.0.0/0 md5 ${"x=y ".repeat(PG_HBA_LINE_CHARS_MAX)}`), new RegExp(`longer than ${PG_HBA_LINE_CHARS_MAX}`));
  t.same(hbaFields('host "a b" c # d e'), ["host", '"a b"', "c"], "quotes keep blanks, # starts a comment");
});

t.test("pgHbaProblem() bounds the list and names the key and index of each bad line", async (t) => {
  t.equal(pgHbaProblem(["host all all 0.0.0.0/0 md5"], "postgresql.pg_hba"), null);
  t.equal(pgHbaProblem([], "postgresql.pg_hba"), null, "an empty list: no lines of the user's");
  t.match(pgHbaProblem("host all all 0.0.0.0/0 md5", "postgresql.pg_hba"), /^postgresql\.pg_hba must be a list of pg_hba\.conf lines, got string$/);
  t.match(pgHbaProblem(Array(PG_HBA_LINES_MAX + 1).fill("local all all peer"), "postgresql.pg_hba"), new RegExp(`^postgresql\\.pg_hba has ${PG_HBA_LINES_MAX + 1} lines, more than the ${PG_HBA_LINES_MAX} allowed$`));
  t.equal(pgHbaProblem(["local all all peer", 7, "host all all 0.0.0.0/0"], "postgresql.pg_hba"), 'postgresql.pg_hba[1]: must be a string (one line), got number; postgresql.pg_hba[2]: "host all all 0.0.0.0/0" has no authentication method (host DATABASE USER ADDRESS METHOD [OPTIONS])');
  const many = pgHbaProblem(Array(8).fill("nope"), "postgresql.pg_hba") ?? "";
  t.equal(many.split("; ").length, 6, "five lines named, the rest counted");
  t.match(many, /and 3 more lines$/);
});

t.test("the readers: a stored value counts when it is valid, and is unset otherwise", async (t) => {
  const config = { postgresql: { pg_hba: ["host all app 10.0.0.0/8 scram-sha-256"], use_pg_rewind: false, use_slots: true } };
  t.same(dynamicPgHba(config), ["host all app 10.0.0.0/8 scram-sha-256"]);
  t.equal(dynamicSwitch(config, "use_pg_rewind"), false);
  t.equal(dynamicSwitch(config, "use_slots"), true);
  t.same(dynamicPgHba({ postgresql: { pg_hba: [] } }), [], "an empty list is a list: no lines of the user's");
  for (const stored of [{}, { postgresql: "x" }, { postgresql: { pg_hba: null } }, { postgresql: { pg_hba: ["hots all all 0.0.0.0/0 md5"] } }, { postgresql: { pg_hba: "local all all peer" } }]) {
    t.equal(dynamicPgHba(stored), null, `pg_hba of ${JSON.stringify(stored)} is unset`);
  }
  t.equal(dynamicSwitch({ postgresql: { use_slots: "off" } }, "use_slots"), null, "a switch that is no boolean is unset");
});

t.test("dynamicPostgresqlProblems() checks bootstrap.dcs's keys, each sentence starting with its key", async (t) => {
  t.same(dynamicPostgresqlProblems({ postgresql: { pg_hba: ["local all all peer"], use_pg_rewind: true, use_slots: null, parameters: { work_mem: "4MB" } } }), []);
  t.same(dynamicPostgresqlProblems({ postgresql: { pg_hba: ["local all all"], use_pg_rewind: "yes", use_slots: 0 } }), [
    'postgresql.pg_hba[0]: "local all all" has no authentication method (local DATABASE USER METHOD [OPTIONS])',
    'postgresql.use_pg_rewind must be true or false, got "yes"',
    "postgresql.use_slots must be true or false, got 0",
  ]);
});

t.test("resolveHaSettings(): node.yml's use_pg_rewind and use_slots win; unset, the cluster's config decides; neither, on", async (t) => {
  const cluster = (postgresql: Record<string, boolean>) => ({ version: 3, value: { postgresql } });
  const resolve = (config: ReturnType<typeof cluster>, local: { usePgRewind: boolean | null; useSlots: boolean | null }) => {
    const { settings } = resolveHaSettings(config, { ...DEFAULT_LOCAL_HA_SETTINGS, ...local });
    return { usePgRewind: settings.usePgRewind, useSlots: settings.useSlots };
  };
  t.same(resolve(cluster({}), { usePgRewind: null, useSlots: null }), { usePgRewind: true, useSlots: true }, "neither sets them: on");
  t.same(resolve(cluster({ use_pg_rewind: false, use_slots: false }), { usePgRewind: null, useSlots: null }), { usePgRewind: false, useSlots: false }, "the cluster's config turns them off");
  t.same(resolve(cluster({ use_pg_rewind: false, use_slots: false }), { usePgRewind: true, useSlots: true }), { usePgRewind: true, useSlots: true }, "node.yml's value wins over the cluster's");
  t.same(resolve(cluster({ use_pg_rewind: true }), { usePgRewind: false, useSlots: null }), { usePgRewind: false, useSlots: true }, "each key on its own");
});

t.test("resolveHaSettings(): before the cluster has a config, bootstrap.dcs's switches are in force", async (t) => {
  const local = { ...DEFAULT_LOCAL_HA_SETTINGS, bootstrapSwitches: { use_pg_rewind: null, use_slots: false } };
  t.equal(resolveHaSettings({ version: 0, value: {} }, local).settings.useSlots, false, "the bootstrapping member creates no slot use_slots: false forbids");
  t.equal(resolveHaSettings({ version: 1, value: {} }, local).settings.useSlots, true, "once a config is written, it decides (there: on)");
  t.equal(resolveHaSettings({ version: 0, value: {} }, { ...local, useSlots: true }).settings.useSlots, true, "node.yml's own value still wins");
});
