/**
 * Acceptance: synchronous replication on a real three-node cluster, switched on with PATCH
 * /config — the primary lists one synchronous standby and the cluster state says so; a killed
 * synchronous standby is replaced and writes go on; a killed primary hands over to the
 * synchronous standby without losing an acknowledged write; strict mode makes commits wait with
 * no standby and go on when one returns; quorum mode keeps accepting writes with one of its two
 * standbys down.
 * One cluster is shared by the subtests, in order; each leaves it healthy for the next.
 */
import type { Client } from "pg";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";

const cluster = await PgCluster.create();
t.teardown(() => cluster.destroy());

const api = (name: string, method: string, path: string, body?: unknown) => cluster.api(name, method, path, body, 30_000);

async function syncNames(name: string): Promise<string> {
  const rows = await cluster.query<{ v: string }>(name, "SELECT current_setting('synchronous_standby_names') AS v");
  return rows[0]!.v;
}

interface SyncView {
  readonly leader: string | null;
  readonly standbys: string[];
  readonly quorum: number;
}

/** The synchronous state and roles as GET /cluster shows them. */
async function clusterSync(name: string): Promise<{ sync: string[]; roles: Record<string, string> }> {
  const members = ((await api(name, "GET", "/cluster")).json["members"] ?? []) as { name: string; role: string }[];
  return { sync: members.filter((m) => m.role === "sync_standby" || m.role === "quorum_standby").map((m) => m.name).sort(), roles: Object.fromEntries(members.map((m) => [m.name, m.role])) };
}

/** Waits until the primary runs with `pattern` and GET /cluster lists `expected` as synchronous. */
async function waitSync(primary: string, pattern: RegExp, expected: (sync: string[]) => boolean, timeoutMs = 20_000): Promise<string[]> {
  return waitFor(`synchronous_standby_names ~ ${pattern} on ${primary}`, timeoutMs, async () => {
    const names = await syncNames(primary).catch(() => "");
    if (!pattern.test(names)) return undefined;
    const { sync } = await clusterSync(primary);
    return expected(sync) ? sync : undefined;
  }, 200);
}

function crash(name: string): void {
  const postmaster = cluster.postmasterPid(name);
  cluster.signalAgent(name, "SIGKILL");
  if (postmaster !== null) process.kill(postmaster, "SIGKILL");
}

const others = (primary: string): string[] => [...cluster.nodes.keys()].filter((n) => n !== primary);

let nextId = 1;

/** An INSERT that either commits within `ms` or is still waiting then (null). */
async function insertWithin(client: Client, ms: number): Promise<number | null> {
  const id = nextId++;
  const done = client.query("INSERT INTO acked (id) VALUES ($1)", [id]).then(() => id);
  const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));
  return Promise.race([done, timer]);
}

t.test("synchronous_mode on: one synchronous standby, recorded in the cluster state before it counts", async (t) => {
  cluster.startAll();
  const primary = await cluster.waitHealthy(120_000);
  await cluster.query(primary, "CREATE TABLE acked (id bigint PRIMARY KEY)");
  t.equal(await syncNames(primary), "", "asynchronous to start with");
  const patched = await api(primary, "PATCH", "/config", { synchronous_mode: "on" });
  t.equal(patched.status, 200, JSON.stringify(patched.json));
  const sync = await waitSync(primary, /^FIRST 1 \("pg\d"\)$/, (s) => s.length === 1);
  const standby = sync[0]!;
  t.equal(await syncNames(primary), `FIRST 1 ("${standby}")`, `${standby} is the synchronous standby`);
  const listed = await cluster.query<{ application_name: string; sync_state: string }>(primary, "SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1");
  t.same(listed.filter((r) => r.sync_state === "sync").map((r) => r.application_name), [standby], "PostgreSQL agrees");
  const async = others(primary).find((n) => n !== standby)!;
  t.equal((await api(standby, "GET", "/sync")).status, 200, "GET /sync: 200 on the synchronous standby");
  t.equal((await api(async, "GET", "/sync")).status, 503, "503 on the other replica");
  t.equal((await api(async, "GET", "/async")).status, 200, "GET /async: 200 on the other replica");
});

t.test("a killed synchronous standby is replaced at once; writes go on", async (t) => {
  const primary = await cluster.waitHealthy();
  const { sync } = await clusterSync(primary);
  const standby = sync[0]!;
  const replacement = others(primary).find((n) => n !== standby)!;
  crash(standby);
  const killedAt = Date.now();
  await waitSync(primary, new RegExp(`^FIRST 1 \\("${replacement}"\\)$`), (s) => s.length === 1 && s[0] === replacement);
  t.comment(`${replacement} synchronous ${Date.now() - killedAt} ms after ${standby} was killed`);
  const client = await cluster.connect(primary);
  try {
    t.not(await insertWithin(client, 5000), null, "a write commits with the replacement confirming it");
  } finally {
    await client.end().catch(() => {});
  }
  cluster.start(standby);
  t.equal(await cluster.waitHealthy(90_000), primary, `${standby} rejoins as a replica`);
});

