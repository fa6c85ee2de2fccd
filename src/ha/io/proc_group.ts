/**
 * Linux /proc helpers for the watchdog: which processes are in a process group, and whether the
 * group is gone after a SIGKILL.
 *
 * A process group is "gone" when no process in it can still run code. A zombie (state Z) has
 * exited and only waits for its parent to collect its status: a SIGKILLed postmaster whose parent
 * (a frozen agent) does not reap it stays a zombie, and a zombie takes no writes, so zombies count
 * as gone. So does state X (dead, being removed). See proc(5), /proc/[pid]/stat.
 */
import { readdirSync, readFileSync } from "node:fs";
import { assert } from "../../lib/assert.js";

/** How often the confirmation polls /proc after the kill. */
export const GROUP_POLL_INTERVAL_MS = 10;
/** The longest a confirmation waits for the group to disappear before it reports failure. */
export const GROUP_CONFIRM_TIMEOUT_MS = 2_000;

export interface ProcStat {
  readonly pid: number;
  /** One letter of proc(5): R running, S sleeping, D disk sleep, T stopped, Z zombie, X dead, … */
  readonly state: string;
  readonly parentPid: number;
  readonly processGroup: number;
  /** When the process started, in clock ticks since boot: with the PID, it names one process. */
  readonly startTicks: number;
}

/**
 * Parses /proc/[pid]/stat: "pid (comm) state ppid pgrp …". The command name may hold spaces and
 * parentheses, so the fields after it are found from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open <= 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const fields = text.slice(close + 1).trim().split(" ");
  // Fields 3, 4, 5 and 22 of proc(5), counted from 1 with the PID and the name as 1 and 2.
  const [state, parentPid, processGroup, startTicks] = [fields[0], Number(fields[1]), Number(fields[2]), Number(fields[19])];
  if (!Number.isSafeInteger(pid) || state === undefined || state.length !== 1) return null;
  if (!Number.isSafeInteger(parentPid) || !Number.isSafeInteger(processGroup) || !Number.isSafeInteger(startTicks)) return null;
  return { pid, state, parentPid, processGroup, startTicks };
}

/** The stat of one process, or null when it does not exist (any more). */
export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    // The process exited between the directory listing and the read: it is not there.
    return null;
  }
}

export interface GroupMembers {
  /** Processes of the group that can still run (any state but Z and X). */
  readonly alive: readonly number[];
  /** Processes of the group that have exited and wait to be reaped. */
  readonly zombies: readonly number[];
}

/** Every process of the group `processGroup`, found by scanning /proc. */
export function processGroupMembers(processGroup: number): GroupMembers {
  assert(Number.isSafeInteger(processGroup) && processGroup > 0, `a process group is a positive integer, got ${processGroup}`);
  const alive: number[] = [];
  const zombies: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat === null || stat.processGroup !== processGroup) continue;
    if (stat.state === "Z" || stat.state === "X") zombies.push(stat.pid);
    else alive.push(stat.pid);
  }
  return { alive, zombies };
}

export function isProcessGroupGone(processGroup: number): boolean {
  return processGroupMembers(processGroup).alive.length === 0;
}

export interface GroupConfirmation {
  readonly gone: boolean;
  readonly waitedMs: number;
  /** The processes still alive when the wait ended (empty when gone). */
  readonly alive: readonly number[];
  readonly zombies: readonly number[];
}

/** Polls /proc until the group is gone or `timeoutMs` passed. */
export async function waitProcessGroupGone(
  processGroup: number,
  timeoutMs: number = GROUP_CONFIRM_TIMEOUT_MS,
  pollMs: number = GROUP_POLL_INTERVAL_MS,
): Promise<GroupConfirmation> {
  assert(timeoutMs > 0 && timeoutMs <= GROUP_CONFIRM_TIMEOUT_MS, () => {
    return `confirmation timeout ${timeoutMs} ms is outside 1–${GROUP_CONFIRM_TIMEOUT_MS} ms`;
  });
  assert(pollMs > 0 && pollMs <= timeoutMs, `poll interval ${pollMs} ms must be positive and at most the timeout`);
  const startNs = process.hrtime.bigint();
  for (;;) {
    const members = processGroupMembers(processGroup);
    const waitedMs = Number(process.hrtime.bigint() - startNs) / 1e6;
    if (members.alive.length === 0 || waitedMs >= timeoutMs) {
      return { gone: members.alive.length === 0, waitedMs, alive: members.alive, zombies: members.zombies };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
