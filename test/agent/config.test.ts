import { either as E } from "fp-ts";
import t from "tap";
import { parseAgentConfig } from "../../src/agent/config.js";

const GOOD = `
scope: main
name: pg1
restapi:
  listen: 127.0.0.1:8008
raft:
  listen: 127.0.0.1:7001
  data_dir: /var/lib/raftgres/raft
  cluster_id: demo
  secret: s3cret-s3cret
  members: { pg1: "127.0.0.1:7001", pg2: "127.0.0.1:7002", pg3: "127.0.0.1:7003" }
postgresql:
  listen: 127.0.0.1:5432
  data_dir: /var/lib/raftgres/pg
  authentication:
    superuser: { username: postgres, password: pw }
    replication: { username: replicator, password: rpw }
  parameters: { max_connections: 100, work_mem: 4MB }
tags: { failover_priority: 2 }
bootstrap:
  dcs: { ttl: 5, loop_wait: 1 }
`;

t.test("a complete configuration is read with its defaults", async (t) => {
  const parsed = parseAgentConfig(GOOD, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  const c = parsed.right;
  t.equal(c.name, "pg1");
  t.same(c.restapi.connectAddress, { host: "127.0.0.1", port: 8008 }, "connect_address defaults to listen");
  t.equal(c.raft.members.get("pg3"), "127.0.0.1:7003");
  t.equal(c.raft.heartbeatMs, 250);
  t.same(c.postgresql.parameters, { max_connections: 100, work_mem: "4MB" });
  t.equal(c.tags.failoverPriority, 2);
  t.equal(c.ha.failoverPriority, 2, "the tags drive the HA rules too");
  t.same(c.bootstrapDcs, { ttl: 5, loop_wait: 1 });
});

t.test("every mistake names the key, what it got and what is allowed", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["scope: main", "scope: 'main cluster'", /^node\.yml: scope: "main cluster" may hold letters/],
    ["  listen: 127.0.0.1:8008", "  listen: localhost", /^node\.yml: restapi\.listen: must be host:port, got "localhost"/],
    ["  secret: s3cret-s3cret", "  secret: short", /^node\.yml: raft\.secret: must be at least 8 characters/],
    ["  data_dir: /var/lib/raftgres/pg", "  data_dir: pg", /^node\.yml: postgresql\.data_dir: must be an absolute path, got "pg"/],
    ["tags: { failover_priority: 2 }", "tags: { failover_priority: -1 }", /^node\.yml: tags\.failover_priority: must be an integer from 0 to 1000000, got -1/],
    ["tags: { failover_priority: 2 }", "tags: { nofailover: yes please }", /^node\.yml: tags\.nofailover: must be true or false/],
    ["name: pg1", "name: pg9", /^node\.yml: raft\.members: must include this node \(pg9\)/],
    ["scope: main", "scope: main\nttl: 5", /^node\.yml: ttl: unknown key; the keys of the top level are scope, name/],
    ["    replication: { username: replicator, password: rpw }", "", /^node\.yml: postgresql\.authentication\.replication: is required/],
  ];
  for (const [from, to, expected] of cases) {
    const text = GOOD.replace(from, to);
    t.not(text, GOOD, `the case edits the file: ${from}`);
    const parsed = parseAgentConfig(text, "node.yml");
    t.match(E.isLeft(parsed) ? parsed.left : "accepted", expected);
  }
  t.match(E.isLeft(parseAgentConfig("scope: [", "node.yml")) ? "refused" : "accepted", "refused", "broken YAML is refused");
});

t.test("environment variables override the file, Patroni's way", async (t) => {
  const parsed = parseAgentConfig(GOOD, "node.yml", { RAFTGRES_NAME: "pg2", RAFTGRES_POSTGRESQL_DATA_DIR: "/data/pg2", RAFTGRES_RESTAPI_USERNAME: "admin", RAFTGRES_RESTAPI_PASSWORD: "pw" });
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.equal(parsed.right.name, "pg2");
  t.equal(parsed.right.postgresql.dataDir, "/data/pg2");
  t.same(parsed.right.restapi.authentication, { username: "admin", password: "pw" });
  const bad = parseAgentConfig(GOOD, "node.yml", { RAFTGRES_RESTAPI_LISTEN: "nowhere" });
  t.match(E.isLeft(bad) ? bad.left : "accepted", /restapi\.listen: must be host:port, got "nowhere"/, "an override is checked like the file");
});

