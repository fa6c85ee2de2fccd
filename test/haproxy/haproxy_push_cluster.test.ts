/**
 * Three real agents with PostgreSQL behind a real HAProxy 2.6 configured from
 * packaging/haproxy.cfg with the production guides' checks, `inter 3s fall 3 rise 2`, and each
 * agent pushing role changes to HAProxy's admin socket (node.yml haproxy section).
 *
 * What only the push explains: HAProxy marks a server up after `rise` good checks `inter` apart,
 * so by the checks alone a new primary takes writes no sooner than (rise−1)·inter = 3 s after its
 * /primary first answers 200. The tests poll every member's /primary (every POLL_MS) and assert
 * that writes through HAProxy reach the new primary sooner than that after a node crash (agent
 * and postmaster SIGKILLed) and after a switchover, and that the switchover's old primary was
 * forced down before the new one came up. Then the push fails — HAProxy restarted with its
 * admin socket elsewhere — and a switchover still reaches the new primary, by the checks, no
 * sooner than that bound, while the new primary reports the failing socket in /patroni and
 * /metrics. The cluster and haproxy are killed by PID in the teardown, whatever the outcome.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import t from "tap";
import { HaproxyProcess, haproxyMissing, type HaproxyPorts, localHaproxyConfig, packagedHaproxyConfig, serverStates } from "../../lab/haproxy.js";
import { PgCluster, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";
import { freePort } from "../../lab/sockets.js";

t.setTimeout(300_000);
const INTER_MS = 3000;
const RISE = 2;
const CHECKS = `inter ${INTER_MS / 1000}s fall 3 rise ${RISE}`;
/** How often the members' /primary and the writes through HAProxy are tried. */
const POLL_MS = 50;
/** By the checks alone, a new primary is routed no sooner than this after /primary says 200. */
const CHECKS_UP_MS = (RISE - 1) * INTER_MS;
/** The poll's own lag: a /primary answer seen up to one poll and one request late. */
const POLL_LAG_MS = 2 * POLL_MS + 100;

const missing = haproxyMissing();
if (missing !== null) t.plan(0, missing);
else await run().catch((error: unknown) => t.fail(error instanceof Error ? error.stack ?? error.message : String(error)));

interface Answer {
  readonly member: string;
  readonly inRecovery: boolean;
}

/** One connection through `port`: which member answered (after an optional statement). */
async function through(port: number, sql?: string, params: unknown[] = []): Promise<Answer> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: SUPERUSER.username, password: SUPERUSER.password, database: "postgres", connectionTimeoutMillis: 1000, query_timeout: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    if (sql !== undefined) await client.query(sql, params);
    const rows = await client.query<{ member: string; in_recovery: boolean }>("SELECT current_setting('cluster_name') AS member, pg_is_in_recovery() AS in_recovery");
    return { member: rows.rows[0]!.member, inRecovery: rows.rows[0]!.in_recovery };
  } finally {
    await client.end().catch(() => {});
  }
}

interface Handover {
  /** When a member other than `old` first answered 200 on /primary (performance.now()). */
  readonly promotedSeenAt: number;
  /** When a write through HAProxy first landed on it. */
  readonly routedAt: number;
  readonly member: string;
  readonly failedWrites: number;
  readonly faultAt: number;
}

/**
 * Runs `fault`, then polls the other members' /primary and writes through HAProxy every POLL_MS
 * until a write lands on the member whose /primary answered 200.
 */
