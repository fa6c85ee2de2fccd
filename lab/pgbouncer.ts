/**
 * A real pgbouncer for tests and benchmarks, configured from packaging/pgbouncer.ini: its listen
 * address and port, file paths and admin user replaced, everything else as shipped. pgbouncer
 * refuses to run as root, so a root process starts it as the `postgres` OS user. Tracked by PID,
 * killed (and its directory removed) by stop(), or by SIGKILL if this process exits first.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { freePort } from "./sockets.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** lab/ sits beside packaging/ in the checkout; dist/lab two levels below it. */
const TEMPLATE_CANDIDATES = [join(ROOT, "packaging", "pgbouncer.ini"), join(ROOT, "..", "packaging", "pgbouncer.ini")];

export interface PgbouncerOptions {
  /** Roles clients log in as (pgbouncer passes the password on to PostgreSQL). */
  readonly users: readonly { readonly username: string; readonly password: string }[];
  readonly admin: { readonly username: string; readonly password: string };
  /** Settings of [pgbouncer] to replace or add, e.g. {query_wait_timeout: "5"}. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface Pgbouncer {
  readonly pid: number;
  readonly port: number;
  readonly dir: string;
  /** The file of database definitions pgbouncer.ini includes (the agents write it). */
  readonly databasesFile: string;
  readonly logFile: string;
  /** Runs one admin console command; its rows. */
  admin(command: string, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  /** The databases (of those named) that SHOW DATABASES says are paused. */
  paused(databases: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

/** null when pgbouncer is installed; why a test is skipped when it cannot be; throws otherwise. */
export function pgbouncerMissing(): string | null {
  try {
    execFileSync("pgbouncer", ["--version"], { stdio: "ignore" });
    return null;
  } catch {
    // Not on PATH: is it installable here at all?
  }
  let policy = "";
  try {
    policy = execFileSync("apt-cache", ["policy", "pgbouncer"], { encoding: "utf8" });
  } catch {
    return "pgbouncer is not installed and this machine has no apt-cache to install it with";
  }
  if (/Candidate: \(none\)/.test(policy) || !/Candidate:/.test(policy)) return "pgbouncer is not installed and no package provides it here";
  throw new Error("pgbouncer is installable but not installed: run scripts/setup.sh (it installs Debian's pgbouncer)");
}

/** packaging/pgbouncer.ini with this instance's address, paths and admin user. */
export function localPgbouncerIni(template: string, values: Readonly<Record<string, string>>, databasesFile: string): string {
  const pending = new Map(Object.entries(values));
  let section = "";
  const lines = template.split("\n").map((line) => {
    const header = /^\[(\w+)\]/.exec(line);
    if (header !== null) section = header[1]!;
    if (line.startsWith("%include ")) return `%include ${databasesFile}`;
    const setting = /^(\w+)\s*=/.exec(line);
    if (section !== "pgbouncer" || setting === null || !pending.has(setting[1]!)) return line;
    const value = pending.get(setting[1]!)!;
    pending.delete(setting[1]!);
    return `${setting[1]} = ${value}`;
  });
  for (const [key, value] of pending) lines.push(`${key} = ${value}`);
  return lines.join("\n");
}

export async function startPgbouncer(options: PgbouncerOptions): Promise<Pgbouncer> {
  const template = readFileSync(TEMPLATE_CANDIDATES.find((path) => existsQuietly(path)) ?? TEMPLATE_CANDIDATES[0]!, "utf8");
  const dir = mkdtempSync(join(tmpdir(), "raftgres-pgbouncer-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const databasesFile = join(dir, "raftgres_databases.ini");
  const logFile = join(dir, "pgbouncer.log");
  const users = [...options.users, options.admin].map((u) => `"${u.username}" "${u.password}"`).join("\n");
  writeFileSync(join(dir, "userlist.txt"), `${users}\n`, { mode: 0o644 });
  writeFileSync(databasesFile, "; no primary yet: the raftgres agents write this file\n", { mode: 0o644 });
  const ini = localPgbouncerIni(template, {
    listen_addr: "127.0.0.1",
    listen_port: String(port),
    unix_socket_dir: "",
    auth_file: join(dir, "userlist.txt"),
    admin_users: options.admin.username,
    logfile: logFile,
    pidfile: "",
    ...options.settings,
  }, databasesFile);
  const iniFile = join(dir, "pgbouncer.ini");
  writeFileSync(iniFile, ini, { mode: 0o644 });
  const ids = process.getuid?.() === 0 ? postgresIds() : null;
  // Its log goes in the directory; the agents (root) still write the databases file there.
  if (ids !== null) chownSync(dir, ids.uid, ids.gid);
  const child = spawn("pgbouncer", [iniFile], { stdio: ["ignore", "ignore", "pipe"], ...(ids ?? {}) });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("pgbouncer did not start (no PID)");
  const killNow = (): void => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone.
    }
  };
  process.once("exit", killNow);
  const admin = (command: string, timeoutMs = 5_000) => adminQuery(port, options.admin, command, timeoutMs);
  const instance: Pgbouncer = {
    pid,
    port,
    dir,
    databasesFile,
    logFile,
    admin,
    async paused(databases) {
      const rows = await admin("SHOW DATABASES");
      return rows.filter((r) => databases.includes(String(r["name"])) && Number(r["paused"]) === 1).map((r) => String(r["name"]));
    },
    async stop() {
      process.removeListener("exit", killNow);
      await stopChild(child, pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitUntilUp(instance, child, () => stderr);
  return instance;
}

function existsQuietly(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/** pgbouncer refuses to run as root ("PgBouncer should not run as root"): it runs as postgres. */
function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

async function waitUntilUp(instance: Pgbouncer, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}) before it listened: ${stderr()}${readQuietly(instance.logFile)}`);
    }
    try {
      await instance.admin("SHOW VERSION", 1_000);
      return;
    } catch (error: unknown) {
      if (Date.now() > deadline) {
        await instance.stop();
        throw new Error(`pgbouncer did not answer on 127.0.0.1:${instance.port} within 10 s: ${String(error)}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, "utf8").slice(-4000);
  } catch {
    return "";
  }
}

/** SIGTERM (pgbouncer's immediate shutdown), then SIGKILL after 5 s. */
async function stopChild(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone.
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

async function adminQuery(port: number, admin: { username: string; password: string }, command: string, timeoutMs: number): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: admin.username, password: admin.password, database: "pgbouncer", connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(command)).rows as Record<string, unknown>[];
  } finally {
    await client.end().catch(() => {});
  }
}
