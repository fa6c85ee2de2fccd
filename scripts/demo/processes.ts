/**
 * Processes the demo killed or has to clean up after. Some containers' PID 1 reaps orphans late;
 * a zombie postmaster named in postmaster.pid makes PostgreSQL refuse to start on that data
 * directory ("lock file "postmaster.pid" already exists"), which pg_rewind's single-user crash
 * recovery trips on. A machine that really crashed and rebooted never has that zombie, so the
 * demo waits for it to go.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { PgCluster } from "../../lab/pg_cluster.js";

/** How long to wait for PID 1 to reap a killed process. */
const REAP_WAIT_MS = 10_000;

/** Waits (bounded) until `pid` is gone from /proc, not even a zombie; whether it is. */
export async function reaped(pid: number): Promise<boolean> {
  const deadlineMs = Date.now() + REAP_WAIT_MS;
  while (exists(pid) && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !exists(pid);
}

function exists(pid: number): boolean {
  return read(`/proc/${pid}/stat`) !== null;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function isWatchdog(pid: number): boolean {
  return (read(`/proc/${pid}/cmdline`) ?? "").includes("watchdog_process");
}

/** The watchdog processes the given agents started (their children running watchdog_process). */
function watchdogsOf(agentPids: ReadonlySet<number>): number[] {
  const pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number);
  return pids.filter((pid) => {
    const stat = read(`/proc/${pid}/stat`) ?? "";
    // Fields after the command's closing parenthesis: state, then the parent's PID.
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return agentPids.has(parent) && isWatchdog(pid);
  });
}

/**
 * destroy(), then the agents' watchdog processes. The watchdog of a killed primary agent fires
 * and reports the fence for a few seconds; its log lines go to the agent's stderr pipe, which
 * this process reads. Once this process has exited, the write fails with EPIPE and the
 * watchdog's exit (pino's flushSync, sonic-boom 4.2.1) retries it every 100 ms forever.
 */
export async function teardown(cluster: PgCluster): Promise<void> {
  const agents = [...cluster.nodes.keys()].map((name) => cluster.agentPid(name));
  const watchdogs = watchdogsOf(new Set(agents.filter((pid): pid is number => pid !== null)));
  await cluster.destroy();
  for (const pid of watchdogs) {
    try {
      if (isWatchdog(pid)) process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}
