/**
 * Acceptance: issue 12's reproductions, on three agents with real PostgreSQL and REST
 * authentication on. What a client, a peer or a disk does must not take the cluster down or
 * silently lose what it acknowledged:
 * - a config nested thousands deep, bad HA settings, unknown or multi-line PostgreSQL parameters,
 *   garbage bodies: refused with a sentence, nothing committed, no agent restarts;
 * - failed logins: logged once per interval, not once per request;
 * - a flood of unauthenticated connections and 60 MB frames at the primary's Raft port: bounded
 *   memory, no failover;
 * - a replica whose Raft log lost acknowledged entries, and one whose Raft directory was emptied:
 *   each refuses to start, says how to come back, and does come back that way.
 * The other reproductions have tests of their own: test/agent/start_failure.test.ts (a parameter
 * PostgreSQL refuses at start), test/raft/storage_faults.test.ts (every kind of damaged file).
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { PgCluster, waitFor } from "../../lab/pg_cluster.js";
import { MB, sleep, startFlood } from "../raft/flood_support.js";

/** The type of a subtest's `t` (the last overload of t.test takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const CREDENTIALS = { username: "admin", password: "hostile-inputs-test" };
const AUTH = `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64")}`;

const cluster = await PgCluster.create({
  placement: { host: () => "127.0.0.1", env: () => ({ RAFTGRES_RESTAPI_USERNAME: CREDENTIALS.username, RAFTGRES_RESTAPI_PASSWORD: CREDENTIALS.password }) },
});
t.teardown(() => cluster.destroy());
cluster.startAll();
const primary = await cluster.waitHealthy(120_000);
const replicas = [...cluster.nodes.keys()].filter((n) => n !== primary);
const pids = new Map([...cluster.nodes.keys()].map((n) => [n, cluster.agentPid(n)]));

/** A request with a raw text body, authenticated unless `auth` says otherwise. */
async function call(name: string, method: string, path: string, body?: string, auth: string | null = AUTH): Promise<{ status: number; json: Record<string, unknown>; etag: string | null }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth !== null) headers["authorization"] = auth;
  const response = await fetch(`${cluster.apiUrl(name)}${path}`, { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: response.status, json, etag: response.headers.get("etag") };
}

/** `{"deep": {"a": {"a": … 1 …}}}`, built as text: no recursion on this side either. */
function nested(depth: number): string {
  return `{"deep":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
}

async function configVersion(): Promise<string | null> {
  return (await call(primary, "GET", "/config")).etag;
}

function agentsUnchanged(): boolean {
  return [...pids].every(([name, pid]) => cluster.agentPid(name) === pid);
}

t.test("a config nested thousands deep is refused at the edge; nothing is committed and no agent stops", async (t) => {
  const before = await configVersion();
  for (const depth of [4000, 5000, 100_000]) {
    const answer = await call(primary, "PATCH", "/config", nested(depth));
    t.equal(answer.status, 400, `depth ${depth}: ${JSON.stringify(answer.json).slice(0, 200)}`);
    t.match(String(answer.json["message"]), /nested .*deep.* limit of 16/, `depth ${depth}: the sentence names the limit`);
  }
  await sleep(2000);
  t.equal(await configVersion(), before, "the config version did not move");
  t.ok(agentsUnchanged(), "every agent still runs (same PIDs)");
  const fine = await call(primary, "PATCH", "/config", JSON.stringify({ maximum_lag_on_failover: 2 * MB }));
  t.equal(fine.status, 200, "a sane change still goes through");
});

t.test("HA settings and PostgreSQL parameters are checked before they are accepted", async (t) => {
  const before = await configVersion();
  const cases: [unknown, RegExp][] = [
    [{ loop_wait: "x", retry_timeout: 0, postgresql: "x" }, /loop_wait[\s\S]*retry_timeout[\s\S]*postgresql|loop_wait[\s\S]*postgresql[\s\S]*retry_timeout/],
    [{ ttl: 100_000 }, /ttl must be a number of seconds from 3 to 3600/],
    [{ ttl: 4, loop_wait: 1, retry_timeout: 2 }, /loop_wait \+ 2 × retry_timeout ≤ ttl/],
    [{ postgresql: { parameters: { no_such_param: "1" } } }, /no_such_param is not a PostgreSQL 15 parameter/],
    [{ postgresql: { parameters: { wrok_mem: "64MB" } } }, /did you mean work_mem\?/],
    [{ postgresql: { parameters: { work_mem: "1s\nfsync = off" } } }, /control character|one line/],
    [{ postgresql: { parameters: { max_connections: "lots" } } }, /max_connections/],
  ];
  for (const [body, expected] of cases) {
    const answer = await call(primary, "PATCH", "/config", JSON.stringify(body));
    t.equal(answer.status, 400, JSON.stringify(body));
    t.match(String(answer.json["message"]), expected, JSON.stringify(body));
  }
  t.equal(await configVersion(), before, "none of them changed the config");
  for (const name of cluster.nodes.keys()) {
    const dynamic = readFileSync(join(cluster.spec(name).dir, "pgdata", "raftgres.dynamic.conf"), "utf8");
    t.notMatch(dynamic, /fsync = off|no_such_param/, `${name}'s dynamic parameters file holds none of it`);
  }
});

