/**
 * Acceptance: operations through the REST API of a real three-node cluster — a switchover to a
 * named replica (the old primary follows it without losing a row, the history says
 * "switchover"), a config change, a restart of a replica and a reinitialize of another, and a
 * parameter pending a restart shown on every member's row of /cluster and `raftgres list`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { cli } from "../cli/support.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const api = (name: string, method: string, path: string, body?: unknown) => cluster.api(name, method, path, body, 60_000);

/** A WAL position as PostgreSQL writes it ("16/B374D848"), as a number. */
function lsnValue(text: string): bigint {
  const [high, low] = text.split("/");
  if (high === undefined || low === undefined) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

t.test("a switchover to a named replica through POST /switchover", async (t) => {
  cluster.startAll();
  const old = await cluster.waitHealthy(120_000);
  await cluster.query(old, "CREATE TABLE moved (id int PRIMARY KEY)");
  await cluster.query(old, "INSERT INTO moved SELECT generate_series(1, 500)");
  const written = lsnValue((await cluster.query<{ lsn: string }>(old, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]!.lsn);
  const candidate = [...cluster.nodes.keys()].find((n) => n !== old)!;
  const other = [...cluster.nodes.keys()].find((n) => n !== old && n !== candidate)!;
  // Members report their positions at most once per loop_wait, each on its own cadence: wait
  // until the candidate's report includes the insert. (Its lag of 0 said nothing: it may be
  // counted against a report of the primary's from before the insert, which the switchover's
  // check, a moment later, no longer uses.)
  await waitFor(`${candidate}'s reported position to include the insert`, 15_000, async () => {
    const members = (await api(other, "GET", "/cluster")).json["members"] as { name: string; lsn?: unknown }[] | undefined;
    const reported = members?.find((m) => m.name === candidate)?.lsn;
    return typeof reported === "string" && reported !== "unknown" && lsnValue(reported) >= written ? true : undefined;
  });
  const answer = await api(other, "POST", "/switchover", { leader: old, candidate });
  t.equal(answer.status, 200, `answered ${JSON.stringify(answer.json)}`);
  t.equal(await cluster.waitHealthy(60_000), candidate, `${candidate} is the primary`);
  const rows = await cluster.query<{ n: string }>(candidate, "SELECT count(*) AS n FROM moved");
  t.equal(Number(rows[0]?.n), 500, "no row was lost");
  // The new primary records its timeline in the cycle after its promotion.
  const last = await waitFor("the switchover in the history", 10_000, async () => {
    const entries = (await api(candidate, "GET", "/history")).json as unknown as unknown[][];
    return Array.isArray(entries) && entries.at(-1)?.[4] === candidate ? entries.at(-1) : undefined;
  });
  t.equal(last?.[2], "switchover", "the history records a switchover");
  t.equal(last?.[4], candidate);
  // The LSN is where the new timeline branched off, as the timeline's history file says (Patroni).
  const [file] = await cluster.query<{ text: string }>(candidate, "SELECT pg_read_file('pg_wal/' || upper(lpad(to_hex(timeline_id), 8, '0')) || '.history') AS text FROM pg_control_checkpoint()");
  const switched = file!.text.trim().split("\n").at(-1)!.split("\t")[1]!;
  const [hi, lo] = switched.split("/").map((h) => BigInt(`0x${h}`)) as [bigint, bigint];
  t.equal(BigInt(last?.[1] as number), (hi << 32n) + lo, `the history's LSN is the switch point ${switched}`);
  const refused = await api(old, "POST", "/switchover", { leader: candidate, candidate: "nobody" });
  t.equal(refused.status, 412, "a switchover to an unknown member is refused");
  t.equal(await cluster.primary(), candidate, "and changes nothing");
});

t.test("PATCH /config changes the cluster's config once, for every member", async (t) => {
  const primary = await cluster.waitHealthy();
  const patched = await api(primary, "PATCH", "/config", { maximum_lag_on_failover: 2097152, postgresql: { parameters: { work_mem: "8MB" } } });
  t.equal(patched.status, 200, JSON.stringify(patched.json));
  for (const name of cluster.nodes.keys()) {
    const config = await waitFor(`${name} to see the change`, 10_000, async () => {
      const c = await api(name, "GET", "/config");
      return c.json["maximum_lag_on_failover"] === 2097152 ? c.json : undefined;
    });
    t.same(config["postgresql"], { parameters: { work_mem: "8MB" } }, `${name} serves the new config`);
  }
});

t.test("POST /restart restarts a replica's PostgreSQL; POST /reinitialize rebuilds one from the primary", async (t) => {
  const primary = await cluster.waitHealthy();
  const [first, second] = [...cluster.nodes.keys()].filter((n) => n !== primary) as [string, string];
  const before = cluster.postmasterPid(first);
  const restarted = await api(first, "POST", "/restart", {});
  t.equal(restarted.status, 200, JSON.stringify(restarted.json));
  t.not(cluster.postmasterPid(first), before, "a new postmaster runs");
  const refused = await api(primary, "POST", "/reinitialize", {});
  t.equal(refused.status, 409, "the primary refuses to reinitialize itself (a state conflict, not an outage)");
  const reinit = await api(second, "POST", "/reinitialize", {});
  t.equal(reinit.status, 200, JSON.stringify(reinit.json));
  t.equal(await cluster.waitHealthy(90_000), primary, "the cluster is whole again, same primary");
  const rows = await cluster.query<{ n: string }>(second, "SELECT count(*) AS n FROM moved");
  t.equal(Number(rows[0]?.n), 500, "the rebuilt replica has the data");
});

t.test("postgresql.parameters of the cluster's config reach every member's PostgreSQL (reloaded, or pending a restart)", async (t) => {
  const primary = await cluster.waitHealthy();
  const patched = await api(primary, "PATCH", "/config", { postgresql: { parameters: { work_mem: "12MB", max_locks_per_transaction: 128 } } });
  t.equal(patched.status, 200, JSON.stringify(patched.json));
  for (const name of cluster.nodes.keys()) {
    const workMem = await waitFor(`${name} to reload work_mem`, 15_000, async () => {
      const rows = await cluster.query<{ setting: string }>(name, "SELECT current_setting('work_mem') AS setting");
      return rows[0]?.setting === "12MB" ? rows[0].setting : undefined;
    });
    t.equal(workMem, "12MB", `${name} runs with the new work_mem`);
    const pending = await waitFor(`${name} to report max_locks_per_transaction pending a restart`, 15_000, async () => {
      const status = await api(name, "GET", "/patroni");
      return status.json["pending_restart"] === true ? status.json : undefined;
    });
    t.same(pending["pending_restart_reason"], { max_locks_per_transaction: { old_value: "64", new_value: "128" } }, `${name} shows what waits for a restart`);
  }
  // Every member reports its pending restart into the cluster state: another node's /cluster and
  // `raftgres list` show it on each member's row, as Patroni 4 does (issue 15).
  const REASON = { max_locks_per_transaction: { old_value: "64", new_value: "128" } };
  for (const name of cluster.nodes.keys()) {
    const other = [...cluster.nodes.keys()].find((n) => n !== name)!;
    const row = await waitFor(`${other}'s /cluster to show ${name}'s pending restart`, 15_000, async () => {
      const members = (await api(other, "GET", "/cluster")).json["members"] as Record<string, unknown>[] | undefined;
      const member = members?.find((m) => m["name"] === name);
      return member?.["pending_restart"] === true ? member : undefined;
    });
    t.same(row["pending_restart_reason"], REASON, `GET /cluster on ${other} shows ${name}'s pending restart and its reason`);
  }
  const listed = await cli(["--url", cluster.apiUrl(primary), "list", "-e", "-f", "json"]);
  t.equal(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
  t.same(rows.map((r) => [r["Member"], r["Pending restart"], r["Pending restart reason"]]), [...cluster.nodes.keys()].sort().map((n) => [n, "*", "max_locks_per_transaction: 64->128"]), "raftgres list shows every member's pending restart and reason");
  const table = await cli(["--url", cluster.apiUrl(primary), "list"]);
  t.match(table.stdout, /\| Pending restart \|/, "the Pending restart column appears without -e when a member has one");
});

t.test("POST /reload re-reads node.yml: new tags apply without a restart; fixed settings are named", async (t) => {
  const primary = await cluster.waitHealthy();
  const replica = [...cluster.nodes.keys()].find((n) => n !== primary)!;
  const path = cluster.configPath(replica);
  const original = readFileSync(path, "utf8");
  writeFileSync(path, `${original}\ntags: { nofailover: true, failover_priority: 0 }\n`);
  const reloaded = await api(replica, "POST", "/reload");
  t.equal(reloaded.status, 202, JSON.stringify(reloaded.json));
  const tags = await waitFor(`${replica} to publish its new tags`, 10_000, async () => {
    const status = await api(replica, "GET", "/patroni");
    const published = status.json["tags"] as Record<string, unknown> | undefined;
    return published?.["nofailover"] === true ? published : undefined;
  });
  t.equal(tags["nofailover"], true, "GET /patroni shows the new tag");
  const cluster_ = await waitFor("the cluster view to carry the tag", 10_000, async () => {
    const members = (await api(primary, "GET", "/cluster")).json["members"] as { name: string; tags?: Record<string, unknown> }[];
    return members.find((m) => m.name === replica)?.tags?.["nofailover"] === true ? members : undefined;
  });
  t.ok(cluster_, "every member sees it in the cluster state");
  writeFileSync(path, original.replace(/listen: 127\.0\.0\.1:(\d+)\nraft:/, "listen: 127.0.0.1:1\nraft:"));
  const fixed = await api(replica, "POST", "/reload");
  t.equal(fixed.status, 202);
  const logged = await waitFor("the reload's sentence in the log", 5000, () => (/changes to restapi take effect when the agent restarts/.test(cluster.agentLog(replica)) ? true : undefined));
  t.ok(logged, "a setting that needs a restart is named, not applied");
  writeFileSync(path, original);
});
