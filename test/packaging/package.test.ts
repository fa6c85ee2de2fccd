/**
 * The npm tarball of `npm run package`: it builds, installs offline into a temporary prefix with
 * `npm install -g`, prints its usage, and an agent started from the installed package (a
 * one-member Raft group) bootstraps PostgreSQL, answers GET /patroni, runs its watchdog process
 * from inside the package, and stops on SIGTERM. Also: packaging/node.yml.example names every key
 * src/agent/config.ts accepts, and is accepted by it.
 * Everything started is killed by PID and every directory removed, whatever the outcome.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { either as E } from "fp-ts";
import t from "tap";
import { buildPackage } from "../../scripts/package/build.js";
import { parseAgentConfig } from "../../src/agent/config.js";
import { freePort } from "../../lab/sockets.js";
import { isAlive, waitFor } from "../../lab/pg_cluster.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NPM_INSTALL_TIMEOUT_MS = 60_000;
const BOOTSTRAP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

const root = mkdtempSync(join(tmpdir(), "raftgres-package-test-"));
// PostgreSQL runs as postgres: it must traverse the root to reach its data directory.
chmodSync(root, 0o711);
const prefix = join(root, "prefix");
const installed = join(prefix, "lib", "node_modules", "raftgres");
const bin = join(prefix, "bin", "raftgres");
/** The installed bin runs through `#!/usr/bin/env node`: this node first on PATH. */
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}` };

let agent: ChildProcess | null = null;
/** The agent's watchdog processes: detached, so they outlive a killed agent. */
const watchdogPids: number[] = [];
const pgData = join(root, "node", "pgdata");

t.teardown(async () => {
  if (agent?.pid !== undefined && agent.exitCode === null && agent.signalCode === null) kill(agent.pid);
  for (const pid of watchdogPids) if (isAlive(pid)) kill(pid);
  const postmaster = postmasterPid();
  if (postmaster !== null) kill(-postmaster);
  await new Promise((resolve) => setTimeout(resolve, 200));
  rmSync(root, { recursive: true, force: true });
});

t.test("node.yml.example names every key src/agent/config.ts accepts, and config.ts accepts it", async (t) => {
  const example = readFileSync(join(ROOT, "packaging", "node.yml.example"), "utf8");
  const source = readFileSync(join(ROOT, "src", "agent", "config.ts"), "utf8");
  // Every key list of read(): root.only([...]) and each section(…, [...]).
  const lists = [...source.matchAll(/(?:only|[sS]ection)\((?:"[a-z_]+", )?\[([^\]]*)\]/g)].map((m) => m[1]!);
  const keys = new Set(lists.flatMap((list) => [...list.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!)));
  t.ok(keys.size > 40, `found the key lists of config.ts (${keys.size} keys)`);
  for (const key of keys) t.match(example, new RegExp(`^\\s*(# )?${key}:`, "m"), `${key} is in the example`);
  const secretFile = join(root, "secret");
  writeFileSync(secretFile, "a-secret-of-the-example-with-32-bytes-or-more\n", { mode: 0o600 });
  const parsed = parseAgentConfig(example.replaceAll("/etc/raftgres/secret", secretFile), "node.yml.example");
  if (E.isLeft(parsed)) t.fail(parsed.left);
  else t.equal(parsed.right.raft.members.size, 3, "the example parses: three members");
});

