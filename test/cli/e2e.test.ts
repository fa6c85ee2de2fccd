/**
 * End to end: the CLI against three real agents with real PostgreSQL — list, show-config,
 * edit-config, history, dsn, switchover, failover, pause/resume, a replica's restart and reinit.
 * One cluster is shared by the subtests, in order; each leaves it healthy for the next.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { PgCluster, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";
import { MEMBER_URLS_FILE } from "../../src/api/cli/member_urls_file.js";
import { cli } from "./support.js";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "agent", "main.ts");

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

/**
 * One primary (GET /primary answers 200) and every other member streaming from it, judged by
 * PostgreSQL itself — not by the agent's own status document, whose shape moves with the API.
 */
function healthy(timeoutMs = 60_000): Promise<string> {
  return waitFor("one primary and streaming replicas", timeoutMs, async () => {
    const found = await cluster.primary();
    if (found === null) return undefined;
    for (const name of cluster.nodes.keys()) {
      if (name === found) continue;
      const rows = await cluster.query<{ streaming: boolean }>(name, "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming").catch(() => []);
      if (rows[0]?.streaming !== true) return undefined;
    }
    return found;
  }, 250);
}

/** Waits until `name` is the primary of a healthy cluster. */
function primaryIs(name: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(`${name} primary with streaming replicas`, timeoutMs, async () => ((await healthy(timeoutMs)) === name ? name : undefined));
}

cluster.startAll();
let primary = await healthy(90_000);
const urls = [...cluster.nodes.values()].map((n) => `http://127.0.0.1:${n.apiPort}`).join(",");
const raftgres = (args: string[], input?: string[]) => cli(["--url", urls, ...args], input === undefined ? {} : { input });
const replicas = (): string[] => [...cluster.nodes.keys()].filter((n) => n !== primary).sort();

/** A subtest, in order: each leaves the cluster healthy for the next. */
function step(name: string, body: (t: Test) => Promise<void>): void {
  void t.test(name, body);
}

step("list shows the three members, the primary as Leader, the replicas streaming", async (t) => {
  // PostgreSQL streams before the member's next report says so (within a cycle or two).
  const settled = (out: string): boolean => replicas().every((name) => new RegExp(`\\| ${name} +\\| [^|]+\\| [^|]+\\| (streaming|running) `).test(out));
  const r = await waitFor("list to show the replicas' reports of streaming", 20_000, async () => {
    const listed = await raftgres(["list"]);
    return listed.code !== 0 || settled(listed.stdout) ? listed : undefined;
  }, 250);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^\+ Cluster: test \(\d+\) /);
  t.match(r.stdout, new RegExp(`\\| ${primary} +\\| 127\\.0\\.0\\.1:\\d+ +\\| Leader +\\| running `));
  for (const name of replicas()) t.match(r.stdout, new RegExp(`\\| ${name} +\\| 127\\.0\\.0\\.1:\\d+ +\\| (Replica|Sync Standby) +\\| (streaming|running) `));
  const json = JSON.parse((await raftgres(["list", "-f", "json"])).stdout) as { Member: string; Role: string }[];
  t.same(json.map((m) => m.Member), ["pg1", "pg2", "pg3"]);
  const topology = await raftgres(["topology"]);
  t.match(topology.stdout, new RegExp(`\\| ${primary} [\\s\\S]*\\| \\+ ${replicas()[0]!} [\\s\\S]*\\| \\+ ${replicas()[1]!} `));
});

step("the binary runs the CLI beside `agent`, with the exit codes of the CLI", async (t) => {
  const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], { encoding: "utf8", timeout: 30_000 });
  const version = run(["version", "--url", urls]);
  t.equal(version.status, 0, version.stderr);
  t.match(version.stdout, /^raftgres version \d+\.\d+\.\d+\npg1: raftgres \S+ PostgreSQL \d+/);
  t.equal(run(["list", "--url", "http://127.0.0.1:1"]).status, 3);
  t.equal(run(["list", "--nope"]).status, 2);
  const query = spawnSync(process.execPath, ["--import", "tsx", MAIN, "--url", urls, "query", "--command", "SELECT 41 + 1 AS answer, pg_is_in_recovery() AS replica", "-U", SUPERUSER.username], { encoding: "utf8", timeout: 30_000, env: { ...process.env, PGPASSWORD: SUPERUSER.password } });
  t.equal(query.status, 0, query.stderr);
  t.equal(query.stdout, "answer\treplica\n42\tf\n", "query runs on the primary through the binary's PostgreSQL client");
});

step("show-config and edit-config --pg … --force change the dynamic configuration", async (t) => {
  const shown = await raftgres(["show-config", "--format", "json"]);
  t.equal(shown.code, 0, shown.stderr);
  const edited = await raftgres(["edit-config", "--pg", "work_mem=8MB", "--set", "maximum_lag_on_failover=2097152", "--force"]);
  t.equal(edited.code, 0, edited.stderr);
  t.match(edited.stdout, /\+ {4}work_mem: 8MB/);
  const after = JSON.parse((await raftgres(["show-config", "--format", "json"])).stdout) as { postgresql?: { parameters?: Record<string, unknown> }; maximum_lag_on_failover?: number };
  t.equal(after.postgresql?.parameters?.["work_mem"], "8MB");
  t.equal(after.maximum_lag_on_failover, 2097152);
});

