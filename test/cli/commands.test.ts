/**
 * The CLI in-process against a small local HTTP peer that answers like the REST API: what it
 * sends, what it prints, and the exit codes scripts rely on.
 */
import t from "tap";
import { cli, fakeCluster, FakeNode } from "./support.js";

const COMMANDS = ["list", "topology", "switchover", "failover", "edit-config", "show-config", "pause", "resume", "restart", "reload", "reinit", "flush", "query", "history", "dsn", "members", "version"];

t.test("--help works for the binary and every command, with exit code 0", async (t) => {
  const top = await cli(["--help"]);
  t.equal(top.code, 0);
  for (const command of COMMANDS) t.match(top.stdout, new RegExp(`\\n  ${command} `), `${command} is listed`);
  for (const command of COMMANDS) {
    const help = await cli([command, "--help"]);
    t.equal(help.code, 0, `${command} --help`);
    t.match(help.stdout, new RegExp(`^Usage: raftgres ${command}`), `${command} --help prints its usage`);
    t.match(help.stdout, /--url <url>/, `${command} --help shows the connection options`);
  }
});

t.test("usage errors exit with 2 and say what is wrong", async (t) => {
  const cases: [string[], RegExp][] = [
    [["list", "--bogus"], /unknown option '--bogus'/],
    [["lsit"], /unknown command 'lsit'[\s\S]*list/],
    [["--url", "http://127.0.0.1:1", "list", "--format", "xml"], /--format "xml": expected one of table, tsv, json, yaml/],
    [["--url", "http://127.0.0.1:1", "edit-config", "--set", "ttl"], /--set "ttl": expected key=value/],
    [["list"], /no node to talk to: pass --url/],
    [["--url", "ftp://x", "list"], /only http:\/\/ and https:\/\//],
    [["reinit"], /missing required argument 'members'/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    t.equal(r.code, 2, args.join(" "));
    t.match(r.stderr, message, args.join(" "));
  }
});

t.test("no reachable node exits with 3, listing the URLs tried and what to check", async (t) => {
  const r = await cli(["--url", "http://127.0.0.1:1", "--url", "http://127.0.0.1:2", "list"]);
  t.equal(r.code, 3);
  t.match(r.stderr, /cannot reach any node[\s\S]*127\.0\.0\.1:1 \([^)]*ECONNREFUSED[\s\S]*127\.0\.0\.1:2[\s\S]*restapi\.listen[\s\S]*--url/);
});

t.test("a request goes to the next URL when one node does not answer", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const r = await cli(["--url", `http://127.0.0.1:1,${node.url}`, "list"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /\+ Cluster: demo \(7421345098239852567\) /);
});

t.test("the connection comes from -c node.yml: restapi.listen and ctl.authentication; or from RAFTGRES_URL", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const port = new URL(node.url).port;
  const yaml = `scope: demo\nrestapi:\n  listen: 0.0.0.0:${port}\n  authentication: { username: api, password: fromrestapi }\nctl:\n  authentication: { username: admin, password: s3cret }\n`;
  node.on("POST", "/reload", () => ({ status: 202, body: { message: "reload scheduled" } }));
  const r = await cli(["-c", "/etc/node.yml", "reload", "pg1", "--force"], { files: { "/etc/node.yml": yaml } });
  t.equal(r.code, 0, r.stderr);
  t.equal(node.sent("POST", "/reload")[0]?.authorization, `Basic ${Buffer.from("admin:s3cret").toString("base64")}`);
  t.match(r.stdout, "Reload request received for member pg1 and will be processed within 10 seconds");
  const fromEnv = await cli(["dsn", "-m", "pg2"], { env: { RAFTGRES_URL: node.url, RAFTGRES_USERNAME: "u", RAFTGRES_PASSWORD: "p" } });
  t.equal(fromEnv.stdout, "host=10.0.0.2 port=5432\n");
  t.equal(node.received.at(-1)?.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
});

t.test("switchover --force posts the current primary and the candidate, prints the message and the list", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/switchover", () => ({ status: 200, body: { message: "Successfully switched over to \"pg2\"" } }));
  const r = await cli(["--url", node.url, "switchover", "--candidate", "pg2", "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.same(node.sent("POST", "/switchover")[0]?.body, { leader: "pg1", candidate: "pg2" });
  t.match(r.stdout, /^Current cluster topology\n\+ Cluster: demo/);
  t.match(r.stdout, /\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00 Successfully switched over to "pg2"\n\+ Cluster: demo/);
});