t.test("the tarball builds, installs offline and runs an agent from the installed package", async (t) => {
  let started = Date.now();
  const built = await buildPackage(join(root, "out"));
  t.comment(`built ${built.tarball}: ${(built.bytes / 1024 / 1024).toFixed(2)} MiB in ${Date.now() - started} ms`);
  const listing = execFileSync("tar", ["tzf", built.tarball], { encoding: "utf8" }).split("\n").filter((line) => line !== "");
  for (const file of ["package/dist/raftgres.js", "package/dist/watchdog_process.js", "package/dist/prebuilds/linux-x64/classic-level.node", "package/share/raftgres.service", "package/share/node.yml.example", "package/share/haproxy.cfg", "package/share/pgbouncer.ini"]) {
    t.ok(listing.includes(file), `the tarball holds ${file}`);
  }

  started = Date.now();
  execFileSync("npm", ["install", "-g", "--prefix", prefix, built.tarball, "--offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: root, env, timeout: NPM_INSTALL_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
  t.comment(`npm install -g --offline took ${Date.now() - started} ms`);
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Record<string, unknown>;
  t.same(manifest["bin"], { raftgres: "dist/raftgres.js" }, "the package's bin");
  t.equal(manifest["dependencies"], undefined, "the package has no dependencies");
  t.notOk(existsSync(join(installed, "node_modules")), "nothing was installed beside it");

  const usage = spawnSyncResult(bin, []);
  t.equal(usage.status, 2, "raftgres with no command exits 2");
  t.match(usage.output, /usage:?\s+raftgres/i, "and prints the usage");
  const help = spawnSyncResult(bin, ["--help"]);
  t.equal(help.status, 0, "raftgres --help exits 0");
  t.match(help.output, /usage:?\s+raftgres/i, "and prints the usage");

  const node = await writeNodeConfig();
  agent = spawn(bin, ["agent", "-c", node.configPath], { env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  agent.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  agent.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const agentPid = agent.pid!;
  started = Date.now();
  try {
    const status = await waitFor("GET /patroni", 30_000, () => getJson(node.apiPort, "/patroni"), 250);
    t.match(status["patroni"], { scope: "packaged", name: "pg1" }, "GET /patroni answers from the installed agent");
    const watchdogs = childrenOf(agentPid).filter((pid) => commandLine(pid).includes(join(installed, "dist", "watchdog_process.js")));
    watchdogPids.push(...watchdogs);
    t.equal(watchdogs.length, 1, "the watchdog process runs from the installed package");
    await waitFor("the one member to bootstrap and become primary", BOOTSTRAP_TIMEOUT_MS, async () => {
      const response = await fetch(`http://127.0.0.1:${node.apiPort}/primary`, { signal: AbortSignal.timeout(1000) });
      return response.status === 200 ? true : undefined;
    }, 250);
    t.comment(`the agent bootstrapped PostgreSQL and holds the lease ${Date.now() - started} ms after its start`);
    t.ok(postmasterPid() !== null, "PostgreSQL runs");

    agent.kill("SIGTERM");
    const exit = await exited(agent, STOP_TIMEOUT_MS);
    t.same(exit, { code: 0, signal: null }, "SIGTERM stops the agent cleanly");
    t.equal(postmasterPid(), null, "the agent stopped PostgreSQL");
    await waitFor("the watchdog process to exit", 5000, () => (watchdogs.every((pid) => !isAlive(pid)) ? true : undefined));
    t.pass("the watchdog process exited");
  } catch (error: unknown) {
    t.comment(`agent log:\n${log.slice(-4000)}`);
    throw error;
  }
});

async function writeNodeConfig(): Promise<{ configPath: string; apiPort: number }> {
  const dir = join(root, "node");
  mkdirSync(dir, { mode: 0o711 });
  const [apiPort, raftPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, "node.yml");
  writeFileSync(configPath, `scope: packaged
name: pg1
restapi: { listen: "127.0.0.1:${apiPort}" }
raft:
  listen: 127.0.0.1:${raftPort}
  data_dir: ${join(dir, "raft")}
  cluster_id: packaged-raft
  secret: raftgres-package-test-secret
  members: { pg1: "127.0.0.1:${raftPort}" }
postgresql:
  listen: 127.0.0.1:${pgPort}
  data_dir: ${pgData}
  authentication:
    superuser: { username: postgres, password: package-test-su }
    replication: { username: replicator, password: package-test-repl }
  parameters: { shared_buffers: 16MB, max_connections: 20 }
`);
  return { configPath, apiPort };
}

function spawnSyncResult(file: string, args: string[]): { status: number | null; output: string } {
  try {
    const stdout = execFileSync(file, args, { env, encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] });
    return { status: 0, output: stdout };
  } catch (error: unknown) {
    const e = error as { status: number | null; stdout?: string; stderr?: string };
    return { status: e.status, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

async function getJson(port: number, path: string): Promise<Record<string, unknown> | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
  return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** PIDs whose parent is `pid` (from /proc/[pid]/stat). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

function postmasterPid(): number | null {
  const file = join(pgData, "postmaster.pid");
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}
