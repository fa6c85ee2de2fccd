/**
 * The agent's side of the watchdog (Patroni's /dev/watchdog, as a separate process): while this
 * node's PostgreSQL is primary, every lease renewal re-arms the watchdog with a deadline before
 * the lease can expire. If the agent freezes and misses the deadline, or dies, the watchdog
 * process kills PostgreSQL's process group, so it stops taking writes before another member can
 * be promoted. The process is watchdog_process.ts; the messages are watchdog_protocol.ts.
 *
 * Every call is a non-blocking write to the process's stdin. The process is started in its own
 * session (detached), so a signal to the agent's process group (a terminal's Ctrl-C) does not
 * take the watchdog down with the agent: it sees its stdin close instead, and fences.
 *
 * Deadlines are CLOCK_MONOTONIC nanoseconds, `process.hrtime.bigint()`, and are compared in
 * another process: that is sound because on Linux that clock is one system-wide clock (the time
 * since boot, not counting suspend), the same in every process. Evidence, for Node 20.20.2 with
 * libuv 1.46.0 on Linux 6.18: `process.hrtime.bigint()` calls `uv_hrtime()` (Node's
 * src/node_process_methods.cc), which calls `uv__hrtime(UV_CLOCK_PRECISE)` and thus
 * `clock_gettime(CLOCK_MONOTONIC)` (libuv src/unix/linux.c); under gdb, a breakpoint on
 * clock_gettime reached from uv__hrtime (linux.c:1572) showed clock_id=1, i.e. CLOCK_MONOTONIC.
 * Values read alternately by python3 `time.clock_gettime_ns(time.CLOCK_MONOTONIC)` and by
 * separate node processes interleave in order, and the tests arm from one process and check the
 * deadline in another.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { assert, assertNever } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { checkFenceReport, checkReportTargets, type FenceReport } from "./fence_report.js";
import {
  DEADLINE_DISTANCE_NS_MAX,
  decodeEvent,
  encodeMessage,
  LineSplitter,
  type WatchdogCommand,
  type WatchdogEvent,
} from "./watchdog_protocol.js";

/** Starting node (and tsx in development) and answering configure. */
export const WATCHDOG_START_TIMEOUT_MS = 10_000;
/** stop() waits this long: a fence in flight may still be reporting (about 3 s at most). */
export const WATCHDOG_STOP_TIMEOUT_MS = 5_000;
/** Commands not yet taken by the process; more means it stopped reading. */
export const WATCHDOG_PENDING_BYTES_MAX = 1024 * 1024;

const HERE = dirname(fileURLToPath(import.meta.url));
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
/**
 * The watchdog runs in V8's lite mode (no optimizing compiler): it does little, rarely, and its
 * memory is what matters — about 9 MB less of compiled code (issue 13). Tests run it from source.
 */
export const WATCHDOG_NODE_FLAGS: readonly string[] = ["--lite-mode", "--max-semi-space-size=1"];
const NODE_ARGS = [...WATCHDOG_NODE_FLAGS, ...(EXT === ".ts" ? ["--import", "tsx"] : [])];
export const WATCHDOG_PROCESS_SCRIPT = join(HERE, `watchdog_process${EXT}`);

export interface WatchdogOptions {
  readonly logger: Logger;
  /** The cluster's shared secret: it signs the fence reports. */
  readonly secret: string;
  /** Base URLs of the other members' agent APIs; the report goes to `${url}/internal/fenced`. */
  readonly reportTargets?: readonly string[];
  /** A Linux watchdog device such as /dev/watchdog; none by default. */
  readonly devicePath?: string;
}

export interface WatchdogArm {
  /** PostgreSQL's process group: the postmaster's PID (it leads its group). */
  readonly processGroup: number;
  /** CLOCK_MONOTONIC nanoseconds (`process.hrtime.bigint()`), before the lease can expire. */
  readonly deadlineNs: bigint;
  readonly report: FenceReport;
}

export type WatchdogFired = Extract<WatchdogEvent, { type: "fired" }>;
export type WatchdogReported = Extract<WatchdogEvent, { type: "reported" }>;