t.test("switchover asks for what is missing and for confirmation", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/switchover", () => ({ status: 202, body: { message: "Switchover scheduled" } }));
  const r = await cli(["--url", node.url, "switchover"], { input: ["", "pg3", "2030-01-31T04:00:00+00:00", "y"] });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, "Primary [pg1]: ");
  t.match(r.stdout, "Candidate ['pg2', 'pg3'] []: ");
  t.match(r.stdout, "Are you sure you want to schedule switchover of cluster demo at 2030-01-31T04:00:00+00:00, demoting current primary pg1? [y/N]: ");
  t.same(node.sent("POST", "/switchover")[0]?.body, { leader: "pg1", candidate: "pg3", scheduled_at: "2030-01-31T04:00:00+00:00" });
  const no = await cli(["--url", node.url, "switchover", "--candidate", "pg2", "--scheduled", "now"], { input: ["", "n"] });
  t.equal(no.code, 1);
  t.match(no.stdout, "Are you sure you want to switchover cluster demo, demoting current primary pg1? [y/N]: ");
  t.match(no.stderr, "Aborting switchover");
  t.equal(node.sent("POST", "/switchover").length, 1, "nothing sent after a no");
});

t.test("a refused switchover prints the server's message and each candidate's reason, exit 1", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/switchover", () => ({ status: 412, body: { error: "notPossible", message: "no good candidates", candidates: [{ member: "pg2", reason: "it is not streaming (state: starting)" }, { member: "pg3", reason: "lag 48 MB exceeds maximum_lag_on_failover" }] } }));
  const r = await cli(["--url", node.url, "switchover", "--force"]);
  t.equal(r.code, 1);
  t.same(node.sent("POST", "/switchover")[0]?.body, { leader: "pg1" }, "--force without --candidate lets the server choose");
  t.match(r.stderr, /Switchover failed \(HTTP 412 from [^)]*\): no good candidates\n {2}pg2: it is not streaming \(state: starting\)\n {2}pg3: lag 48 MB exceeds maximum_lag_on_failover/);
  const wrong = await cli(["--url", node.url, "switchover", "--leader", "pg2", "--force"]);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, "pg2 is not the primary of cluster demo (the primary is pg1)");
});

t.test("failover needs a candidate; it posts it", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/failover", () => ({ status: 200, body: { message: "Successfully failed over to \"pg3\"" } }));
  const missing = await cli(["--url", node.url, "failover", "--force"]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, "--candidate");
  const r = await cli(["--url", node.url, "failover", "--candidate", "pg3", "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.same(node.sent("POST", "/failover")[0]?.body, { leader: "pg1", candidate: "pg3" });
  const unknown = await cli(["--url", node.url, "failover", "--candidate", "pg9", "--force"]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "pg9 is not a member of cluster demo");
});

t.test("edit-config shows the diff and patches only what changed", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("PATCH", "/config", (request) => ({ status: 200, body: request.body }));
  const r = await cli(["--url", node.url, "edit-config", "--set", "ttl=40", "--pg", "max_connections=200", "--set", "loop_wait=null", "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.same(node.sent("PATCH", "/config")[0]?.body, { loop_wait: null, ttl: 40, postgresql: { parameters: { max_connections: 200 } } });
  t.match(r.stdout, /--- before\n\+\+\+ after\n[\s\S]*-ttl: 30\n\+ {4}max_connections: 200\n\+ttl: 40\nConfiguration changed\n$/);
  const same = await cli(["--url", node.url, "edit-config", "--set", "ttl=30", "--force"]);
  t.equal(same.stdout, "Not changed\n");
  const quiet = await cli(["--url", node.url, "edit-config", "--set", "ttl=31", "--quiet"], { input: ["y"] });
  t.equal(quiet.code, 0);
  t.notMatch(quiet.stdout, "--- before");
  t.match(quiet.stdout, "Apply these changes? [y/N]: ");
});

t.test("edit-config opens the editor without --set, --apply merges a file, --replace PUTs it", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("PATCH", "/config", (request) => ({ status: 200, body: request.body }));
  node.on("PUT", "/config", (request) => ({ status: 200, body: request.body }));
  const edited = await cli(["--url", node.url, "edit-config", "--force"], { editorWrites: "loop_wait: 5\nttl: 30\npostgresql:\n  parameters:\n    max_connections: 100\n" });
  t.equal(edited.code, 0, edited.stderr);
  t.same(node.sent("PATCH", "/config").at(-1)?.body, { loop_wait: 5 });
  const applied = await cli(["--url", node.url, "edit-config", "--apply", "patch.yml", "--force"], { files: { "patch.yml": "maximum_lag_on_failover: 1048576\n" } });
  t.equal(applied.code, 0, applied.stderr);
  t.same(node.sent("PATCH", "/config").at(-1)?.body, { maximum_lag_on_failover: 1048576 });
  const replaced = await cli(["--url", node.url, "edit-config", "--replace", "all.yml", "--force"], { files: { "all.yml": "ttl: 20\n" } });
  t.equal(replaced.code, 0, replaced.stderr);
  t.same(node.sent("PUT", "/config").at(-1)?.body, { ttl: 20 });
  const failedEditor = await cli(["--url", node.url, "edit-config"]);
  t.equal(failedEditor.code, 1);
  t.match(failedEditor.stderr, /the editor \(vi\) exited with status 1/);
});

