/**
 * The watchdog process: a small separate OS process that kills the local PostgreSQL's process
 * group when the agent does not re-arm it before the deadline, or at once when the agent dies
 * while armed. It has its own event loop and timers, so a frozen agent (SIGSTOP, a long GC pause,
 * a hung disk) cannot stop it. See watchdog.ts for the agent's side, watchdog_protocol.ts for the
 * messages.
 *
 *   node dist/src/ha/io/watchdog_process.js          (stdin: commands, stdout: events, stderr: log)
 *   node --import tsx src/ha/io/watchdog_process.ts
 *
 * After a kill it confirms in /proc that the group is gone (zombies count as gone), and only then
 * sends the signed fence report to the other members, so they can release the lease early. An
 * unconfirmed kill is not reported: the lease must then run out its ttl. With a /dev/watchdog
 * device configured, each arm is a keepalive and a disarm a magic close; an unconfirmed kill keeps
 * the device open without keepalives, so the machine resets as the last resort.
 */
import { accessSync, closeSync, constants, openSync, statSync, writeSync } from "node:fs";
import * as E from "fp-ts/lib/Either.js";
import { assert, assertNever } from "../../lib/assert.js";
import { jsonLogger } from "../../lib/json_logger.js";
import type { Logger } from "../../lib/logger.js";
import { encodeFenceReport, type FenceExtra, type FenceReason, type FenceReport, sendFenceReport } from "./fence_report.js";
import { readProcStat, waitProcessGroupGone } from "./proc_group.js";
import {
  DEADLINE_DISTANCE_NS_MAX,
  decodeCommand,
  encodeMessage,
  LineSplitter,
  type WatchdogCommand,
  type WatchdogEvent,
} from "./watchdog_protocol.js";

/**
 * The deadline has its own timer; this periodic check, while armed, is the safety net against
 * timer oddities. The deadline is the lease's minus the watchdog margin (1 s by default), so a
 * check this often fires well within the margin, at a few wakeups a second (issue 13: an idle
 * watchdog ≤ 0.3 % of a core).
 */
export const CHECK_INTERVAL_MS = 200;
/** A process never configured by its agent exits: the agent is broken or gone. */
export const CONFIGURE_TIMEOUT_MS = 10_000;
/** Exiting waits this long for the last events to reach the agent. */
const EXIT_FLUSH_MS = 500;
/** Exit code after a bug in the watchdog itself (EX_SOFTWARE). */
const EXIT_BUG = 70;

interface Armed {
  readonly processGroup: number;
  readonly deadlineNs: bigint;
  readonly report: FenceReport;
  /**
   * The group leader's (postmaster's) start time when first armed, or null if it had already
   * exited: at the kill, a leader with another start time means the PID was reused by an
   * unrelated process since, and that group is not ours to kill.
   */
  readonly leaderStartTicks: number | null;
}

/**
 * SIGKILL to the whole group, unless its leader's PID now names another process. Says what
 * happened: "signalled", "reused", or the errno (ESRCH: nothing left; EPERM: not ours).
 */