t.test("garbage bodies and unknown members are refused with a sentence and change nothing", async (t) => {
  const reload = await call(replicas[0]!, "POST", "/reload", "garbage");
  t.equal(reload.status, 400);
  t.match(String(reload.json["message"]), /JSON/);
  const maintenance = await call(primary, "POST", `/members/${replicas[0]}/maintenance`, JSON.stringify({ candidate: "nosuch" }));
  t.ok(maintenance.status >= 400 && maintenance.status < 500, `maintenance with an unknown candidate: ${maintenance.status}`);
  t.match(String(maintenance.json["message"]), /nosuch is not a member of the cluster.*members: /);
  const members = (await call(primary, "GET", "/cluster")).json["members"] as { name: string; tags?: Record<string, unknown>; maintenance?: boolean }[];
  t.notOk(members.some((m) => m.maintenance === true), "nobody was put in maintenance");
});

t.test("failed logins are logged once per interval with a count, not once per request", async (t) => {
  const wrong = `Basic ${Buffer.from("admin:guess").toString("base64")}`;
  const target = replicas[1]!;
  const linesBefore = cluster.agentLog(target).split("\n").filter((l) => /refused a request/.test(l)).length;
  for (let i = 0; i < 30; i++) t.equal((await call(target, "POST", "/reload", "{}", wrong)).status, 401, `attempt ${i + 1}`);
  await sleep(500);
  const lines = cluster.agentLog(target).split("\n").filter((l) => /refused a request/.test(l)).length - linesBefore;
  t.ok(lines >= 1 && lines <= 2, `${lines} log line(s) for 30 refused requests`);
});

/** Resident memory of a process, from /proc. */
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) * 1024;
}

t.test("a flood of unauthenticated connections and 60 MB frames at the primary's Raft port: bounded memory, no failover", async (t) => {
  const agent = cluster.agentPid(primary)!;
  const postmaster = cluster.postmasterPid(primary);
  const generation = (await call(primary, "GET", "/patroni")).json["raftgres"] as { lease?: { generation: number } };
  const baseline = rssBytes(agent);
  let peak = baseline;
  const attacks = startFlood(cluster.spec(primary).raftPort);
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    await sleep(250);
    peak = Math.max(peak, rssBytes(agent));
  }
  for (const attack of attacks) await attack.stop(10_000);
  const growth = peak - baseline;
  t.comment(`primary agent RSS ${(baseline / MB).toFixed(1)} MB before, ${(peak / MB).toFixed(1)} MB at most: ${(growth / MB).toFixed(1)} MB more; ${attacks.map((a) => a.summary()).join("; ")}`);
  t.ok(growth <= 50 * MB, `the flood cost ${(growth / MB).toFixed(1)} MB ≤ 50 MB`);
  t.equal(await cluster.primary(), primary, "the primary is the same");
  t.equal(cluster.postmasterPid(primary), postmaster, "its PostgreSQL was never stopped");
  const after = (await call(primary, "GET", "/patroni")).json["raftgres"] as { lease?: { generation: number } };
  t.equal(after.lease?.generation, generation.lease?.generation, "it kept the same lease throughout");
});