t.test("the primary is killed during writes: the synchronous standby takes over with every acknowledged write", async (t) => {
  const old = await cluster.waitHealthy();
  const { sync } = await clusterSync(old);
  t.equal(sync.length, 1, "one synchronous standby before the crash");
  const acked: number[] = [];
  const client = await cluster.connect(old);
  client.on("error", () => {});
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const id = nextId++;
      try {
        await client.query("INSERT INTO acked (id) VALUES ($1)", [id]);
        acked.push(id);
      } catch {
        return;
      }
    }
  })();
  await waitFor("some acknowledged writes", 10_000, () => (acked.length >= 50 ? true : undefined));
  crash(old);
  await writer;
  writing = false;
  await client.end().catch(() => {});
  const next = await waitFor("a new primary", 30_000, async () => {
    const p = await cluster.primary();
    return p !== null && p !== old ? p : undefined;
  });
  t.comment(`${next} promoted (the synchronous standby was ${sync[0]})`);
  const present = await cluster.query<{ id: string }>(next, "SELECT id::text FROM acked WHERE id = ANY($1::bigint[])", [acked]);
  t.equal(present.length, acked.length, `all ${acked.length} acknowledged writes are on ${next}`);
  cluster.start(old);
  t.equal(await cluster.waitHealthy(90_000), next, "the old primary rejoins as a replica");
  await waitSync(next, /^FIRST 1 /, (s) => s.length === 1);
});

t.test("strict mode: with no standby commits wait, and go on when one returns", async (t) => {
  const primary = await cluster.waitHealthy();
  const patched = await api(primary, "PATCH", "/config", { synchronous_mode_strict: true });
  t.equal(patched.status, 200, JSON.stringify(patched.json));
  // Paused, the agents leave crashed replicas down (the agents keep the Raft majority).
  t.equal((await api(primary, "PATCH", "/config", { pause: true })).status, 200);
  await waitFor("the pause", 10_000, async () => ((await api(primary, "GET", "/patroni")).json["pause"] === true ? true : undefined));
  const [a, b] = others(primary) as [string, string];
  for (const name of [a, b]) process.kill(cluster.postmasterPid(name)!, "SIGKILL");
  const client = await cluster.connect(primary);
  client.on("error", () => {});
  try {
    // The standbys' walsenders end with their connections; give the state machine a few cycles.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    t.match(await syncNames(primary), /^FIRST 1 \("pg\d"\)$/, "a standby stays listed");
    const id = nextId;
    t.equal(await insertWithin(client, 3000), null, "a commit waits with no standby to confirm it");
    t.equal((await api(primary, "PATCH", "/config", { pause: false })).status, 200, "resume: the agents start their replicas again");
    await waitFor("the waiting commit", 60_000, async () => {
      const rows = await cluster.query<{ n: string }>(primary, "SELECT count(*) AS n FROM acked WHERE id = $1", [id]);
      return Number(rows[0]?.n) === 1 ? true : undefined;
    }, 250);
    t.pass("the commit went through once a standby streamed again");
  } finally {
    await client.end().catch(() => {});
  }
  t.equal(await cluster.waitHealthy(90_000), primary);
});

t.test("quorum mode: ANY 1 of both standbys; one of them down, writes go on", async (t) => {
  const primary = await cluster.waitHealthy();
  const patched = await api(primary, "PATCH", "/config", { synchronous_mode: "quorum", synchronous_mode_strict: false, synchronous_node_count: 1 });
  t.equal(patched.status, 200, JSON.stringify(patched.json));
  const [a, b] = others(primary) as [string, string];
  const both = await waitSync(primary, /^ANY 1 \("pg\d", "pg\d"\)$/, (s) => s.length === 2);
  t.same(both, [a, b].sort(), "both standbys vote");
  t.equal((await api(a, "GET", "/quorum")).status, 200, "GET /quorum: 200 on a voter");
  crash(a);
  const client = await cluster.connect(primary);
  try {
    t.not(await insertWithin(client, 5000), null, "a write commits with one of the two voters down");
  } finally {
    await client.end().catch(() => {});
  }
  await waitSync(primary, new RegExp(`^ANY 1 \\("${b}"\\)$`), (s) => s.length === 1 && s[0] === b);
  t.pass(`${a} left the quorum`);
  cluster.start(a);
  t.equal(await cluster.waitHealthy(90_000), primary);
  await waitSync(primary, /^ANY 1 \("pg\d", "pg\d"\)$/, (s) => s.length === 2);
  t.pass(`${a} votes again`);
});