step("dsn gives a multi-host URI that reaches the primary, and one member's host and port", async (t) => {
  const uri = (await raftgres(["dsn"])).stdout.trim();
  for (const spec of cluster.nodes.values()) t.match(uri, `127.0.0.1:${spec.pgPort}`);
  t.match(uri, /target_session_attrs=read-write$/);
  t.equal((await raftgres(["dsn", "-m", primary])).stdout.trim(), `host=127.0.0.1 port=${cluster.spec(primary).pgPort}`);
});

step("switchover --candidate --force moves the primary; the old primary follows it", async (t) => {
  const candidate = replicas()[0]!;
  const old = primary;
  const r = await raftgres(["switchover", "--candidate", candidate, "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Current cluster topology[\s\S]*\d\d:\d\d:\d\d\.\d+\+00:00 \S/);
  primary = await primaryIs(candidate);
  const [recovery] = await cluster.query<{ standby: boolean }>(old, "SELECT pg_is_in_recovery() AS standby");
  t.equal(recovery?.standby, true, "the old primary is a replica");
  // The new primary records its timeline in the cycle after its promotion.
  const line = new RegExp(`\\|  1 \\| +\\d+ \\| \\w+ +\\| \\S+ +\\| ${candidate} `);
  const history = await waitFor("the switchover in raftgres history", 10_000, async () => {
    const shown = await raftgres(["history"]);
    return line.test(shown.stdout) ? shown : undefined;
  });
  t.match(history.stdout, line);
});

step("failover --candidate --force promotes the named replica", async (t) => {
  const candidate = replicas()[1]!;
  const r = await raftgres(["failover", "--candidate", candidate, "--force"]);
  t.equal(r.code, 0, r.stderr);
  primary = await primaryIs(candidate);
  t.pass(`${candidate} is the primary`);
});

step("pause and resume switch maintenance mode on every member", async (t) => {
  const paused = await raftgres(["pause", "--wait"]);
  t.equal(paused.code, 0, paused.stderr);
  t.match(paused.stdout, "Success: cluster management is paused");
  t.match((await raftgres(["list"])).stdout, / Maintenance mode: on/);
  t.equal((await raftgres(["pause"])).code, 1, "pausing again is refused");
  const resumed = await raftgres(["resume", "--wait"]);
  t.equal(resumed.code, 0, resumed.stderr);
  t.notMatch((await raftgres(["list"])).stdout, /Maintenance mode/);
});

step("restart of a replica restarts its PostgreSQL", async (t) => {
  const replica = replicas()[0]!;
  const before = cluster.postmasterPid(replica);
  const r = await raftgres(["restart", replica, "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `Success: restart on member ${replica}`);
  await waitFor(`${replica} restarted`, 30_000, () => {
    const pid = cluster.postmasterPid(replica);
    return pid !== null && pid !== before ? true : undefined;
  });
  t.equal(await healthy(), primary);
});

step("reinit of a replica rebuilds it from a base backup", async (t) => {
  const replica = replicas()[1]!;
  const r = await raftgres(["reinit", replica, "--force", "--wait"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `Success: reinitialize for member ${replica}`);
  t.match(r.stdout, `Reinitialize is completed on: ${replica}`);
  t.equal(await healthy(), primary);
});

step("with its own agent down, `-c node.yml list` reaches the cluster through the other members", async (t) => {
  const replica = replicas()[0]!;
  const path = cluster.configPath(replica);
  const saved = join(cluster.spec(replica).dir, "raft", MEMBER_URLS_FILE);
  await waitFor(`${replica}'s agent to write the members' URLs`, 10_000, async () => (existsSync(saved) && (JSON.parse(readFileSync(saved, "utf8")) as { urls: string[] }).urls.length === 3 ? true : undefined));
  cluster.signalAgent(replica, "SIGKILL");
  const killedAtMs = Date.now();
  await cluster.agentExited(replica);
  // The in-process CLI reads files through its RunOptions: node.yml and the members' URLs from disk.
  const r = await cli(["-c", path, "list"], { files: { [path]: readFileSync(path, "utf8"), [saved]: readFileSync(saved, "utf8") } });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`\\| ${primary} +\\| 127\\.0\\.0\\.1:\\d+ +\\| Leader `), "the list comes from another member");
  // Its agent no longer reports: once a ttl (5 s) passed since its last report, the list shows it
  // as unknown rather than as it last was (streaming). The bound leaves a loop_wait and slack.
  const row = new RegExp(`\\| ${replica} +\\| [^|]+\\| [^|]+\\| unknown `);
  await waitFor(`${replica} shown as unknown`, 20_000, async () => (row.test((await raftgres(["list"])).stdout) ? true : undefined), 250);
  t.ok(Date.now() - killedAtMs < 10_000, `${replica} was shown as unknown ${Date.now() - killedAtMs} ms after its agent was killed`);
  cluster.start(replica);
  t.equal(await healthy(), primary);
});
