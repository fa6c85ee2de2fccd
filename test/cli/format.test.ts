import t from "tap";
import { readCluster } from "../../src/api/cli/answers.js";
import { renderMembers } from "../../src/api/cli/commands/list.js";
import { lagInMb, lsnText, renderRows, renderTable } from "../../src/api/cli/format.js";
import { clusterBody } from "./support.js";

t.test("a table has prettytable's frame: left-aligned text, right-aligned numbers", async (t) => {
  const text = renderTable({ columns: ["TL", "LSN", "Reason"], rows: [[1, "0/3000060", "switchover"], [12, "0/5000000", null]], alignRight: ["TL"] });
  t.equal(text, [
    "+----+-----------+------------+",
    "| TL | LSN       | Reason     |",
    "+----+-----------+------------+",
    "|  1 | 0/3000060 | switchover |",
    "| 12 | 0/5000000 |            |",
    "+----+-----------+------------+",
  ].join("\n"));
});

t.test("the title is written over the top border and the border's tail is kept", async (t) => {
  const text = renderTable({ columns: ["Member", "Host", "Role", "State"], rows: [["pg1", "10.0.0.1", "Leader", "running"]], title: " Cluster: demo (1234) " });
  t.equal(text.split("\n")[0], "+ Cluster: demo (1234) ------+---------+");
  t.equal(text.split("\n")[0]!.length, text.split("\n")[1]!.length);
});

t.test("a cell of several lines draws a rule between every row (prettytable's hrules=ALL)", async (t) => {
  const text = renderTable({ columns: ["Member", "Tags"], rows: [["pg1", { nofailover: true, replicatefrom: "pg2" }], ["pg2", null]] });
  t.equal(text, [
    "+--------+--------------------+",
    "| Member | Tags               |",
    "+--------+--------------------+",
    "| pg1    | nofailover: true   |",
    "|        | replicatefrom: pg2 |",
    "+--------+--------------------+",
    "| pg2    |                    |",
    "+--------+--------------------+",
  ].join("\n"));
});

t.test("lag is shown in whole MB and LSNs as PostgreSQL writes them", async (t) => {
  t.equal(lagInMb(0), 0);
  t.equal(lagInMb(3 * 1024 * 1024 + 400_000), 3);
  t.equal(lagInMb(1024 * 1024 / 2 + 1), 1, "rounded, like patronictl's round(lag/1024/1024)");
  t.equal(lagInMb("unknown"), null, "patronictl leaves an unknown lag empty");
  t.equal(lagInMb(null), null);
  t.equal(lsnText(50331744), "0/3000060");
  t.equal(lsnText(2 ** 32 + 16), "1/10");
  t.equal(lsnText("16/B374D848"), "16/B374D848");
  t.equal(lsnText("unknown"), "unknown");
  t.equal(lsnText("99999999999999999999999"), "99999999999999999999999", "digits past 64 bits are shown as they came");
});

t.test("list matches patronictl's layout: title, roles in title case, LSNs and lags right-aligned, pending restart, set tags only", async (t) => {
  const cluster = readCluster(clusterBody("http://x:8008", { pause: true }));
  t.equal(renderMembers(cluster, "demo", "7421345098239852567", { format: "table", extended: false, topology: false }), [
    "+ Cluster: demo (7421345098239852567) ---------+----+-------------+-----+------------+-----+-----------------+--------------------+",
    "| Member | Host     | Role         | State     | TL | Receive LSN | Lag | Replay LSN | Lag | Pending restart | Tags               |",
    "+--------+----------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+--------------------+",
    "| pg1    | 10.0.0.1 | Leader       | running   |  3 |             |     |            |     |                 |                    |",
    "| pg2    | 10.0.0.2 | Sync Standby | streaming |  3 |   0/3000060 |   0 |  0/3000060 |   0 |                 |                    |",
    "| pg3    | 10.0.0.3 | Replica      | streaming |  3 |   0/3000060 |   3 |  0/2E00060 |   5 | *               | replicatefrom: pg2 |",
    "+--------+----------+--------------+-----------+----+-------------+-----+------------+-----+-----------------+--------------------+",
    " Maintenance mode: on",
  ].join("\n"));
});

t.test("topology nests replicas under the member they replicate from", async (t) => {
  const cluster = readCluster(clusterBody("http://x:8008"));
  const lines = renderMembers(cluster, "demo", "1", { format: "table", extended: false, topology: true }).split("\n");
  t.match(lines[3], /^\| pg1 /);
  t.match(lines[4], /^\| \+ pg2 /);
  t.match(lines[5], /^\|   \+ pg3 /);
});

t.test("host shows the port when it is not 5432 or two members share a host", async (t) => {
  const body = clusterBody("http://x:8008") as { members: { host: string; port: number }[] };
  for (const m of body.members) m.host = "127.0.0.1";
  const text = renderMembers(readCluster(body), "demo", "1", { format: "table", extended: false, topology: false });
  t.match(text, /127\.0\.0\.1:5432/);
});

t.test("json and yaml give one object per member keyed by column, without empty values; tags stay objects", async (t) => {
  const cluster = readCluster(clusterBody("http://x:8008"));
  const rows = JSON.parse(renderMembers(cluster, "demo", "1", { format: "json", extended: false, topology: false })) as Record<string, unknown>[];
  t.same(rows[0], { Cluster: "demo", Member: "pg1", Host: "10.0.0.1", Role: "Leader", State: "running", TL: 3 });
  t.same(rows[2]!["Tags"], { replicatefrom: "pg2" });
  t.equal(rows[2]!["Replay Lag"], 5);
  t.match(renderMembers(cluster, "demo", "1", { format: "yaml", extended: false, topology: false }), /- Cluster: demo\n {2}Member: pg1\n/);
  t.equal(renderRows({ columns: ["a", "b"], rows: [[1, null]] }, "tsv"), "a\tb\n1\t");
});
