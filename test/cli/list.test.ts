/**
 * `raftgres list` as patronictl 4 prints it (patroni/ctl.py output_members): LSNs as the server
 * writes them (PostgreSQL's X/X) or as byte positions from older servers, an unknown lag left
 * empty, the -e columns, long pending-restart reasons hidden in a table, tags in YAML's flow style
 * in tsv and topology, and a member that stopped reporting shown as unknown.
 */
import t from "tap";
import { readCluster } from "../../src/api/cli/answers.js";
import { renderMembers } from "../../src/api/cli/commands/list.js";
import { cli, FakeNode, patroniBody } from "./support.js";

/** GET /cluster as raftgres answers it now: LSNs as text, only the tags set, pg3 silent. */
function clusterAnswer(apiUrl: string): unknown {
  return {
    scope: "demo",
    members: [
      { name: "pg1", role: "leader", state: "running", api_url: apiUrl, host: "10.0.0.1", port: 5432, timeline: 2, pending_restart: true, pending_restart_reason: { max_connections: { old_value: "100", new_value: "200" }, shared_preload_libraries: { old_value: "pg_stat_statements", new_value: "pg_stat_statements,auto_explain" } }, scheduled_restart: { schedule: "2099-01-01T00:00:00.000Z", postgres_version: "16.4" } },
      { name: "pg2", role: "replica", state: "streaming", api_url: apiUrl, host: "10.0.0.2", port: 5432, timeline: 2, tags: { nofailover: true, failover_priority: 0 }, receive_lsn: "0/401D188", receive_lag: 0, replay_lsn: "0/401D188", replay_lag: 0, lsn: "0/401D188", lag: 0 },
      { name: "pg3", role: "replica", state: "unknown", api_url: apiUrl, host: "10.0.0.3", port: 5432, timeline: 2, receive_lsn: "unknown", receive_lag: "unknown", replay_lsn: "unknown", replay_lag: "unknown", lsn: "unknown", lag: "unknown", gone: true, last_seen: "2099-01-01T00:00:00.000Z" },
    ],
  };
}

const options = { extended: false, topology: false } as const;

t.test("a table: text LSNs right-aligned, an unknown lag empty, long reasons hidden, the version a restart waits for", async (t) => {
  const text = renderMembers(readCluster(clusterAnswer("http://x")), "demo", "1", { ...options, format: "table" });
  t.equal(text, [
    "+ Cluster: demo (1) +---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+--------------------------------------------+----------------------+",
    "| Member | Host     | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Pending restart reason                        | Scheduled restart                          | Tags                 |",
    "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+--------------------------------------------+----------------------+",
    "| pg1    | 10.0.0.1 | Leader  | running   |  2 |             |     |            |     | *               | max_connections: 100->200                     | 2099-01-01T00:00:00.000Z if version < 16.4 |                      |",
    "|        |          |         |           |    |             |     |            |     |                 | shared_preload_libraries: [hidden - too long] |                                            |                      |",
    "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+--------------------------------------------+----------------------+",
    "| pg2    | 10.0.0.2 | Replica | streaming |  2 |   0/401D188 |   0 |  0/401D188 |   0 |                 |                                               |                                            | nofailover: true     |",
    "|        |          |         |           |    |             |     |            |     |                 |                                               |                                            | failover_priority: 0 |",
    "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+--------------------------------------------+----------------------+",
    "| pg3    | 10.0.0.3 | Replica | unknown   |  2 |     unknown |     |    unknown |     |                 |                                               |                                            |                      |",
    "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+-----------------+-----------------------------------------------+--------------------------------------------+----------------------+",
  ].join("\n"));
});

t.test("json keeps every reason whole and the tags an object; tsv writes the tags in flow style", async (t) => {
  const cluster = readCluster(clusterAnswer("http://x"));
  const rows = JSON.parse(renderMembers(cluster, "demo", "1", { ...options, format: "json" })) as Record<string, unknown>[];
  t.equal(rows[0]!["Pending restart reason"], "max_connections: 100->200\nshared_preload_libraries: pg_stat_statements->pg_stat_statements,auto_explain");
  t.same(rows[1]!["Tags"], { nofailover: true, failover_priority: 0 });
  t.same([rows[1]!["Receive LSN"], rows[1]!["Receive Lag"], rows[1]!["Replay Lag"]], ["0/401D188", 0, 0], "machine formats keep patronictl's column names");
  t.notOk("Receive Lag" in rows[2]!, "an unknown lag is left out, as empty values are");
  const tsv = renderMembers(cluster, "demo", "1", { ...options, format: "tsv" }).split("\n");
  t.equal(tsv[0], "Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag\tPending restart\tPending restart reason\tScheduled restart\tTags");
  t.equal(tsv.length, 4, "a row per line: a cell's lines are joined");
  t.match(tsv[1], /\tmax_connections: 100->200; shared_preload_libraries: pg_stat_statements->pg_stat_statements,auto_explain\t/);
  t.match(tsv[2], /\t\{nofailover: true, failover_priority: 0\}$/);
});

t.test("-e shows the optional columns even when no member has a value; without it they are left out", async (t) => {
  const body = clusterAnswer("http://x") as { members: Record<string, unknown>[] };
  for (const member of body.members) for (const key of ["pending_restart", "pending_restart_reason", "scheduled_restart", "tags"]) delete member[key];
  const cluster = readCluster(body);
  t.notMatch(renderMembers(cluster, "demo", "1", { ...options, format: "table" }), /Pending restart|Tags/);
  t.match(renderMembers(cluster, "demo", "1", { ...options, format: "table", extended: true }).split("\n")[1], /\| Pending restart \| Pending restart reason \| Scheduled restart \| Tags \|$/);
});

t.test("a gone member of an older server that kept its last state is shown as unknown", async (t) => {
  const body = clusterAnswer("http://x") as { members: Record<string, unknown>[] };
  body.members[2]!["state"] = "streaming";
  t.equal(readCluster(body).members[2]!.state, "unknown");
});

t.test("raftgres list -e against a node prints the extended table", async (t) => {
  const node = await FakeNode.start();
  t.teardown(() => node.close());
  node.on("GET", "/cluster", () => ({ status: 200, body: clusterAnswer(node.url) }));
  node.on("GET", "/patroni", () => ({ status: 200, body: patroniBody() }));
  const r = await cli(["--url", node.url, "list", "-e"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\+ Cluster: demo \(7421345098239852567\) /);
  t.match(r.stdout, /\| Pending restart \| Pending restart reason +\| Scheduled restart +\| Tags +\|/);
  t.match(r.stdout, /\| pg3 +\| 10\.0\.0\.3 \| Replica \| unknown /);
});
