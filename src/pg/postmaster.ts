/**
 * The postmaster process: spawned directly (`postgres -D dataDir`, no pg_ctl) in its own process
 * group, so every backend is in the group and a kill of `-pid` leaves nothing behind.
 *
 * Exits are watched: an exit nobody asked for makes the state "crashed", kills what is left of
 * the group (orphaned backends would hold the shared memory and block the next start), and is
 * reported to the listener at once.
 *
 * A postmaster left running by an earlier agent process is adopted, not stopped: postmaster.pid
 * names it, and it counts as ours when that pid is alive and its working directory is our data
 * directory (the postmaster chdirs there). It is not our child, so its exit is noticed by
 * polling every ADOPTED_POLL_MS; it is stopped by signalling that pid. A postmaster.pid whose
 * pid is dead is left for PostgreSQL, which ignores it; one whose pid now belongs to another
 * process is removed, because PostgreSQL would refuse to start over it when that process runs
 * as the same OS user.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readlinkSync, readSync, realpathSync, renameSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import type { StopMode } from "../ha/actions.js";
import type { ProcessState } from "../ha/observation.js";
import type { PostmasterExit } from "../ha/ports.js";
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import { ADOPTED_POLL_MS, SERVER_LOG_BYTES_MAX, SERVER_LOG_TAIL_BYTES } from "./constants.js";
import type { OsUser } from "./os_user.js";
import { programEnv, signalGroup } from "./programs.js";

export interface PostmasterConfig {
  readonly binDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly user: OsUser;
  readonly logger: Logger;
}

/** How long to wait for the exit after SIGKILL of the group (the kernel is quick). */
const KILLED_EXIT_WAIT_MS = 5_000;

export class Postmaster {
  private currentPid: number | null = null;
  private processState: ProcessState = "stopped";
  private child: ChildProcess | null = null;
  private adoptedTimer: NodeJS.Timeout | null = null;
  /** Set by stop(), and by start() while it watches the first seconds: such an exit is no crash. */
  private exitExpected = false;
  private readonly exitWaiters = new Set<(exit: PostmasterExit) => void>();
  private previousExit: PostmasterExit | null = null;
  private detached = false;

  constructor(
    private readonly config: PostmasterConfig,
    private readonly onUnexpectedExit: (exit: PostmasterExit) => void,
    /** Called synchronously once a postmaster is spawned, before it can accept a connection. */
    private readonly onSpawned: (pid: number) => void = () => {},
  ) {}

  get pid(): number | null {
    return this.currentPid;
  }

  get state(): ProcessState {
    return this.processState;
  }

  /** How the last postmaster ended (null before any ended). */
  get lastExit(): PostmasterExit | null {
    return this.previousExit;
  }

  markRunning(): void {
    if (this.currentPid !== null && this.processState === "starting") this.processState = "running";
  }

  /** While true, an exit is reported to the waiter (start) and not as a crash. */
  expectExit(expected: boolean): void {
    this.exitExpected = expected;
  }

  /** Adopts a running postmaster of this data directory; returns its pid or null. */
  adoptIfRunning(): number | null {
    assert(this.currentPid === null, "adopt only when no postmaster is known");
    const pid = runningPostmasterPid(this.config.dataDir);
    if (pid === null) return null;
    this.currentPid = pid;
    this.processState = "running";
    this.adoptedTimer = setInterval(() => this.pollAdopted(pid), ADOPTED_POLL_MS);
    this.adoptedTimer.unref();
    this.config.logger.info({ pid }, "adopted the postmaster left running by an earlier agent process");
    return pid;
  }