/** The commands an agent printed when it refused to start, checked against what the test runs. */
function printedProcedure(name: string): string {
  return cluster.agentLog(name).split("\n").filter((l) => /members remove|--rejoin|members add|mv /.test(l)).join("\n");
}

/** The way back the agent printed: remove, move the directory aside, start with --rejoin, add. */
async function bringBack(t: Test, name: string): Promise<void> {
  const spec = cluster.spec(name);
  const other = `${cluster.apiUrl(primary)}`;
  const auth = ["--url", other, "--username", CREDENTIALS.username, "--password", CREDENTIALS.password];
  const removed = cluster.cli([...auth, "members", "remove", name, "--force"]);
  t.equal(removed.code, 0, `members remove ${name}: ${removed.stdout}${removed.stderr}`);
  const raftDir = join(spec.dir, "raft");
  renameSync(raftDir, `${raftDir}.damaged`);
  cluster.start(name, ["--rejoin"]);
  const added = cluster.cli([...auth, "members", "add", name, `127.0.0.1:${spec.raftPort}`], 120_000);
  t.equal(added.code, 0, `members add ${name}: ${added.stdout}${added.stderr}`);
  await cluster.query(primary, `INSERT INTO hostile VALUES ('after ${name}')`);
  const rows = await waitFor(`${name} to stream again`, 120_000, async () => {
    const found = await cluster.query<{ n: string }>(name, `SELECT count(*) AS n FROM hostile WHERE note = 'after ${name}'`).catch(() => []);
    return Number(found[0]?.n) === 1 ? 1 : undefined;
  });
  t.equal(rows, 1, `${name} streams again, with the row written after it came back`);
  t.ok((await cluster.status(name))?.raft.role !== undefined, `${name} answers`);
}

t.test("a replica whose Raft log lost acknowledged entries refuses to start and comes back the way it says", async (t) => {
  await cluster.query(primary, "CREATE TABLE IF NOT EXISTS hostile (note text)");
  const victim = replicas[0]!;
  cluster.signalAgent(victim, "SIGTERM");
  await cluster.agentExited(victim);
  const raftDir = join(cluster.spec(victim).dir, "raft");
  const log = readdirSync(raftDir).filter((n) => n.endsWith(".log")).sort().at(-1)!;
  const bytes = readFileSync(join(raftDir, log));
  bytes[bytes.length - 300] = bytes[bytes.length - 300]! ^ 0xff;
  writeFileSync(join(raftDir, log), bytes);
  cluster.start(victim);
  await cluster.agentExited(victim, 60_000);
  const text = cluster.agentLog(victim);
  t.match(text, /The Raft data in .*raft is corrupt: acknowledged entries: the log ends at entry \d+ .*but this node had acknowledged entries up to \d+/, "it names the data directory and what was lost");
  t.match(printedProcedure(victim), new RegExp(`members remove ${victim} --force[\\s\\S]*mv [\\s\\S]*--rejoin[\\s\\S]*members add ${victim} 127\\.0\\.0\\.1:${cluster.spec(victim).raftPort}`), "and the commands to come back");
  await bringBack(t, victim);
});

t.test("a replica whose Raft directory was emptied is refused by its peers, never starts with it, and comes back the way it says", async (t) => {
  const victim = replicas[1]!;
  cluster.signalAgent(victim, "SIGTERM");
  await cluster.agentExited(victim);
  const raftDir = join(cluster.spec(victim).dir, "raft");
  for (const name of readdirSync(raftDir)) rmSync(join(raftDir, name), { recursive: true, force: true });
  cluster.start(victim);
  await cluster.agentExited(victim, 60_000);
  t.match(cluster.agentLog(victim), new RegExp(`knew node ${victim} with another Raft data directory: this one .* replaced it`), "its peers refused the new directory, and it stopped");
  cluster.start(victim);
  await cluster.agentExited(victim, 60_000);
  t.match(cluster.agentLog(victim), /did not start: The Raft data in .* is corrupt: the whole directory: node \S+ knew node/, "it refuses to start with that directory again");
  t.match(printedProcedure(victim), new RegExp(`members remove ${victim} --force[\\s\\S]*--rejoin`), "and says how to come back");
  t.equal(await cluster.primary(), primary, "meanwhile the primary served on");
  await bringBack(t, victim);
});
