/**
 * Acceptance (issue 14): a former primary whose WAL went past the fork never serves reads, and
 * comes back only through pg_rewind. Three agents with real PostgreSQL on 127.0.0.1.
 *
 * The divergence is made the way a partition makes it: the primary's WAL senders are frozen
 * (SIGSTOP), so its replicas stop receiving while it goes on committing rows; then its agent is
 * killed, its watchdog fences PostgreSQL at the lease deadline, and a replica is promoted from
 * where it stopped receiving. With every other agent down too (no lease anywhere), the former
 * primary's agent starts: before issue 14 the race rule started its data directory read-only
 * ("no member holds the lease") and /replica answered 200 with rows the cluster never had.
 */
import { appendFileSync } from "node:fs";
import t, { type Test } from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** On a failure: the agents' last log lines, then the error again. */
function dumpLogs(t: Test): (error: unknown) => never {
  return (error: unknown) => {
    for (const name of cluster.nodes.keys()) t.comment(`--- ${name}\n${cluster.agentLog(name).split("\n").filter((l) => /"level":(30|40|50)/.test(l) && !/armed|disarmed|raft-transport/.test(l)).slice(-40).join("\n")}`);
    throw error;
  };
}

/** Sends `signal` to `pid`; false when there is no such process. */
function signalled(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls `name`'s /replica and /read-only every 100 ms; when (epoch ms) each answered 200. */
function watchReads(name: string): { stop: () => Promise<number[]> } {
  let running = true;
  const answered: number[] = [];
  const loop = (async () => {
    while (running) {
      for (const path of ["/replica", "/read-only"]) {
        const answer = await fetch(`${cluster.apiUrl(name)}${path}`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
        if (answer?.status === 200) answered.push(Date.now());
        await answer?.body?.cancel().catch(() => {});
      }
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return answered;
    },
  };
}

/** When (epoch ms, the agent's log) `name` last logged a line matching `pattern`, or null. */
function loggedAt(name: string, pattern: RegExp): number | null {
  const lines = cluster.agentLog(name).split("\n").filter((line) => pattern.test(line));
  const time = Number(/"time":(\d+)/.exec(lines[lines.length - 1] ?? "")?.[1]);
  return Number.isFinite(time) ? time : null;
}

t.test("a former primary with WAL past the fork is not started read-only, is rewound, and never answers /replica 200 before", async (t) => {
  cluster.startAll();
  const old = await cluster.waitHealthy(120_000);
  await cluster.query(old, "CREATE TABLE rows (id int PRIMARY KEY, side text)");
  await cluster.query(old, "INSERT INTO rows SELECT g, 'before' FROM generate_series(1, 10) g");
  await waitFor("the rows on every replica", 15_000, async () => {
    for (const name of cluster.nodes.keys()) {
      const rows = await cluster.query<{ n: string }>(name, "SELECT count(*) AS n FROM rows").catch(() => [{ n: "0" }]);
      if (Number(rows[0]?.n) !== 10) return undefined;
    }
    return true;
  });

  // The partition: replicas stop receiving, the old primary goes on committing.
  const senders = await cluster.query<{ pid: number }>(old, "SELECT pid FROM pg_stat_replication");
  t.equal(senders.length, 2, "two WAL senders to freeze");
  for (const { pid } of senders) process.kill(pid, "SIGSTOP");
  // Whatever happens, no process stays stopped (the watchdog fences the whole process group).
  t.teardown(() => {
    for (const { pid } of senders) for (const signal of ["SIGKILL", "SIGCONT"] as const) signalled(pid, signal);
  });
  await cluster.query(old, "INSERT INTO rows SELECT g, 'diverged' FROM generate_series(11, 20) g");
  cluster.signalAgent(old, "SIGKILL");
  await cluster.agentExited(old);
  const next = await waitFor("another member to be promoted", 60_000, async () => {
    for (const name of cluster.nodes.keys()) {
      if (name === old) continue;
      const status = await cluster.status(name);
      if (status?.role === "primary") return name;
    }
    return undefined;
  });
  await waitFor(`${old}'s postmaster fenced`, 30_000, async () => (cluster.postmasterPid(old) === null ? true : undefined));
  // The frozen WAL senders were this test's device, not the partition's: a stopped process
  // never notices its postmaster died, and would hold PostgreSQL's shared memory.
  const alive = senders.filter(({ pid }) => signalled(pid, "SIGKILL"));
  for (const { pid } of alive) signalled(pid, "SIGCONT");
  t.comment(`WAL senders still there after the fence: ${alive.length}`);
  const forked = await cluster.query<{ n: string }>(next, "SELECT count(*) AS n FROM rows");
  t.equal(Number(forked[0]?.n), 10, `${next} was promoted without the rows committed after the freeze`);
  await cluster.query(next, "INSERT INTO rows SELECT g, 'after' FROM generate_series(101, 105) g");

  // No lease anywhere: the third member may not take it (nofailover), the promoted one's agent
  // goes down (its watchdog fences its PostgreSQL).
  const other = [...cluster.nodes.keys()].find((n) => n !== old && n !== next)!;
  appendFileSync(cluster.configPath(other), "tags:\n  nofailover: true\n");
  cluster.signalAgent(other, "SIGKILL");
  await cluster.agentExited(other);
  cluster.start(other);
  await waitFor(`${other}'s agent back`, 60_000, async () => ((await cluster.status(other)) === null ? undefined : true));
  // While the other was away the promoted one was alone and fenced itself; it is killed as a
  // running primary holding the lease, which is what its watchdog guards.
  await waitFor(`${next} to run as the primary holding the lease`, 60_000, async () => {
    const status = await cluster.status(next);
    return status?.role === "primary" && status.state === "running" && status.holdsLease && status.busy === null ? true : undefined;
  }).catch(dumpLogs(t));
  cluster.signalAgent(next, "SIGKILL");
  await cluster.agentExited(next);
  // Its lease runs out in the log once the former primary's agent brings the Raft majority back.
  await waitFor(`${next}'s postmaster fenced`, 30_000, async () => (cluster.postmasterPid(next) === null ? true : undefined));
  const reads = watchReads(old);
  t.teardown(() => reads.stop());
  cluster.start(old);
  const waiting = await waitFor(`${old} to decide`, 60_000, async () => {
    const reason = (await cluster.status(old))?.reason ?? null;
    return reason !== null && /not on the last primary's history/.test(reason) ? reason : undefined;
  }).catch(dumpLogs(t));
  t.match(waiting, /not starting PostgreSQL: this data directory is not on the last primary's history/);
  await sleep(3000);
  t.equal(cluster.postmasterPid(old), null, "with no lease, its PostgreSQL stays stopped");

  // The others come back: the promoted member leads again, the former primary is rewound.
  cluster.start(next);
  await cluster.waitHealthy(120_000).catch(dumpLogs(t));
  await sleep(1000);
  const answered = await reads.stop();
  const rewoundAt = loggedAt(old, /"msg":"rewound against/);
  t.not(rewoundAt, null, "it was rewound");
  const early = answered.filter((at) => rewoundAt === null || at < rewoundAt);
  t.same(early, [], "it answered no read health check before its rewind was done");
  t.ok(answered.length > 0, "and answers them once it streams again");
  const log = cluster.agentLog(old);
  t.notMatch(log, /starting PostgreSQL read-only: no member holds the lease/);
  const rows = await cluster.query<{ side: string; n: string }>(old, "SELECT side, count(*) AS n FROM rows GROUP BY side ORDER BY side");
  t.same(rows.map((r) => [r.side, Number(r.n)]), [["after", 5], ["before", 10]], "the rows it committed past the fork are gone; the primary's are there");
  t.equal((await cluster.status(old))?.role, "replica");
});