  /** Spawns the postmaster; Right is the byte offset where its log output starts. */
  spawn(): E.Either<string, number> {
    assert(this.currentPid === null, "spawn only when no postmaster runs");
    removeStaleLockFile(this.config.dataDir, this.config.logger);
    const logOffset = prepareLogFile(this.config.logFile);
    const fd = openSync(this.config.logFile, "a", 0o640);
    let child: ChildProcess;
    try {
      child = spawn(join(this.config.binDir, "postgres"), ["-D", this.config.dataDir], {
        cwd: "/",
        env: programEnv(this.config.user, this.config.binDir),
        uid: this.config.user.uid,
        gid: this.config.user.gid,
        detached: true,
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) return E.left(`could not spawn ${join(this.config.binDir, "postgres")}`);
    const pid = child.pid;
    child.on("error", (error) => this.config.logger.error({ pid, error: error.message }, "postmaster process error"));
    child.on("exit", (code, signal) => this.handleExit({ pid, code, signal }));
    this.child = child;
    this.currentPid = pid;
    this.processState = "starting";
    this.exitExpected = false;
    this.onSpawned(pid);
    return E.right(logOffset);
  }

  signal(signal: NodeJS.Signals): boolean {
    if (this.currentPid === null) return false;
    try {
      process.kill(this.currentPid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves with the exit, or null after `timeoutMs`; at once when none runs. */
  waitForExit(timeoutMs: number): Promise<PostmasterExit | null> {
    if (this.currentPid === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = (exit: PostmasterExit): void => {
        clearTimeout(timer);
        resolve(exit);
      };
      const timer = setTimeout(() => {
        this.exitWaiters.delete(waiter);
        resolve(null);
      }, timeoutMs);
      this.exitWaiters.add(waiter);
    });
  }

  /**
   * fast = SIGINT (PostgreSQL's "fast shutdown"), immediate = SIGQUIT; after `timeoutMs` the
   * whole process group gets SIGKILL. Returns whether it had to be killed.
   */
  async stop(mode: StopMode, timeoutMs: number): Promise<{ readonly killed: boolean }> {
    const pid = this.currentPid;
    if (pid === null) return { killed: false };
    this.exitExpected = true;
    this.processState = "stopping";
    this.signal(mode === "fast" ? "SIGINT" : "SIGQUIT");
    if ((await this.waitForExit(timeoutMs)) !== null) return { killed: false };
    this.config.logger.warn({ pid, mode, timeoutMs }, "the postmaster did not stop in time: killing its process group");
    killGroupOrProcess(pid);
    const exit = await this.waitForExit(KILLED_EXIT_WAIT_MS);
    assert(exit !== null || this.currentPid === null, () => `postmaster ${pid} survived SIGKILL`);
    return { killed: true };
  }

  /** The server log from `offset` on, last `lines` lines. */
  logTail(offset: number, lines: number): string[] {
    return readLogTail(this.config.logFile, offset, lines);
  }

  /**
   * Forgets the postmaster without stopping it (the agent is shutting down and a later agent
   * process adopts it): no more exit reports, no more polling.
   */
  detach(): void {
    this.detached = true;
    this.stopPolling();
    this.child?.unref();
  }

  private stopPolling(): void {
    if (this.adoptedTimer !== null) clearInterval(this.adoptedTimer);
    this.adoptedTimer = null;
  }

  private pollAdopted(pid: number): void {
    if (isAlive(pid)) return;
    this.handleExit({ pid, code: null, signal: null });
  }

  private handleExit(exit: PostmasterExit): void {
    if (exit.pid !== this.currentPid) return;
    this.stopPolling();
    this.child = null;
    this.currentPid = null;
    this.previousExit = exit;
    const expected = this.exitExpected;
    this.exitExpected = false;
    this.processState = expected ? "stopped" : "crashed";
    // Backends notice the postmaster's death on their own, but not at once; they hold the
    // shared memory that a new postmaster checks, so they go now.
    signalGroup(exit.pid, "SIGKILL");
    for (const waiter of [...this.exitWaiters]) waiter(exit);
    this.exitWaiters.clear();
    if (!expected && !this.detached) {
      this.config.logger.error({ ...exit }, "the postmaster exited without being asked to");
      this.onUnexpectedExit(exit);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2) === "Z";
  } catch {
    return false;
  }
}

function killGroupOrProcess(pid: number): void {
  if (!signalGroup(pid, "SIGKILL")) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function lockFilePid(dataDir: string): number | null {
  try {
    const first = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n", 1)[0] ?? "";
    const pid = Number(first.trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a live process whose working directory is `dataDir`. */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  try {
    return isAlive(pid) && readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dataDir);
  } catch {
    return false;
  }
}

/** The pid of a postmaster running on `dataDir` (from postmaster.pid), or null. */
export function runningPostmasterPid(dataDir: string): number | null {
  const pid = lockFilePid(dataDir);
  return pid !== null && isPostmasterOf(pid, dataDir) ? pid : null;
}

/**
 * PostgreSQL removes a stale postmaster.pid itself when its pid is gone, but not when the pid is
 * a zombie (kill(pid, 0) succeeds on one) — a killed postmaster whose parent has not reaped it
 * yet — nor when the pid was reused by another process. Those two are removed here.
 */
export function removeStaleLockFile(dataDir: string, logger: Logger): void {
  const pid = lockFilePid(dataDir);
  if (pid === null || !isAlive(pid)) return;
  const zombie = isZombie(pid);
  if (!zombie && isPostmasterOf(pid, dataDir)) return;
  logger.warn({ pid }, zombie ? "removing postmaster.pid: its postmaster is dead (a zombie not yet reaped)" : "removing postmaster.pid: its pid now belongs to another process");
  try {
    unlinkSync(join(dataDir, "postmaster.pid"));
  } catch {
    // Gone already.
  }
}

/** Moves a large log aside; returns the size of the log before this start. */
function prepareLogFile(logFile: string): number {
  try {
    const size = statSync(logFile).size;
    if (size <= SERVER_LOG_BYTES_MAX) return size;
    renameSync(logFile, `${logFile}.1`);
    return 0;
  } catch {
    return 0;
  }
}

export function readLogTail(logFile: string, offset: number, lines: number): string[] {
  let fd: number | null = null;
  try {
    fd = openSync(logFile, "r");
    const size = statSync(logFile).size;
    const from = Math.max(offset, size - SERVER_LOG_TAIL_BYTES, 0);
    const buffer = Buffer.alloc(Math.max(0, size - from));
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString("utf8").split("\n").filter((l) => l.trim() !== "").slice(-lines);
  } catch {
    return [];
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
