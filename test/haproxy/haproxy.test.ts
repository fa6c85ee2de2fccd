/**
 * HAProxy in front of three real agents, configured from packaging/haproxy.cfg: the write pool
 * reaches the primary, the read pool the replicas; after the primary's node crashes (agent and
 * postmaster SIGKILL) writes through HAProxy succeed again on the new primary (the downtime is
 * measured); a switchover through the REST API moves the write pool too.
 * The cluster and haproxy are killed by PID in the teardown, whatever the outcome.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import t from "tap";
import { type HaproxyPorts, localHaproxyConfig } from "../../lab/haproxy.js";
import { freePort } from "../../lab/sockets.js";
import { PgCluster, SUPERUSER, waitFor } from "../../lab/pg_cluster.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The whole file stays within this (tap's own limit is larger). */
t.setTimeout(90_000);

const missing = haproxyMissing();
if (missing !== null) {
  t.plan(0, missing);
} else {
  // A failure outside the subtests (the cluster never became healthy …) fails the file, and the
  // teardowns still run.
  await run().catch((error: unknown) => t.fail(error instanceof Error ? error.message : String(error)));
}

/** null when haproxy is installed; why the test is skipped when it cannot be; throws otherwise. */
function haproxyMissing(): string | null {
  try {
    execFileSync("haproxy", ["-v"], { stdio: "ignore" });
    return null;
  } catch {
    // Not on PATH: is it installable here at all?
  }
  let policy = "";
  try {
    policy = execFileSync("apt-cache", ["policy", "haproxy"], { encoding: "utf8" });
  } catch {
    return "haproxy is not installed and this machine has no apt-cache to install it with";
  }
  if (/Candidate: \(none\)/.test(policy) || !/Candidate:/.test(policy)) return "haproxy is not installed and no package provides it here";
  throw new Error("haproxy is installable but not installed: run scripts/setup.sh (it installs Debian's haproxy)");
}

interface Answer {
  readonly member: string;
  readonly inRecovery: boolean;
}