t.test("a patroni.yml with its etcd section swapped for raft starts; Patroni-only settings are reported, not refused", async (t) => {
  const patroni = GOOD.replace("restapi:\n  listen: 127.0.0.1:8008", "namespace: /service/\nrestapi:\n  listen: 127.0.0.1:8008\n  authentication: { username: admin, password: s }\n  cafile: /etc/ca.pem")
    .replace("  parameters: { max_connections: 100, work_mem: 4MB }", "  parameters: { max_connections: 100, work_mem: 4MB }\n  pgpass: /tmp/pgpass\n  callbacks: { on_start: /bin/true }")
    + "watchdog: { mode: automatic, safety_margin: 1 }\n";
  const parsed = parseAgentConfig(patroni, "patroni.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same(parsed.right.restapi.authentication, { username: "admin", password: "s" });
  t.equal(parsed.right.ha.watchdogMarginMs, 1000);
  t.same(parsed.right.postgresql.callbacks, { on_start: "/bin/true" }, "Patroni's callbacks are read");
  t.same([...parsed.right.warnings].sort(), [
    "patroni.yml: namespace: a Patroni setting raftgres does not use; ignored",
    "patroni.yml: postgresql.pgpass: a Patroni setting raftgres does not use; ignored",
    "patroni.yml: restapi.cafile: a Patroni setting raftgres does not use; ignored",
    "patroni.yml: watchdog.mode: a Patroni setting raftgres does not use; ignored",
  ]);
  const etcd = parseAgentConfig(`${GOOD}etcd3: { hosts: ["10.0.0.1:2379"] }\n`, "patroni.yml");
  t.match(E.isLeft(etcd) ? etcd.left : "accepted", /^patroni\.yml: etcd3: raftgres keeps the cluster state in its own Raft log/);
  const halfTls = parseAgentConfig(GOOD.replace("  listen: 127.0.0.1:8008", "  listen: 127.0.0.1:8008\n  certfile: /etc/cert.pem"), "node.yml");
  t.match(E.isLeft(halfTls) ? halfTls.left : "accepted", /^node\.yml: restapi\.keyfile: HTTPS needs both certfile and keyfile/);
});

t.test("a node joining a running group names members to contact instead of the founding voters", async (t) => {
  const joining = GOOD.replace('members: { pg1: "127.0.0.1:7001", pg2: "127.0.0.1:7002", pg3: "127.0.0.1:7003" }', 'join: { pg2: "127.0.0.1:7002" }');
  const parsed = parseAgentConfig(joining, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same([...(parsed.right.raft.join ?? [])], [["pg2", "127.0.0.1:7002"]]);
  t.equal(parsed.right.raft.members.size, 0);
  const both = parseAgentConfig(GOOD.replace("  election_timeout_ms", "  join: { pg2: \"127.0.0.1:7002\" }\n  election_timeout_ms").replace("  cluster_id: demo", "  cluster_id: demo\n  join: { pg2: \"127.0.0.1:7002\" }"), "node.yml");
  t.match(E.isLeft(both) ? both.left : "accepted", /^node\.yml: raft\.members: give either members .* or join/);
  const self = parseAgentConfig(joining.replace('join: { pg2: "127.0.0.1:7002" }', 'join: { pg1: "127.0.0.1:7001" }'), "node.yml");
  t.match(E.isLeft(self) ? self.left : "accepted", /^node\.yml: raft\.join: names this node \(pg1\)/);
});

t.test("every mistake is reported at once, bootstrap.dcs and the PostgreSQL parameters included", async (t) => {
  const text = GOOD.replace("scope: main", "scope: 'main cluster'")
    .replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { ttl: abc, loop_wait: 1, retry_timeout: 0, postgresql: { parameters: { shared_bufers: 128MB } } }")
    .replace("work_mem: 4MB", "work_mem: 4XB, fsync: \"off\\nfsync = on\"");
  const parsed = parseAgentConfig(text, "node.yml");
  const lines = (E.isLeft(parsed) ? parsed.left : "accepted").split("\n");
  t.equal(lines[0], "node.yml has 6 problems:");
  t.same(lines.slice(1), [
    `node.yml: scope: "main cluster" may hold letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)`,
    `node.yml: bootstrap.dcs.ttl: must be a number of seconds from 3 to 3600, got "abc"`,
    "node.yml: bootstrap.dcs.retry_timeout: must be a number of seconds from 0.5 to 1800, got 0",
    "node.yml: bootstrap.dcs.postgresql.parameters.shared_bufers: is not a PostgreSQL 15 parameter: did you mean shared_buffers?",
    `node.yml: postgresql.parameters.work_mem: got "4XB": work_mem takes an integer in memory units; units: TB, GB, MB, kB, B (without one: kB)`,
    `node.yml: postgresql.parameters.fsync: got "off\\nfsync = on": control characters (newline, tab …) are not allowed in a parameter's value`,
  ], "one FILE: KEY: problem line each, in the order the file is read");
});

t.test("bootstrap.dcs keeps Patroni's timing rule and is a valid config", async (t) => {
  const rule = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { ttl: 5, loop_wait: 2, retry_timeout: 2 }"), "node.yml");
  t.match(E.isLeft(rule) ? rule.left : "accepted", /^node\.yml: bootstrap\.dcs: loop_wait 2 s \+ 2 × retry_timeout 2 s = 6 s exceeds ttl 5 s/, "a rule between keys is under its section");
  const notObject = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { postgresql: x }"), "node.yml");
  t.match(E.isLeft(notObject) ? notObject.left : "accepted", /^node\.yml: bootstrap\.dcs\.postgresql: must be a mapping, got "x"/);
  const deep = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", `dcs: ${"{a: ".repeat(40)}1${"}".repeat(40)}`), "node.yml");
  t.match(E.isLeft(deep) ? deep.left : "accepted", /^node\.yml: bootstrap\.dcs\.a\.a\.a(\.a)*: is nested \d+ levels deep, over the limit of 16/);
});

t.test("a secret file is long enough and readable by its owner only", async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "raftgres-secret-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const withFile = (path: string): string => GOOD.replace("  secret: s3cret-s3cret", `  secret_file: ${path}`);
  const short = join(dir, "short");
  writeFileSync(short, "x\n", { mode: 0o600 });
  const shortResult = parseAgentConfig(withFile(short), "node.yml");
  t.match(E.isLeft(shortResult) ? shortResult.left : "accepted", /raft\.secret_file: .*short holds 1 bytes; a shared secret needs at least 32 \(make one with: raftgres secret --out /);
  const open = join(dir, "open");
  writeFileSync(open, `${"s".repeat(40)}\n`, { mode: 0o644 });
  const openResult = parseAgentConfig(withFile(open), "node.yml");
  t.match(E.isLeft(openResult) ? openResult.left : "accepted", /can be read by others \(mode 644\): chmod 600 /);
  const good = join(dir, "good");
  writeFileSync(good, `${"s".repeat(40)}\n`, { mode: 0o600 });
  const goodResult = parseAgentConfig(withFile(good), "node.yml");
  t.equal(E.isRight(goodResult) ? goodResult.right.raft.secret : goodResult.left, "s".repeat(40));
  const missing = parseAgentConfig(withFile(join(dir, "none")), "node.yml");
  t.match(E.isLeft(missing) ? missing.left : "accepted", /cannot read .*none.*ENOENT.*raftgres secret --out/);
});

t.test("a missing key says what to put there; a missing secret says how to make one", async (t) => {
  const text = GOOD.replace("  data_dir: /var/lib/raftgres/raft\n", "").replace("  secret: s3cret-s3cret\n", "");
  const parsed = parseAgentConfig(text, "node1.yml");
  const lines = (E.isLeft(parsed) ? parsed.left : "accepted").split("\n");
  t.same(lines, [
    "node1.yml has 2 problems:",
    "node1.yml: raft.data_dir: is required: the directory of this node's Raft log and snapshots, e.g. /var/lib/raftgres/raft (Patroni's default, the working directory, is not assumed)",
    "node1.yml: raft.secret_file: is required (or secret, inline, at least 8 characters): make one with `raftgres secret --out /etc/raftgres/secret`, copy that file to every member and set raft.secret_file: /etc/raftgres/secret",
  ]);
});

t.test("an unknown key is named with its section's keys", async (t) => {
  const parsed = parseAgentConfig(GOOD.replace("  cluster_id: demo", "  cluster_id: demo\n  self_adr: 127.0.0.1:7001"), "node1.yml");
  t.match(E.isLeft(parsed) ? parsed.left : "accepted", /^node1\.yml: raft\.self_adr: unknown key; the keys of raft are listen, data_dir, cluster_id, secret, secret_file, members, join, heartbeat_ms, election_timeout_ms$/);
});

t.test("the election timeout is a whole multiple of the heartbeat interval, as the Raft runtime needs", async (t) => {
  const parsed = parseAgentConfig(GOOD.replace("  cluster_id: demo", "  cluster_id: demo\n  heartbeat_ms: 300\n  election_timeout_ms: 1000"), "node1.yml");
  t.equal(E.isLeft(parsed) ? parsed.left : "accepted", "node1.yml: raft.election_timeout_ms: the election timeout (1000 ms) must be a whole multiple, at least 2, of the heartbeat interval (300 ms): 900 or 1200 ms would do");
  const once = parseAgentConfig(GOOD.replace("  cluster_id: demo", "  cluster_id: demo\n  heartbeat_ms: 400\n  election_timeout_ms: 400"), "node1.yml");
  t.match(E.isLeft(once) ? once.left : "accepted", /election timeout \(400 ms\) must be a whole multiple, at least 2, of the heartbeat interval \(400 ms\): 800 ms would do$/);
  const badHeartbeat = parseAgentConfig(GOOD.replace("  cluster_id: demo", "  cluster_id: demo\n  heartbeat_ms: fast\n  election_timeout_ms: 900"), "node1.yml");
  t.match(E.isLeft(badHeartbeat) ? badHeartbeat.left : "accepted", /^node1\.yml: raft\.heartbeat_ms: must be an integer from 10 to 10000, got "fast"$/, "the rule between them waits for both to be valid");
  const fine = parseAgentConfig(GOOD.replace("  cluster_id: demo", "  cluster_id: demo\n  heartbeat_ms: 300\n  election_timeout_ms: 900"), "node1.yml");
  t.ok(E.isRight(fine), "900 ms over 300 ms is accepted");
});

t.test("an unreadable file is one FILE: problem line", async (t) => {
  const { loadAgentConfig } = await import("../../src/agent/config.js");
  const loaded = loadAgentConfig("/nonexistent/node1.yml", {});
  t.match(E.isLeft(loaded) ? loaded.left : "accepted", /^\/nonexistent\/node1\.yml: cannot read the configuration: ENOENT/);
  const list = parseAgentConfig("- a\n- b\n", "node1.yml");
  t.equal(E.isLeft(list) ? list.left : "accepted", "node1.yml: must be a mapping of keys to values (scope: …, name: …), got a list", "a file that is not a mapping says only that");
});

t.test("bootstrap.users is read (Patroni 3's), every problem named at once", async (t) => {
  const users = GOOD.replace("  dcs: { ttl: 5, loop_wait: 1 }", "  dcs: { ttl: 5, loop_wait: 1 }\n  users:\n    admin: { password: adm1n, options: [createrole, createdb] }\n    app: { password: app }");
  const parsed = parseAgentConfig(users, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same(parsed.right.bootstrapUsers, [{ name: "admin", password: "adm1n", options: ["createrole", "createdb"] }, { name: "app", password: "app", options: [] }]);
  t.notMatch(parsed.right.warnings.join("\n"), /bootstrap\.users/, "no longer an ignored Patroni key");
  const bad = parseAgentConfig(GOOD.replace("  dcs: { ttl: 5, loop_wait: 1 }", "  dcs: { ttl: 5, loop_wait: 1 }\n  users:\n    postgres: { password: x }\n    app: { password: app, options: [\"createdb; DROP TABLE t\"], color: red }"), "node.yml");
  t.ok(E.isLeft(bad));
  const text = E.isLeft(bad) ? bad.left : "";
  t.match(text, /node\.yml: bootstrap\.users\.app\.color: unknown key/);
  t.match(text, /node\.yml: bootstrap\.users\.postgres: raftgres creates this role itself/);
  t.match(text, /node\.yml: bootstrap\.users\.app\.options: "createdb; DROP TABLE t" is not a role option/);
});