export interface WatchdogExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** False when the process ended without stop(): the primary is unguarded from then on. */
  readonly expected: boolean;
}

export class Watchdog {
  private readonly firedListeners = new Set<(fired: WatchdogFired) => void>();
  private readonly reportedListeners = new Set<(reported: WatchdogReported) => void>();
  private readonly exitListeners = new Set<(exit: WatchdogExit) => void>();
  private exited: WatchdogExit | null = null;
  private stopping = false;
  private readonly exitPromise: Promise<WatchdogExit>;

  private constructor(private readonly child: ChildProcess, private readonly logger: Logger) {
    this.exitPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exited = { code, signal, expected: this.stopping };
        if (!this.stopping) {
          this.logger.error({ code, signal }, `the watchdog process exited unexpectedly (code ${code}, signal ${signal}): `
            + "PostgreSQL is not guarded");
        }
        for (const listener of this.exitListeners) listener(this.exited);
        resolve(this.exited);
      });
    });
    child.stdin!.on("error", (error) => this.logger.warn({ error: error.message }, "cannot write to the watchdog process"));
  }

  /** Spawns the process and resolves once it answered ready; Left says why it could not start. */
  static async start(options: WatchdogOptions): Promise<E.Either<string, Watchdog>> {
    assert(options.secret.length > 0, "the watchdog needs the shared secret");
    const targets = checkReportTargets(options.reportTargets ?? []);
    if (E.isLeft(targets)) return E.left(`watchdog: ${targets.left}`);
    const logger = options.logger.child({ component: "watchdog" });
    const child = spawn(process.execPath, [...NODE_ARGS, WATCHDOG_PROCESS_SCRIPT], {
      stdio: ["pipe", "pipe", "inherit"],
      detached: true,
    });
    const watchdog = new Watchdog(child, logger);
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<E.Either<string, number>>((resolve) => {
      const late = `the watchdog process did not answer in ${WATCHDOG_START_TIMEOUT_MS} ms`;
      timer = setTimeout(() => resolve(E.left(late)), WATCHDOG_START_TIMEOUT_MS);
      watchdog.readEvents((event) => {
        if (event.type === "ready") resolve(E.right(event.pid));
        if (event.type === "refused") resolve(E.left(event.detail));
      });
      child.once("error", (error) => resolve(E.left(`cannot start the watchdog process: ${error.message}`)));
      void watchdog.exitPromise.then((exit) => {
        resolve(E.left(`the watchdog process exited while starting (code ${exit.code}, signal ${exit.signal})`));
      });
    });
    watchdog.send({ type: "configure", secret: options.secret, targets: targets.right, devicePath: options.devicePath ?? null });
    const started = await answer;
    clearTimeout(timer);
    if (E.isLeft(started)) {
      await watchdog.stop();
      return E.left(`watchdog: ${started.left}`);
    }
    logger.info({ pid: started.right, targets: targets.right, devicePath: options.devicePath ?? null }, "watchdog process ready");
    return E.right(watchdog);
  }

  get pid(): number {
    assert(this.child.pid !== undefined, "the watchdog process has a PID once started");
    return this.child.pid;
  }

  /**
   * Kill `processGroup` unless re-armed before `deadlineNs`; each lease renewal calls it again
   * with a later deadline. Left when the process can no longer guard (it exited or stopped
   * reading): the caller must not keep a primary running on the lease.
   */
  arm(arm: WatchdogArm): E.Either<string, void> {
    assert(Number.isSafeInteger(arm.processGroup) && arm.processGroup > 1, `invalid process group ${arm.processGroup}`);
    assert(arm.processGroup !== process.pid, "the agent's own PID is not PostgreSQL's process group");
    const distanceNs = arm.deadlineNs - process.hrtime.bigint();
    assert(distanceNs <= DEADLINE_DISTANCE_NS_MAX, () => {
      return `a deadline ${distanceNs / 1_000_000n} ms away is more than ${DEADLINE_DISTANCE_NS_MAX / 1_000_000n} ms`;
    });
    const report = checkFenceReport(arm.report);
    assert(E.isRight(report), () => `invalid fence report: ${E.isLeft(report) ? report.left : ""}`);
    assert(!this.stopping, "arm() after stop()");
    return this.send({ type: "arm", processGroup: arm.processGroup, deadlineNs: arm.deadlineNs, report: arm.report });
  }

  /** This node no longer holds the lease, or stopped PostgreSQL itself. */
  disarm(): void {
    if (this.exited === null && !this.stopping) this.send({ type: "disarm" });
  }

  /** The other members' API base URLs, as members change. Left (and nothing changed) if invalid. */
  updateTargets(urls: readonly string[]): E.Either<string, void> {
    const targets = checkReportTargets(urls);
    if (E.isLeft(targets)) return targets;
    return this.send({ type: "targets", urls: targets.right });
  }

  /** The watchdog fired while the agent was alive, only slow (it missed the deadline). */
  onFired(listener: (fired: WatchdogFired) => void): () => void {
    this.firedListeners.add(listener);
    return () => this.firedListeners.delete(listener);
  }

  onReported(listener: (reported: WatchdogReported) => void): () => void {
    this.reportedListeners.add(listener);
    return () => this.reportedListeners.delete(listener);
  }

  onExit(listener: (exit: WatchdogExit) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Graceful: disarms and lets the process exit; kills nothing it guards. */
  async stop(): Promise<WatchdogExit> {
    if (this.exited !== null) return this.exited;
    if (!this.stopping) {
      this.send({ type: "stop" });
      this.stopping = true;
      this.child.stdin!.end();
    }
    const timeout = new Promise<null>((resolve) => setTimeout(resolve, WATCHDOG_STOP_TIMEOUT_MS, null).unref());
    const exit = await Promise.race([this.exitPromise, timeout]);
    if (exit !== null) return exit;
    const pid = this.child.pid;
    this.logger.error({ pid }, `the watchdog process did not exit within ${WATCHDOG_STOP_TIMEOUT_MS} ms of stop: killing it`);
    this.child.kill("SIGKILL");
    return this.exitPromise;
  }

  private send(command: WatchdogCommand): E.Either<string, void> {
    if (this.exited !== null) return E.left(`the watchdog process exited (code ${this.exited.code}, signal ${this.exited.signal})`);
    const stdin = this.child.stdin!;
    if (!stdin.writable) return E.left("the watchdog process's stdin is closed");
    if (stdin.writableLength > WATCHDOG_PENDING_BYTES_MAX) {
      return E.left(`the watchdog process has not read ${stdin.writableLength} bytes of commands`);
    }
    stdin.write(encodeMessage(command));
    return E.right(undefined);
  }

  private readEvents(onStartEvent: (event: WatchdogEvent) => void): void {
    const splitter = new LineSplitter();
    const stdout = this.child.stdout!;
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => {
      const { lines, overflow } = splitter.push(chunk);
      if (overflow) this.logger.error({}, "ignoring an over-long line from the watchdog process");
      for (const line of lines) {
        const event = decodeEvent(line);
        if (E.isLeft(event)) this.logger.error({ detail: event.left }, `ignoring a line from the watchdog process: ${event.left}`);
        else this.dispatch(event.right, onStartEvent);
      }
    });
  }

  private dispatch(event: WatchdogEvent, onStartEvent: (event: WatchdogEvent) => void): void {
    switch (event.type) {
      case "ready":
        return onStartEvent(event);
      case "refused":
        // The process exits after refusing its configuration: that exit is expected.
        this.stopping = true;
        return onStartEvent(event);
      case "fired":
        this.logger.error({ ...event }, `the watchdog fired (${event.reason}): killed process group ${event.processGroup} `
          + `${event.lateMs.toFixed(1)} ms after the deadline${event.confirmed ? "" : ", NOT confirmed gone"}`);
        for (const listener of this.firedListeners) listener(event);
        return;
      case "reported":
        for (const listener of this.reportedListeners) listener(event);
        return;
      case "invalid":
        this.logger.error({ detail: event.detail }, `the watchdog process refused a command: ${event.detail}`);
        return;
      default:
        return assertNever(event, "watchdog event");
    }
  }
}
