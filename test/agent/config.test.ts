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
    ["scope: main", "scope: 'main cluster'", /^node\.yml\.scope: "main cluster" may hold letters/],
    ["  listen: 127.0.0.1:8008", "  listen: localhost", /^node\.yml\.restapi\.listen: must be host:port, got "localhost"/],
    ["  secret: s3cret-s3cret", "  secret: short", /^node\.yml\.raft\.secret: must be at least 8 characters/],
    ["  data_dir: /var/lib/raftgres/pg", "  data_dir: pg", /^node\.yml\.postgresql\.data_dir: must be an absolute path, got "pg"/],
    ["tags: { failover_priority: 2 }", "tags: { failover_priority: -1 }", /^node\.yml\.tags\.failover_priority: must be an integer from 0 to 1000000, got -1/],
    ["tags: { failover_priority: 2 }", "tags: { nofailover: yes please }", /^node\.yml\.tags\.nofailover: must be true or false/],
    ["name: pg1", "name: pg9", /^node\.yml\.raft\.members: must include this node \(pg9\)/],
    ["scope: main", "scope: main\nttl: 5", /^node\.yml: unknown key "ttl" \(known: scope, name/],
    ["    replication: { username: replicator, password: rpw }", "", /^node\.yml\.postgresql\.authentication\.replication: is required/],
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
    "patroni.yml.namespace is a Patroni setting raftgres does not use; it is ignored",
    "patroni.yml.postgresql.pgpass is a Patroni setting raftgres does not use; it is ignored",
    "patroni.yml.restapi.cafile is a Patroni setting raftgres does not use; it is ignored",
    "patroni.yml.watchdog.mode is a Patroni setting raftgres does not use; it is ignored",
  ]);
  const etcd = parseAgentConfig(`${GOOD}etcd3: { hosts: ["10.0.0.1:2379"] }\n`, "patroni.yml");
  t.match(E.isLeft(etcd) ? etcd.left : "accepted", /^patroni\.yml\.etcd3: raftgres keeps the cluster state in its own Raft log/);
  const halfTls = parseAgentConfig(GOOD.replace("  listen: 127.0.0.1:8008", "  listen: 127.0.0.1:8008\n  certfile: /etc/cert.pem"), "node.yml");
  t.match(E.isLeft(halfTls) ? halfTls.left : "accepted", /restapi\.keyfile: HTTPS needs both certfile and keyfile/);
});

t.test("a node joining a running group names members to contact instead of the founding voters", async (t) => {
  const joining = GOOD.replace('members: { pg1: "127.0.0.1:7001", pg2: "127.0.0.1:7002", pg3: "127.0.0.1:7003" }', 'join: { pg2: "127.0.0.1:7002" }');
  const parsed = parseAgentConfig(joining, "node.yml");
  if (E.isLeft(parsed)) throw new Error(parsed.left);
  t.same([...(parsed.right.raft.join ?? [])], [["pg2", "127.0.0.1:7002"]]);
  t.equal(parsed.right.raft.members.size, 0);
  const both = parseAgentConfig(GOOD.replace("  election_timeout_ms", "  join: { pg2: \"127.0.0.1:7002\" }\n  election_timeout_ms").replace("  cluster_id: demo", "  cluster_id: demo\n  join: { pg2: \"127.0.0.1:7002\" }"), "node.yml");
  t.match(E.isLeft(both) ? both.left : "accepted", /raft\.members: give either members .* or join/);
  const self = parseAgentConfig(joining.replace('join: { pg2: "127.0.0.1:7002" }', 'join: { pg1: "127.0.0.1:7001" }'), "node.yml");
  t.match(E.isLeft(self) ? self.left : "accepted", /raft\.join: names this node \(pg1\)/);
});

t.test("every mistake is reported at once, bootstrap.dcs and the PostgreSQL parameters included", async (t) => {
  const text = GOOD.replace("scope: main", "scope: 'main cluster'")
    .replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { ttl: abc, loop_wait: 1, retry_timeout: 0, postgresql: { parameters: { shared_bufers: 128MB } } }")
    .replace("work_mem: 4MB", "work_mem: 4XB, fsync: \"off\\nfsync = on\"");
  const parsed = parseAgentConfig(text, "node.yml");
  const message = E.isLeft(parsed) ? parsed.left : "accepted";
  t.match(message, /^node\.yml has 6 problems:/);
  t.match(message, /node\.yml\.scope: "main cluster"/);
  t.match(message, /node\.yml\.bootstrap\.dcs: ttl must be a number of seconds from 3 to 3600, got "abc"/);
  t.match(message, /node\.yml\.bootstrap\.dcs: retry_timeout must be a number of seconds from 0\.5/);
  t.match(message, /postgresql\.parameters\.shared_bufers is not a PostgreSQL 15 parameter: did you mean shared_buffers\?/);
  t.match(message, /node\.yml\.postgresql\.parameters\.work_mem = "4XB"/);
  t.match(message, /node\.yml\.postgresql\.parameters\.fsync.*control character|node\.yml\.postgresql\.parameters\.fsync.*line/);
});

t.test("bootstrap.dcs keeps Patroni's timing rule and is a valid config", async (t) => {
  const rule = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { ttl: 5, loop_wait: 2, retry_timeout: 2 }"), "node.yml");
  t.match(E.isLeft(rule) ? rule.left : "accepted", /loop_wait 2 s \+ 2 × retry_timeout 2 s = 6 s exceeds ttl 5 s/);
  const notObject = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", "dcs: { postgresql: x }"), "node.yml");
  t.match(E.isLeft(notObject) ? notObject.left : "accepted", /bootstrap\.dcs: postgresql must be a mapping/);
  const deep = parseAgentConfig(GOOD.replace("dcs: { ttl: 5, loop_wait: 1 }", `dcs: ${"{a: ".repeat(40)}1${"}".repeat(40)}`), "node.yml");
  t.match(E.isLeft(deep) ? deep.left : "accepted", /nested \d+ levels deep, over the limit of 16/);
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
