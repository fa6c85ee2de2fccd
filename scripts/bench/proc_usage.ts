/**
 * What a process costs, read from /proc: CPU seconds of all its threads (schedstat, nanosecond
 * run times, far finer than the 10 ms ticks of /proc/<pid>/stat) and its resident memory (RSS and
 * PSS); and its children. NaN when the process is gone.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcessUsage {
  readonly cpuSeconds: number;
  readonly rssMb: number;
  /**
   * Proportional set size: each shared page counted once across the processes that map it
   * (the node binary's code, shared by an agent and its watchdog, is most of a Node.js RSS).
   */
  readonly pssMb: number;
}

export function processUsage(pid: number): ProcessUsage {
  try {
    let runNs = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) runNs += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
    const pssKb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? NaN);
    return { cpuSeconds: runNs / 1e9, rssMb: rssKb / 1024, pssMb: pssKb / 1024 };
  } catch {
    return { cpuSeconds: NaN, rssMb: NaN, pssMb: NaN };
  }
}

/** The PIDs of a process's children (every thread's), with their command lines. */
export function childProcesses(pid: number): { pid: number; command: string }[] {
  const children: { pid: number; command: string }[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter((p) => p !== "")) {
        const command = readFileSync(`/proc/${child}/cmdline`, "utf8").replace(/\0/g, " ").trim();
        children.push({ pid: Number(child), command });
      }
    }
  } catch {
    // The process or a child exited meanwhile: what was read is returned.
  }
  return children;
}