async function handover(cluster: PgCluster, writePort: number, old: string, fault: () => Promise<void> | void, timeoutMs: number, nextId: () => number): Promise<Handover> {
  const others = [...cluster.nodes.keys()].filter((name) => name !== old);
  let promoted: { member: string; at: number } | null = null;
  let routed: { member: string; at: number } | null = null;
  let failedWrites = 0;
  let polling = true;
  const poll = (async () => {
    while (polling && promoted === null) {
      await Promise.all(others.map(async (name) => {
        const response = await fetch(`${cluster.apiUrl(name)}/primary`, { signal: AbortSignal.timeout(500) }).catch(() => null);
        if (response?.status === 200 && promoted === null) promoted = { member: name, at: performance.now() };
        await response?.body?.cancel();
      }));
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();
  const write = (async () => {
    while (polling && routed === null) {
      try {
        const answer = await through(writePort, "INSERT INTO through_haproxy (id) VALUES ($1)", [nextId()]);
        if (answer.member !== old && !answer.inRecovery) routed = { member: answer.member, at: performance.now() };
      } catch {
        failedWrites++;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  })();
  const faultAt = performance.now();
  await fault();
  try {
    await waitFor("a write through HAProxy on the new primary", timeoutMs, () => (routed !== null && promoted !== null ? true : undefined), POLL_MS);
  } finally {
    polling = false;
    await Promise.all([poll, write]);
  }
  const seen = promoted as { member: string; at: number } | null;
  const landed = routed as { member: string; at: number } | null;
  if (seen!.member !== landed!.member) throw new Error(`/primary said ${seen!.member}, writes landed on ${landed!.member}`);
  return { promotedSeenAt: seen!.at, routedAt: landed!.at, member: landed!.member, failedWrites, faultAt };
}

async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "raftgres-haproxy-push-"));
  const adminSocket = join(dir, "admin.sock");
  const cluster = await PgCluster.create({
    extraYaml: `haproxy:
  sockets: [${adminSocket}]
  write_backend: primary
  read_backend: replicas
  timeout_ms: 500
`,
  });
  let haproxy: HaproxyProcess | null = null;
  t.teardown(async () => {
    if (!t.passing() && haproxy !== null) t.comment(`haproxy log (last lines):\n${haproxy.lastLog(40)}`);
    await haproxy?.kill();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const servers = [...cluster.nodes.values()];
  const ports: HaproxyPorts = { write: await freePort(), read: await freePort(), stats: await freePort() };
  const startHaproxy = (socket: string): HaproxyProcess => HaproxyProcess.start(join(dir, "haproxy.cfg"), localHaproxyConfig(packagedHaproxyConfig(), servers, ports, { adminSocket: socket, checks: CHECKS }));
  haproxy = startHaproxy(adminSocket);
  const endpoint = { kind: "unix" as const, path: adminSocket };

  cluster.startAll();
  let primary = await cluster.waitHealthy(90_000);
  await waitFor("the write pool to reach the primary", 20_000, async () => ((await through(ports.write).catch(() => null))?.member === primary ? true : undefined), 100);
  await cluster.query(primary, "CREATE TABLE through_haproxy (id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())");
  let id = 1;
  const nextId = (): number => id++;

  await t.test("a node crash: writes through HAProxy reach the new primary sooner than its checks could route them", async (t) => {
    const old = primary;
    const postmaster = cluster.postmasterPid(old);
    t.ok(postmaster !== null, `${old}'s postmaster runs`);
    const result = await handover(cluster, ports.write, old, () => {
      cluster.signalAgent(old, "SIGKILL");
      if (postmaster !== null) process.kill(-postmaster, "SIGKILL");
    }, 60_000, nextId);
    const afterPromotionMs = Math.round(result.routedAt - result.promotedSeenAt);
    t.comment(`crash of ${old}: writes through HAProxy failed for ${Math.round(result.routedAt - result.faultAt)} ms (${result.failedWrites} failed attempts); routed ${afterPromotionMs} ms after ${result.member}'s /primary first said 200`);
    t.ok(afterPromotionMs < CHECKS_UP_MS - POLL_LAG_MS, `routed ${afterPromotionMs} ms after the promotion: the checks (${CHECKS}) need at least ${CHECKS_UP_MS} ms`);
    const states = await serverStates(endpoint, "primary");
    t.equal(states.get(old), "down", `${old} is down in the write pool`);
    t.equal(states.get(result.member), "up", `${result.member} is up in the write pool`);
    t.equal((await serverStates(endpoint, "replicas")).get(result.member), "down", `${result.member} left the read pool`);
    primary = result.member;
    const status = await cluster.api(primary, "GET", "/patroni");
    const pushes = (status.json["raftgres"] as { haproxy?: { socket: string; ok: boolean; pushes: number }[] }).haproxy;
    t.match(pushes, [{ socket: adminSocket, ok: true }], "the new primary reports its pushes in /patroni");
    // The old primary rejoins as a replica, and its agent puts it in the read pool.
    cluster.start(old);
    t.equal(await cluster.waitHealthy(60_000), primary, `${old} rejoined as a replica of ${primary}`);
    await waitFor(`${old} in the read pool`, 10_000, async () => ((await serverStates(endpoint, "replicas")).get(old) === "up" ? true : undefined), 100);
  });

  await t.test("a switchover: the old primary is forced down before the new one is up, which is routed at once", async (t) => {
    const old = primary;
    const candidate = [...cluster.nodes.keys()].filter((name) => name !== old).sort()[0]!;
    const result = await handover(cluster, ports.write, old, async () => {
      const response = await cluster.api(old, "POST", "/switchover", { leader: old, candidate }, 30_000);
      t.equal(response.status, 200, `POST /switchover answered 200: ${response.text}`);
    }, 30_000, nextId);
    const afterPromotionMs = Math.round(result.routedAt - result.promotedSeenAt);
    t.comment(`switchover ${old} → ${candidate}: writes through HAProxy failed for ${Math.round(result.routedAt - result.faultAt)} ms from the request (${result.failedWrites} failed attempts); routed ${afterPromotionMs} ms after ${candidate}'s /primary first said 200`);
    t.equal(result.member, candidate);
    t.ok(afterPromotionMs < CHECKS_UP_MS - POLL_LAG_MS, `routed ${afterPromotionMs} ms after the promotion: the checks (${CHECKS}) need at least ${CHECKS_UP_MS} ms`);
    // HAProxy logs a server's state only when it changes: the last of each line is this switchover's.
    const log = haproxy!.lastLog(100_000);
    const down = log.lastIndexOf(`Server primary/${old} is DOWN, changed from CLI`);
    const up = log.lastIndexOf(`Server primary/${candidate} is UP, changed from CLI`);
    t.ok(down >= 0 && up >= 0 && down < up, `HAProxy logged ${old} forced down before ${candidate} forced up`);
    primary = candidate;
    t.equal(await cluster.waitHealthy(60_000), primary, "the old primary follows the new one");
  });

  await t.test("a push that fails: the checks still route a switchover, and the failure is reported", async (t) => {
    // HAProxy again, with its admin socket where the agents do not look.
    await haproxy!.kill();
    const otherSocket = join(dir, "other.sock");
    haproxy = startHaproxy(otherSocket);
    const other = { kind: "unix" as const, path: otherSocket };
    // HAProxy starts with every server up: wait until its checks took the replicas out.
    await waitFor("the checks to settle the write pool", 30_000, async () => {
      const states = await serverStates(other, "primary").catch(() => null);
      return states !== null && [...states].every(([name, state]) => (name === primary) === (state === "up")) ? true : undefined;
    }, 200);
    const old = primary;
    const candidate = [...cluster.nodes.keys()].filter((name) => name !== old).sort()[0]!;
    const result = await handover(cluster, ports.write, old, async () => {
      const response = await cluster.api(old, "POST", "/switchover", { leader: old, candidate }, 30_000);
      t.equal(response.status, 200, `POST /switchover answered 200: ${response.text}`);
    }, 40_000, nextId);
    const afterPromotionMs = Math.round(result.routedAt - result.promotedSeenAt);
    t.comment(`switchover ${old} → ${candidate} without the push: routed ${afterPromotionMs} ms after ${candidate}'s /primary first said 200 (${result.failedWrites} failed attempts)`);
    t.equal(result.member, candidate);
    t.ok(afterPromotionMs >= CHECKS_UP_MS - POLL_LAG_MS, `the checks routed it, no sooner than (rise−1)·inter (${afterPromotionMs} ms)`);
    primary = candidate;
    const status = await cluster.api(primary, "GET", "/patroni");
    const pushes = (status.json["raftgres"] as { haproxy?: { socket: string; ok: boolean; failures: number; last_error: string | null }[] }).haproxy ?? [];
    t.equal(pushes.length, 1, "one socket reported");
    t.equal(pushes[0]?.ok, false, "reported failing in /patroni");
    t.ok((pushes[0]?.failures ?? 0) > 0, `with ${pushes[0]?.failures} failed attempts`);
    // The killed HAProxy left its socket file: connections to it are refused.
    t.match(pushes[0]?.last_error, /is HAProxy running, with `stats socket \S*admin\.sock level admin`/);
    const metrics = await cluster.api(primary, "GET", "/metrics");
    t.match(metrics.text, new RegExp(`raftgres_haproxy_push_ok\\{[^}]*socket="${adminSocket.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"\\} 0`), "and in /metrics");
  });
}
