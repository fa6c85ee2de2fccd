/**
 * Runs a PostgreSQL program (initdb, pg_basebackup, pg_rewind, pg_controldata) as the OS user,
 * with a timeout, keeping the last lines of its output for the failure message an operator reads.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { assert } from "../lib/assert.js";
import { OUTPUT_LINE_CHARS_MAX, OUTPUT_TAIL_LINES, PROGRAM_KILL_GRACE_MS } from "./constants.js";
import type { OsUser } from "./os_user.js";

export interface ProgramRun {
  /** A program of binDir, e.g. "pg_basebackup". */
  readonly program: string;
  readonly args: readonly string[];
  readonly timeoutMs: number;
  /** Added to the clean environment (passwords go here, never on the command line). */
  readonly env?: Readonly<Record<string, string>>;
  /** Every line of stdout and stderr, as it comes (progress reports). */
  readonly onLine?: (line: string) => void;
}

export interface ProgramOutcome {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** Set when the program could not be started at all. */
  readonly spawnError: string | null;
  /** The last OUTPUT_TAIL_LINES lines of stdout and stderr together. */
  readonly tail: readonly string[];
  /** All of stdout (the programs parsed from stdout print little). */
  readonly stdout: string;
}

/**
 * The environment of every PostgreSQL program: nothing inherited from the agent (a stray PGHOST
 * or PGPASSWORD would change what a program connects to), messages in English (LC_ALL=C: the
 * adapter parses some of them), HOME of the OS user.
 */
export function programEnv(user: OsUser, binDir: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PATH: `${binDir}:/usr/bin:/bin`,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    LC_ALL: "C",
    LANG: "C",
    ...extra,
  };
}

/** The programs the adapter runs from binDir (post_bootstrap's command is the user's own). */
export const PROGRAMS = ["postgres", "initdb", "pg_controldata", "pg_basebackup", "pg_rewind"] as const;

/**
 * The programs of PROGRAMS that `binDir` lacks, or holds but cannot execute. A missing one only
 * shows when it is first needed: without pg_controldata a new cluster's primary never recorded
 * its system id and the cluster waited for it for ever. Debian's /usr/bin, for one, has pg_ctl
 * and psql (pg_wrapper) but none of these.
 */
export function missingPrograms(binDir: string): string[] {
  return PROGRAMS.filter((program) => {
    try {
      accessSync(join(binDir, program), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

export function runProgram(binDir: string, user: OsUser, run: ProgramRun): Promise<ProgramOutcome> {
  assert(run.timeoutMs > 0, "a program runs with a timeout");
  return new Promise((resolve) => {
    const tail = new LineTail(run.onLine);
    let stdout = "";
    let timedOut = false;
    let spawnError: string | null = null;
    const child = spawn(join(binDir, run.program), run.args, {
      cwd: "/",
      env: programEnv(user, binDir, run.env),
      uid: user.uid,
      gid: user.gid,
      // Its own process group: pg_basebackup forks a WAL streamer, a timeout kills both.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      tail.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
    const killGroup = (signal: NodeJS.Signals): void => {
      if (child.pid !== undefined) signalGroup(child.pid, signal);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), PROGRAM_KILL_GRACE_MS).unref();
    }, run.timeoutMs);
    child.on("error", (error) => {
      spawnError = error.message;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      tail.flush();
      resolve({ exitCode: code, signal, timedOut, spawnError, tail: tail.lines(), stdout });
    });
  });
}

export function succeeded(outcome: ProgramOutcome): boolean {
  return outcome.exitCode === 0 && !outcome.timedOut && outcome.spawnError === null;
}

/** "pg_rewind exited with code 1; its last output: …" — for failure messages. */
export function describeOutcome(program: string, outcome: ProgramOutcome, timeoutMs: number): string {
  const how =
    outcome.spawnError !== null
      ? `${program} could not be started: ${outcome.spawnError}`
      : outcome.timedOut
        ? `${program} did not finish within ${timeoutMs} ms and was killed`
        : outcome.signal !== null
          ? `${program} was ended by ${outcome.signal}`
          : `${program} exited with code ${outcome.exitCode}`;
  return `${how}${quoteLines(outcome.tail)}`;
}

/** Lines quoted under a message, indented; nothing when there are none. */
export function quoteLines(lines: readonly string[]): string {
  return lines.length === 0 ? " (it printed nothing)" : `; last output:\n${lines.map((l) => `    ${l}`).join("\n")}`;
}

/** Sends a signal to a process group; false when the group is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Splits output into lines (on \n and on the \r of progress reports) and keeps the last ones. */
class LineTail {
  private readonly kept: string[] = [];
  private partial = "";

  constructor(private readonly onLine: ((line: string) => void) | undefined) {}

  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString("utf8")).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? "";
    for (const line of parts) this.add(line);
  }

  flush(): void {
    if (this.partial !== "") this.add(this.partial);
    this.partial = "";
  }

  lines(): readonly string[] {
    return [...this.kept];
  }

  private add(raw: string): void {
    const line = raw.length > OUTPUT_LINE_CHARS_MAX ? `${raw.slice(0, OUTPUT_LINE_CHARS_MAX)}…` : raw;
    if (line.trim() === "") return;
    this.onLine?.(line);
    this.kept.push(line);
    if (this.kept.length > OUTPUT_TAIL_LINES) this.kept.shift();
  }
}