async function run(): Promise<void> {
  const cluster = await PgCluster.create();
  let haproxy: ChildProcess | null = null;
  let haproxyLog = "";
  t.teardown(async () => {
    if (haproxy?.pid !== undefined && haproxy.exitCode === null && haproxy.signalCode === null) process.kill(haproxy.pid, "SIGKILL");
    await cluster.destroy();
  });
  const ports: HaproxyPorts = { write: await freePort(), read: await freePort(), stats: await freePort() };
  const config = localHaproxyConfig(readFileSync(join(ROOT, "packaging", "haproxy.cfg"), "utf8"), [...cluster.nodes.values()], ports, { adminSocket: join(cluster.root, "haproxy-admin.sock") });
  const configPath = join(cluster.root, "haproxy.cfg");
  writeFileSync(configPath, config);
  execFileSync("haproxy", ["-c", "-q", "-f", configPath], { stdio: ["ignore", "pipe", "pipe"] });

  cluster.startAll();
  let primary = await cluster.waitHealthy(60_000);
  haproxy = spawn("haproxy", ["-f", configPath, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  const haproxyPid = haproxy.pid;
  // Even if this process dies without its teardown, haproxy goes with it.
  process.once("exit", () => {
    if (haproxyPid === undefined) return;
    try {
      process.kill(haproxyPid, "SIGKILL");
    } catch {
      // Gone already.
    }
  });
  haproxy.stdout!.on("data", (chunk: Buffer) => (haproxyLog += chunk.toString()));
  haproxy.stderr!.on("data", (chunk: Buffer) => (haproxyLog += chunk.toString()));
  t.teardown(() => {
    if (t.passing()) return;
    t.comment(`haproxy log (last lines):\n${haproxyLog.split("\n").slice(-30).join("\n")}`);
  });

  /** One connection through `port`: which member answered, and whether it is a replica. */
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

  let nextId = 1;
  const insert = (port: number) => through(port, "INSERT INTO through_haproxy (id) VALUES ($1)", [nextId++]);

  // The write pool's primary is up after `rise 2` checks.
  await waitFor("the write pool to reach the primary", 10_000, async () => ((await through(ports.write)).member === primary ? true : undefined), 100);
  await cluster.query(primary, "CREATE TABLE through_haproxy (id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())");
  await t.test("writes through the write port reach the primary", async (t) => {
    for (let i = 0; i < 5; i++) {
      const answer = await insert(ports.write);
      t.same(answer, { member: primary, inRecovery: false }, `write ${i + 1} landed on the primary ${primary}`);
    }
  });

  await t.test("reads through the read port hit the replicas, round robin", async (t) => {
    const replicas = [...cluster.nodes.keys()].filter((name) => name !== primary).sort();
    const seen = await waitFor("both replicas in the read pool", 10_000, async () => {
      const members = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const answer = await through(ports.read);
        if (!answer.inRecovery) throw new Error(`the read pool reached ${answer.member}, not in recovery`);
        members.add(answer.member);
      }
      return members.size === replicas.length ? [...members].sort() : undefined;
    }, 250);
    t.same(seen, replicas, "each read connection reached a replica, and both replicas were reached");
  });

  await t.test("the primary's node crashes: writes through HAProxy succeed again on the new primary", async (t) => {
    const old = primary;
    const postmaster = cluster.postmasterPid(old);
    t.ok(postmaster !== null, `${old}'s postmaster runs`);
    const killedAt = Date.now();
    cluster.signalAgent(old, "SIGKILL");
    if (postmaster !== null) process.kill(-postmaster, "SIGKILL");
    let failures = 0;
    const answer = await waitFor("a write through HAProxy after the crash", 30_000, async () => {
      try {
        const written = await insert(ports.write);
        return written.member === old ? undefined : written;
      } catch {
        failures++;
        return undefined;
      }
    }, 50);
    const downtimeMs = Date.now() - killedAt;
    t.comment(`writes through HAProxy failed for ${downtimeMs} ms after the node crash (${failures} failed attempts, one every 50 ms)`);
    t.equal(answer.inRecovery, false, `the write landed on a primary (${answer.member})`);
    primary = answer.member;
    t.not(primary, old, "a new primary");
    t.equal(await cluster.primary(), primary, "it is the member answering 200 on /primary");
    t.ok(downtimeMs < 15_000, "within 15 s");
    const written = await cluster.query<{ n: string }>(primary, "SELECT count(*) AS n FROM through_haproxy");
    t.ok(Number(written[0]!.n) >= 6, "the writes before the crash are on the new primary");

    // Bring the old primary back (it rewinds and follows) so the cluster is whole again.
    cluster.start(old);
    t.equal(await cluster.waitHealthy(40_000), primary, `${old} rejoined as a replica of ${primary}`);
  });

  await t.test("a switchover through the REST API moves the write pool to the candidate", async (t) => {
    const candidate = [...cluster.nodes.keys()].filter((name) => name !== primary).sort()[0]!;
    let lastWriter: string = primary;
    let failures = 0;
    let firstFailureAt: number | null = null;
    let recoveredAt: number | null = null;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        try {
          const answer = await insert(ports.write);
          if (answer.member === candidate && recoveredAt === null) recoveredAt = Date.now();
          lastWriter = answer.member;
        } catch {
          failures++;
          firstFailureAt ??= Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const requestedAt = Date.now();
    const response = await fetch(`http://127.0.0.1:${cluster.spec(primary).apiPort}/switchover`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ leader: primary, candidate }),
      signal: AbortSignal.timeout(30_000),
    });
    t.equal(response.status, 200, `POST /switchover answered 200: ${await response.text()}`);
    await waitFor(`writes through HAProxy to land on ${candidate}`, 20_000, () => (recoveredAt !== null ? true : undefined), 50);
    writing = false;
    await writer;
    const from = firstFailureAt ?? requestedAt;
    t.comment(`switchover ${primary} → ${candidate}: writes through HAProxy failed for ${recoveredAt! - from} ms (${failures} failed attempts); ${recoveredAt! - requestedAt} ms from the request to the first write on ${candidate}`);
    t.equal(lastWriter, candidate, "writes land on the candidate");
    primary = candidate;
  });
}
