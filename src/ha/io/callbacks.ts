/**
 * Patroni's callbacks (postgresql.callbacks: on_start, on_stop, on_restart, on_reload,
 * on_role_change): a script run with three arguments — action, role, scope — when that happens,
 * e.g. to move a virtual IP. They never block the HA loop: each runs in the background with a
 * time limit, and a new event of the same action replaces a callback still running (as Patroni's
 * CallbackExecutor does). The command is run by /bin/sh, so it may carry its own arguments.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "../../lib/logger.js";

export const CALLBACK_ACTIONS = ["on_start", "on_stop", "on_restart", "on_reload", "on_role_change"] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

export type Callbacks = Readonly<Partial<Record<CallbackAction, string>>>;

/** A callback still running after this long is killed. */
export const CALLBACK_TIMEOUT_MS = 30_000;

export class CallbackRunner {
  private readonly running = new Map<CallbackAction, ChildProcess>();

  constructor(private callbacks: Callbacks, private readonly scope: string, private readonly logger: Logger) {}

  update(callbacks: Callbacks): void {
    this.callbacks = callbacks;
  }

  /** Starts the callback of `action`, if one is configured; returns at once. */
  fire(action: CallbackAction, role: string): void {
    const command = this.callbacks[action];
    if (command === undefined) return;
    const previous = this.running.get(action);
    if (previous !== undefined && previous.exitCode === null && previous.signalCode === null) {
      this.logger.warn({ action, pid: previous.pid }, `killing the previous ${action} callback: a new ${action} event replaces it`);
      previous.kill("SIGKILL");
    }
    const child = spawn("/bin/sh", ["-c", `${command} "$@"`, "raftgres-callback", action, role, this.scope], { stdio: ["ignore", "ignore", "pipe"], detached: false });
    this.running.set(action, child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const timer = setTimeout(() => {
      this.logger.warn({ action, pid: child.pid }, `the ${action} callback ran longer than ${CALLBACK_TIMEOUT_MS / 1000} s: killing it`);
      child.kill("SIGKILL");
    }, CALLBACK_TIMEOUT_MS);
    timer.unref();
    child.once("error", (error) => this.logger.warn({ action, command }, `the ${action} callback could not start: ${error.message}`));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (this.running.get(action) === child) this.running.delete(action);
      if (code === 0) this.logger.info({ action, role }, `the ${action} callback succeeded`);
      else this.logger.warn({ action, role, code, signal, stderr: stderr.trim() }, `the ${action} callback failed (${signal ?? `exit code ${code}`})`);
    });
  }

  /** Kills callbacks still running (at agent stop). */
  stop(): void {
    for (const child of this.running.values()) if (child.exitCode === null) child.kill("SIGKILL");
    this.running.clear();
  }
}

/** A pre_promote hook still running after this long counts as failed. */
export const PRE_PROMOTE_TIMEOUT_MS = 30_000;

/**
 * Patroni's pre_promote: a fencing command run after this member took the lease and before it
 * promotes; a failure (non-zero exit, a signal, the time limit) cancels the promotion.
 */
export function runPrePromote(command: string, timeoutMs: number = PRE_PROMOTE_TIMEOUT_MS): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve(`pre_promote could not start: ${error.message}`);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(null);
      else resolve(`pre_promote ${signal === "SIGKILL" ? `ran longer than ${timeoutMs / 1000} s` : signal !== null ? `died of ${signal}` : `exited with ${code}`}${stderr.trim() === "" ? "" : `: ${stderr.trim()}`}`);
    });
  });
}
