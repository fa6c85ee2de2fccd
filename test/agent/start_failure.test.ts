/**
 * Acceptance (issue 12 items 4 and 6) on a real three-node cluster: a parameter PostgreSQL
 * refuses at start makes a restarted replica's starts back off — a handful of starts where
 * there were hundreds — with PostgreSQL's FATAL line in the agent log at error level, in GET
 * /patroni and the state "start failed" in GET /cluster (never "streaming"); POST /restart
 * answers; fixing the config lets it start. The replication password is in a password file:
 * not in primary_conninfo, not in any server log, and replication works.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { startBackoffMs } from "../../src/ha/start_backoff.js";
import { PgCluster, REPLICATION, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const api = (name: string, method: string, path: string, body?: unknown, timeoutMs = 60_000) => cluster.api(name, method, path, body, timeoutMs);
/** shared_preload_libraries names a library that does not exist: valid to every check, FATAL at start. */
const MISSING = "raftgres_no_such_library";
const FATAL = `could not access file "${MISSING}"`;

interface LogLine {
  readonly level: number;
  readonly time: number;
  readonly msg: string;
}

function agentLines(name: string): LogLine[] {
  return cluster.agentLog(name).split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as LogLine);
}

function serverLog(name: string): string {
  return readFileSync(join(cluster.spec(name).dir, "pgdata.log.d", "postgresql.log"), "utf8");
}

async function memberState(from: string, name: string): Promise<string | undefined> {
  const members = (await api(from, "GET", "/cluster")).json["members"] as { name: string; state: string }[] | undefined;
  return members?.find((m) => m.name === name)?.state;
}

t.test("replicas stream with the password in a password file, never in primary_conninfo or a log", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(120_000);
  await cluster.query(primary, "CREATE TABLE kept (id int PRIMARY KEY)");
  await cluster.query(primary, "INSERT INTO kept SELECT generate_series(1, 100)");
  for (const name of cluster.nodes.keys()) {
    if (name === primary) continue;
    const [shown] = await cluster.query<{ primary_conninfo: string }>(name, "SHOW primary_conninfo");
    t.match(shown?.primary_conninfo, /passfile='[^']+\.pgpass'/, `${name} streams with a password file`);
    t.notMatch(shown?.primary_conninfo, /password/, `${name}'s primary_conninfo holds no password`);
    const rows = await waitFor(`${name} to replay the rows`, 15_000, async () => {
      const [count] = await cluster.query<{ n: string }>(name, "SELECT count(*) AS n FROM kept").catch(() => []);
      return Number(count?.n) === 100 ? 100 : undefined;
    });
    t.equal(rows, 100, `replication works on ${name}`);
  }
  for (const name of cluster.nodes.keys()) {
    const log = serverLog(name);
    t.notOk(log.includes(REPLICATION.password), `no replication password in ${name}'s server log`);
    t.notOk(log.includes(SUPERUSER.password), `no superuser password in ${name}'s server log`);
  }
});

t.test("a start PostgreSQL refuses backs off, says why everywhere, and POST /restart answers", async (t) => {
  const primary = await cluster.waitHealthy(60_000);
  const replica = [...cluster.nodes.keys()].find((n) => n !== primary)!;
  const patched = await api(primary, "PATCH", "/config", { postgresql: { parameters: { shared_preload_libraries: MISSING } } });
  t.equal(patched.status, 200, `a valid setting is accepted: ${patched.text}`);
  // Every member writes it and reloads; it waits for a restart (pending_restart).
  await waitFor(`${replica} to have the setting in its files`, 15_000, async () => {
    const rows = await cluster.query<{ setting: string }>(replica, "SELECT setting FROM pg_file_settings WHERE name = 'shared_preload_libraries'");
    return rows.some((r) => r.setting === MISSING) ? true : undefined;
  });

  const asked = Date.now();
  const restart = await api(replica, "POST", "/restart", {}, 60_000);
  const answeredMs = Date.now() - asked;
  t.not(restart.status, 200, `the restart fails: ${restart.text}`);
  t.match(restart.json["message"], FATAL, "with PostgreSQL's reason");
  t.ok(answeredMs < 30_000, `POST /restart answered in ${answeredMs} ms`);

  // Backing off: each failed start waits its backoff (1, 2, 4 s …) before the next, not one per
  // cycle. Counted by the gaps between failures, so a slow machine cannot make it flake.
  const failures = await waitFor(`${replica} to fail 4 starts`, 90_000, async () => {
    const lines = agentLines(replica).filter((l) => l.msg.startsWith("PostgreSQL did not start") && l.time >= asked);
    return lines.length >= 4 ? lines : undefined;
  });
  const gaps = failures.slice(1).map((l, i) => l.time - failures[i]!.time);
  t.ok(
    gaps.every((gap, i) => gap >= startBackoffMs(i + 1) * 0.95),
    `the gaps between failed starts (${gaps.join(", ")} ms) are at least the backoff (${gaps.map((_, i) => startBackoffMs(i + 1)).join(", ")} ms)`,
  );
  t.ok(failures.every((l) => l.level === 50 && l.msg.includes(`FATAL: ${FATAL}`)), "each at error level, with PostgreSQL's FATAL line");
  // The spawn of the next start may already be logged; never more than one beyond the failures.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const failed = agentLines(replica).filter((l) => l.msg.startsWith("PostgreSQL did not start") && l.time >= asked).length;
  const spawned = agentLines(replica).filter((l) => l.msg.startsWith("postmaster spawned") && l.time >= asked);
  t.ok(spawned.length >= failed && spawned.length <= failed + 1, `one postmaster per failed start, no more (${spawned.length} spawned, ${failed} failed)`);

  const patroni = (await api(replica, "GET", "/patroni")).json;
  t.equal(patroni["state"], "start failed", "GET /patroni: state");
  const extras = patroni["raftgres"] as { start_failure: { reason: string; failures: number; next_start_in_ms: number } | null; reason: string };
  t.match(extras.start_failure?.reason, FATAL, "GET /patroni: the reason");
  t.ok((extras.start_failure?.failures ?? 0) >= 3, "GET /patroni: the failures in a row");
  t.match(extras.reason, /^PostgreSQL failed to start \d+ times in a row: waiting \d+ s before starting it again$/);
  for (const from of cluster.nodes.keys()) t.equal(await memberState(from, replica), "start failed", `GET /cluster on ${from}: start failed, not streaming`);
  const again = await api(replica, "POST", "/restart", {}, 10_000);
  t.not(again.status, 200, "a restart of a member whose PostgreSQL is down answers at once");
  t.match(again.json["message"], FATAL);

  const fixed = await api(primary, "PATCH", "/config", { postgresql: { parameters: { shared_preload_libraries: null } } });
  t.equal(fixed.status, 200, fixed.text);
  // The next start comes at the end of the current wait (at most 32 s here).
  t.equal(await cluster.waitHealthy(90_000), primary, "the replica starts and streams again");
  t.equal(await waitFor(`${replica} to publish streaming`, 15_000, async () => ((await memberState(primary, replica)) === "streaming" ? "streaming" : undefined)), "streaming");
  const after = (await api(replica, "GET", "/patroni")).json;
  t.equal((after["raftgres"] as { start_failure: unknown }).start_failure, null, "no start failure once it runs");
  t.ok(agentLines(replica).some((l) => l.msg === "PostgreSQL runs again after failed starts"));
});