t.test("a 409 on PATCH /config tells the user the configuration changed meanwhile", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("PATCH", "/config", () => ({ status: 409, body: { error: "conflict", message: "config version 7 is not 6" } }));
  const r = await cli(["--url", node.url, "edit-config", "--set", "ttl=40", "--force", "--quiet"]);
  t.equal(r.code, 1);
  t.match(r.stderr, "The configuration changed since it was read");
});

t.test("show-config prints YAML or JSON", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const yaml = await cli(["--url", node.url, "show-config"]);
  t.equal(yaml.stdout, "loop_wait: 10\npostgresql:\n  parameters:\n    max_connections: 100\nttl: 30\n");
  const json = await cli(["--url", node.url, "show-config", "--format", "json"]);
  t.same(JSON.parse(json.stdout), { loop_wait: 10, ttl: 30, postgresql: { parameters: { max_connections: 100 } } });
});

t.test("pause and resume patch the pause key; pausing a paused cluster is refused", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("PATCH", "/config", () => ({ status: 200, body: {} }));
  const r = await cli(["--url", node.url, "pause"]);
  t.equal(r.code, 0, r.stderr);
  t.same(node.sent("PATCH", "/config")[0]?.body, { pause: true });
  t.equal(r.stdout, "Success: cluster management is paused\n");
  const notPaused = await cli(["--url", node.url, "resume"]);
  t.equal(notPaused.code, 1);
  t.match(notPaused.stderr, "Cluster is not paused");
  const paused = await fakeCluster({ pause: true });
  t.teardown(() => paused.close());
  paused.on("PATCH", "/config", () => ({ status: 200, body: {} }));
  const again = await cli(["--url", paused.url, "pause"]);
  t.equal(again.code, 1);
  t.match(again.stderr, "Cluster is already paused");
});

t.test("restart, reload and reinit go to each member's API and report per member", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/restart", () => ({ status: 200, body: { message: "restarted successfully" } }));
  node.on("POST", "/reinitialize", () => ({ status: 200, body: { message: "reinitialize started" } }));
  const restart = await cli(["--url", node.url, "restart", "--role", "replica", "--pending", "--force"]);
  t.equal(restart.code, 0, restart.stderr);
  t.equal(restart.stdout, "Skipped: no restart pending on member pg2\nSuccess: restart on member pg3\n", "--pending: the members that wait for it; the others are no failure (exit 0)");
  t.same(node.sent("POST", "/restart")[0]?.body, { restart_pending: true });
  const all = await cli(["--url", node.url, "restart", "--force"]);
  t.equal(all.stdout, "Success: restart on member pg2\nSuccess: restart on member pg3\nSuccess: restart on member pg1\n", "replicas first, the primary (pg1) last");
  const reinit = await cli(["--url", node.url, "reinit", "pg3", "--force", "--from-leader"]);
  t.equal(reinit.code, 0, reinit.stderr);
  t.same(node.sent("POST", "/reinitialize")[0]?.body, { force: true, from_leader: true });
  t.equal(reinit.stdout, "Success: reinitialize for member pg3\n");
  const confirm = await cli(["--url", node.url, "reinit", "pg2"], { input: ["n"] });
  t.equal(confirm.code, 1);
  t.match(confirm.stdout, "Are you sure you want to reinitialize members pg2? [y/N]: ");
  node.on("POST", "/restart", () => ({ status: 503, body: { error: "actionFailed", message: "restart failed: PostgreSQL did not start within 60 s" } }));
  const failedRestart = await cli(["--url", node.url, "restart", "pg1", "--force"]);
  t.equal(failedRestart.code, 1);
  t.match(failedRestart.stdout, "Failed: restart for member pg1, status code=503, (restart failed: PostgreSQL did not start within 60 s)");
  const unknown = await cli(["--url", node.url, "restart", "pg7", "--force"]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, "pg7 is not a member of cluster demo");
});

