/**
 * Acceptance: three agents with real PostgreSQL on 127.0.0.1 — simultaneous bootstrap, a node
 * crash (agent and postmaster SIGKILL) and the old primary's rejoin with pg_rewind, a postmaster
 * crash restarted in place, a frozen agent fenced by its watchdog before any promotion, a primary
 * that loses the Raft majority stopping itself within the ttl, and restarts of a replica's agent
 * and of the Raft leader without failover.
 * One cluster is shared by the subtests, in order; each leaves it healthy for the next.
 */
import type { Client } from "pg";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

/** Every member healthy: one primary holding the lease, the others streaming from it. */
function healthy(timeoutMs = 60_000): Promise<string> {
  return cluster.waitHealthy(timeoutMs);
}

async function createTable(primary: string): Promise<void> {
  await cluster.query(primary, "CREATE TABLE IF NOT EXISTS acked (id bigint PRIMARY KEY, node text, at timestamptz DEFAULT now())");
}

/** Waits until every running replica has replayed the primary's current WAL position. */
async function replicated(primary: string): Promise<void> {
  const [{ lsn }] = await cluster.query<{ lsn: string }>(primary, "SELECT pg_current_wal_lsn()::text AS lsn") as [{ lsn: string }];
  for (const name of cluster.nodes.keys()) {
    if (name === primary) continue;
    await waitFor(`${name} to replay ${lsn}`, 15_000, async () => {
      const rows = await cluster.query<{ ok: boolean }>(name, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok", [lsn]);
      return rows[0]?.ok === true ? true : undefined;
    });
  }
}

let nextId = 1;
async function insertRows(primary: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  const client = await cluster.connect(primary);
  try {
    for (let i = 0; i < count; i++) {
      const id = nextId++;
      await client.query("INSERT INTO acked (id, node) VALUES ($1, $2)", [id, primary]);
      ids.push(id);
    }
  } finally {
    await client.end().catch(() => {});
  }
  return ids;
}

async function count(name: string): Promise<number> {
  const rows = await cluster.query<{ n: string }>(name, "SELECT count(*) AS n FROM acked");
  return Number(rows[0]?.n);
}

t.test("three agents started at once on an empty cluster: exactly one initdb, one primary, two streaming replicas", async (t) => {
  cluster.startAll();
  const primary = await healthy(120_000);
  const systemIds = new Set<string>();
  for (const name of cluster.nodes.keys()) {
    const rows = await cluster.query<{ id: string }>(name, "SELECT system_identifier::text AS id FROM pg_control_system()");
    systemIds.add(rows[0]!.id);
  }
  t.equal(systemIds.size, 1, "every member runs the same cluster (one initdb, the others cloned)");
  const initdbs = [...cluster.nodes.keys()].filter((n) => cluster.agentLog(n).includes("initializing a new cluster"));
  t.same(initdbs, [primary], "only the primary ran initdb");
  await createTable(primary);
  await insertRows(primary, 10);
  await replicated(primary);
  for (const name of cluster.nodes.keys()) t.equal(await count(name), 10, `${name} has the rows`);
});

t.test("kill -9 of the primary's agent and postmaster: a replica takes over, the other follows, no replicated write is lost; the old primary rejoins with pg_rewind", async (t) => {
  const old = await healthy();
  await insertRows(old, 50);
  await replicated(old);
  const before = await count(old);
  const postmaster = cluster.postmasterPid(old);
  t.ok(postmaster, "the primary's postmaster runs");
  cluster.signalAgent(old, "SIGKILL");
  process.kill(postmaster!, "SIGKILL");
  const killedAt = Date.now();
  const next = await waitFor("a new primary", 30_000, async () => {
    const p = await cluster.primary();
    return p !== null && p !== old ? p : undefined;
  });
  t.comment(`new primary ${next} after ${Date.now() - killedAt} ms`);
  t.equal(await count(next), before, "every replicated row is on the new primary");
  await insertRows(next, 5);
  const other = [...cluster.nodes.keys()].find((n) => n !== old && n !== next)!;
  await waitFor(`${other} to follow ${next}`, 30_000, async () => ((await count(other).catch(() => 0)) === before + 5 ? true : undefined));
  t.pass(`${other} follows ${next}`);
  cluster.start(old);
  const primary = await healthy(90_000);
  t.equal(primary, next, "the old primary came back as a replica");
  t.equal(await count(old), before + 5, "and has the new primary's rows");
  // The agent reports what it observed at its last cycle (every loop_wait): give it one.
  const timeline = await waitFor(`${old} to report the new timeline`, 10_000, async () => {
    const reported = (await cluster.status(old))?.timeline ?? 0;
    return reported >= 2 ? reported : undefined;
  }).catch(() => 0);
  t.ok(timeline >= 2, `on the new timeline (${timeline})`);
});

t.test("kill -9 of the postmaster only: restarted in place, no failover", async (t) => {
  const primary = await healthy();
  const timeline = (await cluster.status(primary))?.timeline;
  const pid = cluster.postmasterPid(primary);
  process.kill(pid!, "SIGKILL");
  const restarted = await waitFor("the postmaster to run again", 30_000, () => {
    const now = cluster.postmasterPid(primary);
    return now !== null && now !== pid ? now : undefined;
  });
  t.ok(restarted > 0);
  t.equal(await healthy(), primary, "the same member is primary");
  t.equal((await cluster.status(primary))?.timeline, timeline, "on the same timeline: no promotion happened");
  await insertRows(primary, 5);
  await replicated(primary);
});

t.test("a frozen primary agent (SIGSTOP): its watchdog kills PostgreSQL before another member is promoted; no write is acknowledged by the old primary after the new one took its first", async (t) => {
  const old = await healthy();
  const writer = await cluster.connect(old);
  let lastOldAckMs = 0;
  let stopWriting = false;
  const writing = (async () => {
    for (let i = 0; !stopWriting; i++) {
      try {
        await writer.query("INSERT INTO acked (id, node) VALUES ($1, $2)", [1_000_000 + i, old]);
        lastOldAckMs = Date.now();
      } catch {
        return;
      }
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));
  cluster.signalAgent(old, "SIGSTOP");
  let next: string;
  try {
    next = await waitFor("a new primary", 30_000, async () => {
      const p = await cluster.primary();
      return p !== null && p !== old ? p : undefined;
    }, 20);
  } finally {
    stopWriting = true;
  }
  const firstNew = await waitFor(`${next} to accept a write`, 10_000, async () => {
    await cluster.query(next, "INSERT INTO acked (id, node) VALUES ($1, $2)", [nextId++, next]);
    return Date.now();
  }, 20);
  await writing;
  await (writer as Client).end().catch(() => {});
  t.ok(lastOldAckMs > 0, "the old primary acknowledged writes before the freeze");
  t.ok(lastOldAckMs < firstNew, `the old primary's last acknowledgement (${lastOldAckMs}) came before the new primary's first write (${firstNew})`);
  t.equal(cluster.postmasterPid(old), null, "the frozen member's PostgreSQL is gone");
  cluster.signalAgent(old, "SIGCONT");
  t.equal(await healthy(90_000), next, "the thawed member rejoins as a replica");
});

t.test("a Raft leader change and restarts of a replica's agent and of the Raft leader's cause no failover", async (t) => {
  const primary = await healthy();
  const timeline = (await cluster.status(primary))?.timeline;
  const raftLeader = async (): Promise<string | undefined> => [...(await cluster.statuses()).values()].find((s) => s?.raft.role === "leader")?.name;
  /** Moves the Raft leadership off the primary, by pausing its agent past the election timeout. */
  // Between elections no node may say it leads, or the primary's status may not answer yet:
  // "no leader known" is not "a leader other than the primary".
  const knownLeader = (): Promise<string> => waitFor("a Raft leader", 10_000, raftLeader);
  const leaderOffPrimary = async (): Promise<string> => {
    // A pause outlasts the election timeout only if it beats each follower's randomized one
    // (1–2 s): several tries.
    for (let attempt = 1; attempt <= 8 && (await knownLeader()) === primary; attempt++) {
      // Longer than the election timeout (1 s), inside the lease's safety margin: the others
      // elect a new Raft leader; the lease must survive it.
      cluster.signalAgent(primary, "SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      cluster.signalAgent(primary, "SIGCONT");
      await new Promise((resolve) => setTimeout(resolve, 500));
      t.equal(await healthy(), primary, "the primary kept its lease through a pause of its agent");
    }
    return waitFor("a Raft leader other than the primary", 10_000, async () => {
      const leader = await raftLeader();
      return leader !== undefined && leader !== primary ? leader : undefined;
    });
  };
  const leader = await leaderOffPrimary();
  const replica = [...cluster.nodes.keys()].find((n) => n !== primary && n !== leader)!;
  cluster.signalAgent(replica, "SIGTERM");
  await cluster.agentExited(replica);
  cluster.start(replica);
  t.equal(await healthy(60_000), primary, "a replica's restart leaves the primary alone");
  const current = await leaderOffPrimary();
  cluster.signalAgent(current, "SIGTERM");
  await cluster.agentExited(current);
  cluster.start(current);
  t.equal(await healthy(60_000), primary, `the Raft leader's (${current}) restart leaves the primary alone`);
  t.equal((await cluster.status(primary))?.timeline, timeline, "no promotion happened");
});

t.test("a primary that cannot reach a Raft majority stops PostgreSQL before its lease could expire", async (t) => {
  const primary = await healthy();
  const others = [...cluster.nodes.keys()].filter((n) => n !== primary);
  // Freezing both other agents leaves the primary alone: its renewals fail from now on.
  for (const name of others) cluster.signalAgent(name, "SIGSTOP");
  const isolatedAt = Date.now();
  try {
    await waitFor("the isolated primary to stop PostgreSQL", 10_000, () => (cluster.postmasterPid(primary) === null ? true : undefined), 20);
    const stoppedAfterMs = Date.now() - isolatedAt;
    t.ok(stoppedAfterMs < 5000, `stopped after ${stoppedAfterMs} ms, within the ttl (5 s) of its last renewal`);
    const log = cluster.agentLog(primary);
    t.ok(log.includes("stopping PostgreSQL: the lease could not be renewed in time"), "the agent stopped it itself (not its watchdog), and says why");
  } finally {
    for (const name of others) cluster.signalAgent(name, "SIGCONT");
  }
  const next = await healthy(90_000);
  t.ok(cluster.nodes.has(next), `the cluster recovers (primary ${next})`);
  await insertRows(next, 3);
  await replicated(next);
});