function killGroup(armed: Armed): string {
  const leader = readProcStat(armed.processGroup);
  if (armed.leaderStartTicks !== null && leader !== null && leader.startTicks !== armed.leaderStartTicks) return "reused";
  try {
    process.kill(-armed.processGroup, "SIGKILL");
    return "signalled";
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/** Linux's /dev/watchdog API (Documentation/watchdog/watchdog-api.rst): any write pings, "V" then close stops. */
class WatchdogDevice {
  private fd: number | null = null;

  private constructor(readonly path: string) {}

  /** Checked at configure time, without opening: opening starts the hardware timer. */
  static check(path: string): E.Either<string, WatchdogDevice> {
    try {
      if (!statSync(path).isCharacterDevice()) return E.left(`watchdog device ${path} is not a character device`);
      accessSync(path, constants.W_OK);
    } catch (error: unknown) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return E.left(`watchdog device ${path} does not exist (is the watchdog driver loaded? softdog works)`);
      if (code === "EACCES") return E.left(`watchdog device ${path} is not writable by this user`);
      return E.left(`watchdog device ${path} cannot be used: ${error instanceof Error ? error.message : String(error)}`);
    }
    return E.right(new WatchdogDevice(path));
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  keepalive(): E.Either<string, void> {
    try {
      this.fd ??= openSync(this.path, "w");
      writeSync(this.fd, ".");
      return E.right(undefined);
    } catch (error: unknown) {
      return E.left(`keepalive to ${this.path} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  release(): E.Either<string, void> {
    if (this.fd === null) return E.right(undefined);
    const fd = this.fd;
    this.fd = null;
    try {
      writeSync(fd, "V");
      closeSync(fd);
      return E.right(undefined);
    } catch (error: unknown) {
      return E.left(`magic close of ${this.path} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

export class WatchdogProcess {
  private secret = "";
  private targets: readonly string[] = [];
  private device: WatchdogDevice | null = null;
  /** Groups never to kill: this process's own and the agent's. */
  private protectedGroups: readonly number[] = [];
  private armed: Armed | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly fences = new Set<Promise<void>>();
  private configured = false;
  private exiting = false;
  /** After a kill that /proc did not confirm, the device is left to reset the machine. */
  private unconfirmedKill = false;

  constructor(
    private readonly logger: Logger,
    private readonly emit: (event: WatchdogEvent) => void,
    private readonly exit: (code: number) => void,
  ) {}

  get isArmed(): boolean {
    return this.armed !== null;
  }

  get isConfigured(): boolean {
    return this.configured;
  }

  /** One line from the agent. */
  line(text: string): void {
    const decoded = decodeCommand(text);
    if (E.isLeft(decoded)) {
      this.logger.error({ detail: decoded.left }, `ignoring a command from the agent: ${decoded.left}`);
      this.emit({ type: "invalid", detail: decoded.left });
      return;
    }
    const command = decoded.right;
    if (this.exiting) {
      this.logger.warn({ command: command.type }, `ignoring ${command.type}: the watchdog is exiting`);
      return;
    }
    if (!this.configured && command.type !== "configure") {
      this.refuseCommand(`${command.type} before configure`);
      return;
    }
    this.handle(command);
  }

  private refuseCommand(detail: string): void {
    this.logger.error({ detail }, `ignoring a command from the agent: ${detail}`);
    this.emit({ type: "invalid", detail });
  }

  private handle(command: WatchdogCommand): void {
    switch (command.type) {
      case "configure": return this.configure(command.secret, command.targets, command.devicePath);
      case "arm": return this.arm(command);
      case "disarm": return this.disarm("the agent disarmed it");
      case "targets":
        this.targets = command.urls;
        this.logger.info({ targets: this.targets }, `report targets are now ${this.targets.join(", ") || "none"}`);
        return;
      case "stop":
        this.disarm("the agent stops it");
        this.exitWhenIdle("the agent stopped the watchdog");
        return;
      default:
        return assertNever(command, "watchdog command");
    }
  }

  private configure(secret: string, targets: readonly string[], devicePath: string | null): void {
    if (this.configured) return this.refuseCommand("configure a second time");
    if (devicePath !== null) {
      const device = WatchdogDevice.check(devicePath);
      if (E.isLeft(device)) {
        this.logger.error({ devicePath }, `cannot start: ${device.left}`);
        this.emit({ type: "refused", detail: device.left });
        this.exitWhenIdle("configuration refused", 1);
        return;
      }
      this.device = device.right;
    }
    const own = readProcStat(process.pid)?.processGroup;
    const agent = readProcStat(process.ppid)?.processGroup;
    this.protectedGroups = [own, agent].filter((g): g is number => g !== undefined);
    this.secret = secret;
    this.targets = targets;
    this.configured = true;
    this.logger.info({ targets, devicePath, protectedGroups: this.protectedGroups }, "watchdog ready (disarmed)");
    this.emit({ type: "ready", pid: process.pid });
  }

  private arm(command: Extract<WatchdogCommand, { type: "arm" }>): void {
    if (this.protectedGroups.includes(command.processGroup)) {
      return this.refuseCommand(`arm: process group ${command.processGroup} is the watchdog's or the agent's own`);
    }
    const nowNs = process.hrtime.bigint();
    if (command.deadlineNs - nowNs > DEADLINE_DISTANCE_NS_MAX) {
      const awayMs = (command.deadlineNs - nowNs) / 1_000_000n;
      return this.refuseCommand(`arm: the deadline is ${awayMs} ms away, more than ${DEADLINE_DISTANCE_NS_MAX / 1_000_000n} ms`);
    }
    const first = this.armed === null || this.armed.processGroup !== command.processGroup;
    const leaderStartTicks = first ? (readProcStat(command.processGroup)?.startTicks ?? null) : this.armed!.leaderStartTicks;
    this.armed = { processGroup: command.processGroup, deadlineNs: command.deadlineNs, report: command.report, leaderStartTicks };
    if (this.device !== null) {
      const kept = this.device.keepalive();
      if (E.isLeft(kept)) this.logger.error({ devicePath: this.device.path }, kept.left);
    }
    const inMs = Number(command.deadlineNs - nowNs) / 1e6;
    const fields = { processGroup: command.processGroup, deadlineInMs: inMs, ...command.report };
    const message = `armed: process group ${command.processGroup} is killed unless re-armed within ${inMs.toFixed(1)} ms`;
    if (first) this.logger.info(fields, message);
    else this.logger.debug(fields, "re-armed");
    this.checkTimer ??= setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.check();
  }

  private disarm(why: string): void {
    this.clearTimers();
    if (this.armed !== null) this.logger.info({ processGroup: this.armed.processGroup }, `disarmed: ${why}`);
    this.armed = null;
    this.releaseDevice();
  }

  private releaseDevice(): void {
    if (this.device === null || !this.device.isOpen || this.armed !== null || this.unconfirmedKill) return;
    const released = this.device.release();
    if (E.isLeft(released)) this.logger.error({ devicePath: this.device.path }, released.left);
  }

  private clearTimers(): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    if (this.checkTimer !== null) clearInterval(this.checkTimer);
    this.deadlineTimer = null;
    this.checkTimer = null;
  }

  /** Fires when the deadline passed; otherwise (re)sets the timer to the deadline. */
  private check(): void {
    if (this.armed === null) return;
    const remainingNs = this.armed.deadlineNs - process.hrtime.bigint();
    if (remainingNs <= 0n) return this.fire("deadline");
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    // Timers run on the event loop's millisecond clock and may wake a fraction of a millisecond
    // early; the check then finds time remaining and sets the timer again.
    this.deadlineTimer = setTimeout(() => this.check(), Math.ceil(Number(remainingNs) / 1e6));
  }

  /** The agent's pipe closed: it exited or was killed. An orphaned primary must stop at once. */
  agentGone(): void {
    if (this.armed !== null) {
      this.logger.warn({ processGroup: this.armed.processGroup }, "the agent exited while the watchdog was armed: fencing now");
      this.fire("agent exited");
    }
    this.exitWhenIdle("the agent's pipe closed");
  }

  private fire(reason: FenceReason): void {
    const armed = this.armed;
    assert(armed !== null, "fire() only when armed");
    this.clearTimers();
    this.armed = null;
    const signalled = killGroup(armed);
    const lateMs = Number(process.hrtime.bigint() - armed.deadlineNs) / 1e6;
    const firedAtMs = Date.now();
    const group = armed.processGroup;
    this.logger.warn(
      { processGroup: group, reason, lateMs, signalled, ...armed.report },
      `fired (${reason}): SIGKILL to process group ${group} `
        + `${Math.abs(lateMs).toFixed(1)} ms ${lateMs >= 0 ? "after" : "before"} its deadline: ${signalled}`,
    );
    const fence = this.confirmAndReport(armed, reason, lateMs, firedAtMs, signalled !== "reused");
    this.fences.add(fence);
    void fence.finally(() => this.fences.delete(fence));
  }

  private async confirmAndReport(
    armed: Armed,
    reason: FenceReason,
    lateMs: number,
    firedAtMs: number,
    ours: boolean,
  ): Promise<void> {
    const group = armed.processGroup;
    const confirmation = ours ? await waitProcessGroupGone(group) : { gone: false, waitedMs: 0, alive: [], zombies: [] };
    const { gone, waitedMs, alive, zombies } = confirmation;
    const fields = { processGroup: group, confirmMs: waitedMs, alive, zombies };
    if (!ours) {
      this.logger.error(fields, `not killing process group ${group}: its leader's PID now names another process `
        + "(the PostgreSQL this guarded had exited); not reporting it fenced, the lease must expire");
    } else if (gone) {
      this.logger.warn(fields, `confirmed: process group ${group} is gone after ${waitedMs.toFixed(1)} ms (${zombies.length} zombies)`);
      this.releaseDevice();
    } else {
      this.unconfirmedKill = true;
      this.logger.error(fields, `could not confirm that process group ${group} is gone after ${waitedMs.toFixed(0)} ms: `
        + `still alive ${alive.join(", ")}; not reporting it fenced, the lease must expire`);
    }
    this.emit({ type: "fired", processGroup: group, reason, lateMs, confirmed: gone, confirmMs: waitedMs, alive });
    if (gone) await this.report(armed, { processGroup: group, firedAtMs, reason });
  }

  /** To every target at once; each is bounded (fence_report.ts), so this ends within ~3 s. */
  private async report(armed: Armed, extra: FenceExtra): Promise<void> {
    const { body, signature } = encodeFenceReport(armed.report, extra, this.secret);
    const { member, generation } = armed.report;
    await Promise.all(this.targets.map(async (target) => {
      const outcome = await sendFenceReport(target, body, signature, this.logger);
      const fields = { ...outcome, ...armed.report };
      const line = `the fence of ${member} (generation ${generation}) to ${target}: ${outcome.detail} after ${outcome.attempts} attempts`;
      // 409: that member had nothing to release (another member relayed the report first).
      if (outcome.ok || outcome.detail === "HTTP 409") this.logger.info(fields, `reported ${line}`);
      else this.logger.error(fields, `could not report ${line}`);
      this.emit({ type: "reported", ...outcome });
    }));
  }

  /** Exits once the fences in flight (confirmation and reports, bounded) are done. */
  exitWhenIdle(why: string, code = 0): void {
    if (this.exiting) return;
    this.exiting = true;
    void (async () => {
      while (this.fences.size > 0) await Promise.all([...this.fences]);
      if (this.armed !== null) this.disarm("exiting");
      this.clearTimers();
      this.releaseDevice();
      this.logger.info({ code }, `exiting: ${why}`);
      this.exit(code);
    })();
  }

  /** After a bug here: a watchdog that can no longer guard kills what it guards (fail safe). */
  failSafe(error: unknown): void {
    const group = this.armed?.processGroup;
    const stack = error instanceof Error ? error.stack : String(error);
    this.logger.error({ error: stack, processGroup: group }, "watchdog bug: killing the armed process group (if any) and exiting");
    if (group !== undefined) {
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        // Already gone or not ours: exiting is all that is left.
      }
    }
    this.exit(EXIT_BUG);
  }
}

function main(): void {
  // The watchdog shares the agent's stderr. A broken one (its reader gone) must cost a log line,
  // never the watchdog: write errors are dropped.
  process.stderr.on("error", () => {});
  const logger: Logger = jsonLogger({ write: (line) => void process.stderr.write(line), now: Date.now, base: { role: "watchdog", pid: process.pid } });
  let agentReachable = true;
  const exit = (code: number): void => {
    // The last events to the agent get EXIT_FLUSH_MS to leave; then the process exits regardless.
    const done = (): void => process.exit(code);
    setTimeout(done, EXIT_FLUSH_MS);
    if (agentReachable) process.stdout.write("", done);
    else done();
  };
  const emit = (event: WatchdogEvent): void => {
    if (agentReachable) process.stdout.write(encodeMessage(event));
  };
  const watchdog = new WatchdogProcess(logger, emit, exit);
  process.on("uncaughtException", (error) => watchdog.failSafe(error));
  process.on("unhandledRejection", (error) => watchdog.failSafe(error));
  process.stdout.on("error", (error) => {
    agentReachable = false;
    logger.warn({ error: error.message }, "the agent no longer reads events");
  });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (!watchdog.isArmed) return watchdog.exitWhenIdle(`${signal}`);
      logger.warn({ signal }, `ignoring ${signal} while armed: the watchdog exits when its agent stops it or exits`);
    });
  }
  const splitter = new LineSplitter();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    const { lines, overflow } = splitter.push(chunk);
    if (overflow) logger.error({}, "ignoring an over-long line from the agent");
    for (const line of lines) watchdog.line(line);
  });
  process.stdin.on("end", () => watchdog.agentGone());
  process.stdin.on("error", () => watchdog.agentGone());
  setTimeout(() => {
    if (!watchdog.isConfigured) watchdog.exitWhenIdle(`not configured within ${CONFIGURE_TIMEOUT_MS} ms`, 1);
  }, CONFIGURE_TIMEOUT_MS).unref();
}

if (import.meta.url === `file://${process.argv[1]}`) main();