t.test("a member whose API is down makes restart exit 3 when no member could be reached", async (t) => {
  const node = await FakeNode.start();
  t.teardown(() => node.close());
  node.on("GET", "/cluster", () => ({ status: 200, body: { scope: "demo", members: [{ name: "pg1", role: "leader", state: "running", api_url: "http://127.0.0.1:1", host: "h", port: 5432, timeline: 1, tags: {} }] } }));
  const r = await cli(["--url", node.url, "restart", "pg1", "--force"]);
  t.equal(r.code, 3);
  t.match(r.stdout, /Failed: restart for member pg1: cannot reach http:\/\/127\.0\.0\.1:1/);
});

t.test("history prints patronictl's table", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("GET", "/history", () => ({ status: 200, body: [[1, 50331744, "switchover", "2024-05-01T10:00:00.000Z", "pg2"]] }));
  const r = await cli(["--url", node.url, "history"]);
  t.equal(r.stdout, [
    "+----+----------+------------+--------------------------+------------+",
    "| TL |      LSN | Reason     | Timestamp                | New Leader |",
    "+----+----------+------------+--------------------------+------------+",
    "|  1 | 50331744 | switchover | 2024-05-01T10:00:00.000Z | pg2        |",
    "+----+----------+------------+--------------------------+------------+",
    "",
  ].join("\n"));
});

t.test("dsn: a multi-host URI over all members, primary first; one member's host and port", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  t.equal((await cli(["--url", node.url, "dsn"])).stdout, "postgresql://10.0.0.1:5432,10.0.0.2:5432,10.0.0.3:5432/?target_session_attrs=read-write\n");
  t.equal((await cli(["--url", node.url, "dsn", "-r", "replica", "-d", "app"])).stdout, "postgresql://10.0.0.1:5432,10.0.0.2:5432,10.0.0.3:5432/app?target_session_attrs=prefer-standby\n");
  t.equal((await cli(["--url", node.url, "dsn", "-m", "pg3"])).stdout, "host=10.0.0.3 port=5432\n");
  t.equal((await cli(["--url", node.url, "dsn", "--single-host"])).stdout, "host=10.0.0.1 port=5432\n", "patronictl's form: the primary's host and port");
  t.equal((await cli(["--url", node.url, "dsn", "-1", "-r", "replica", "-d", "app"])).stdout, "host=10.0.0.2 port=5432 dbname=app\n", "or a running replica's");
  t.equal((await cli(["--url", node.url, "dsn", "-r", "any", "-m", "pg3"])).code, 2);
});

t.test("version prints the CLI's and each member's versions", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const r = await cli(["--url", node.url, "version"]);
  t.equal(r.stdout, "raftgres version 0.1.0\npg1: raftgres 0.1.0 PostgreSQL 15.4\npg2: raftgres 0.1.0 PostgreSQL 15.4\npg3: raftgres 0.1.0 PostgreSQL 15.4\n");
});

t.test("a 401 says where credentials go", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/failover", () => ({ status: 401, body: { error: "unauthorized", message: "authentication required" } }));
  const r = await cli(["--url", node.url, "failover", "--candidate", "pg2", "--force"]);
  t.equal(r.code, 1);
  t.match(r.stderr, /authentication required[\s\S]*--username\/--password/);
});

t.test("flush restart|switchover forgets scheduled events, as patronictl's flush", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("DELETE", "/restart", () => ({ status: 200, body: { message: "scheduled restart deleted" } }));
  const restart = await cli(["--url", node.url, "flush", "demo", "pg2", "restart", "--force"]);
  t.equal(restart.code, 0, restart.stderr);
  t.equal(restart.stdout, "Success: flush scheduled restart for member pg2\n", "the cluster's name may come first");
  node.on("DELETE", "/restart", () => ({ status: 404, body: { error: "notFound", message: "no restarts are scheduled" } }));
  const none = await cli(["--url", node.url, "flush", "restart", "--force"]);
  t.equal(none.code, 0, "nothing scheduled is no failure");
  t.equal(none.stdout, "No scheduled restart on member pg1\nNo scheduled restart on member pg2\nNo scheduled restart on member pg3\n");
  node.on("DELETE", "/switchover", () => ({ status: 200, body: { message: "scheduled switchover deleted (it was to pg2, requested by api)" } }));
  t.equal((await cli(["--url", node.url, "flush", "switchover"])).stdout, "Success: scheduled switchover deleted (it was to pg2, requested by api)\n");
  const bad = await cli(["--url", node.url, "flush", "pg2"]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /the last word must be restart or switchover/);
  t.equal((await cli(["--url", node.url, "flush", "nobody", "restart", "--force"])).code, 1, "an unknown member");
});

t.test("list takes patronictl's cluster name (checked) and -t", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const named = await cli(["--url", node.url, "list", "demo", "-t"]);
  t.equal(named.code, 0, named.stderr);
  t.match(named.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00\n\+ Cluster: demo /, "the time, then the table");
  const other = await cli(["--url", node.url, "list", "elsewhere"]);
  t.equal(other.code, 1);
  t.match(other.stderr, /this node serves cluster demo, not elsewhere/);
});

t.test("the other commands take patronictl's cluster name too: CLUSTER [MEMBER...] or [CLUSTER], checked", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  node.on("POST", "/restart", () => ({ status: 200, body: { message: "restarted successfully" } }));
  node.on("POST", "/reinitialize", () => ({ status: 200, body: { message: "reinitialize started" } }));
  node.on("POST", "/switchover", () => ({ status: 200, body: { message: "Successfully switched over to \"pg2\"" } }));
  node.on("PATCH", "/config", () => ({ status: 200, body: { pause: true } }));
  node.on("GET", "/history", () => ({ status: 200, body: [] }));
  const restart = await cli(["--url", node.url, "restart", "demo", "--pending", "--force"]);
  t.equal(restart.code, 0, restart.stderr);
  t.equal(restart.stdout, "Skipped: no restart pending on member pg2\nSuccess: restart on member pg3\nSkipped: no restart pending on member pg1\n", "patronictl's restart CLUSTER --pending");
  const one = await cli(["--url", node.url, "restart", "demo", "pg3", "--force"]);
  t.equal(one.stdout, "Success: restart on member pg3\n", "restart CLUSTER MEMBER");
  const reinit = await cli(["--url", node.url, "reinit", "demo", "pg3", "--force"]);
  t.equal(reinit.stdout, "Success: reinitialize for member pg3\n");
  const bare = await cli(["--url", node.url, "reinit", "demo", "--force"]);
  t.equal(bare.code, 2, "reinit of the cluster's name alone is no rebuild of every member");
  t.match(bare.stderr, "reinit needs the replicas to rebuild");
  for (const args of [["switchover", "demo", "--candidate", "pg2", "--force"], ["pause", "demo"], ["history", "demo"], ["show-config", "demo"], ["edit-config", "demo", "--pg", "work_mem=8MB", "--force"]]) {
    const named = await cli(["--url", node.url, ...args]);
    t.equal(named.code, 0, `${args.join(" ")}: ${named.stderr}`);
    const other = await cli(["--url", node.url, ...args.map((a) => (a === "demo" ? "elsewhere" : a))]);
    t.equal(other.code, 1, `${args[0]!} of another cluster is refused`);
    t.match(other.stderr, /this node serves cluster demo, not elsewhere/);
  }
  t.equal(node.sent("POST", "/switchover").length, 1, "the refused switchover sent nothing");
});

t.test("query runs one statement on the primary (or the member named) and prints its rows", async (t) => {
  const node = await fakeCluster();
  t.teardown(() => node.close());
  const seen: unknown[] = [];
  const query = async (target: unknown, statement: string) => {
    seen.push({ target, statement });
    if (statement.includes("boom")) throw new Error('relation "boom" does not exist');
    return { columns: ["n", "name"], rows: [["1", "a"], ["2", null]] };
  };
  const files = { "/etc/node.yml": "postgresql:\n  authentication:\n    superuser: { username: admin, password: s3cret }\n", "/tmp/q.sql": "SELECT 2" };
  const r = await cli(["--url", node.url, "-c", "/etc/node.yml", "query", "demo", "--command", "SELECT 1"], { query, files });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, "n\tname\n1\ta\n2\t\n");
  t.same(seen[0], { target: { host: "10.0.0.1", port: 5432, user: "admin", password: "s3cret", database: "postgres" }, statement: "SELECT 1" }, "the primary, as node.yml's superuser");
  await cli(["--url", node.url, "query", "-m", "pg3", "-U", "app", "-d", "appdb", "-f", "/tmp/q.sql"], { query, files, env: { PGPASSWORD: "pw" } });
  t.same(seen[1], { target: { host: "10.0.0.3", port: 5432, user: "app", password: "pw", database: "appdb" }, statement: "SELECT 2" });
  const bad = await cli(["--url", node.url, "query", "-U", "app", "--command", "SELECT * FROM boom"], { query });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /query on pg1 failed: relation "boom" does not exist/);
  t.equal((await cli(["--url", node.url, "query", "-U", "app"], { query })).code, 2, "a statement is needed");
  t.match((await cli(["--url", node.url, "query", "-U", "app", "--command", "SELECT 1"])).stderr, /no PostgreSQL client/);
});
