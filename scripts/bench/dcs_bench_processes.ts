/**
 * The processes and temporary directories of bench:dcs: every child and directory is registered,
 * so a guard can remove them whatever happens; a part runs under its own time limit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { whenReady } from "../../lab/sockets.js";
import type { DcsNodeSpec } from "./dcs_bench_node.js";
import { EXT, HERE, NODE_ARGS } from "./raft_bench_cluster.js";

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Removes a temporary directory now (it was registered by tempDir). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export function killChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // It exited meanwhile.
      }
    }
  }
  children.clear();
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export function abort(reason: string): never {
  process.stderr.write(`bench:dcs ${reason}; stopping\n`);
  killChildren();
  removeTempDirs();
  process.exit(2);
}

/** Runs a part under its own time limit: past it, everything is killed and the bench exits 2. */
export async function bounded<T>(part: string, limitMs: number, run: () => Promise<T>): Promise<T> {
  const guard = setTimeout(() => abort(`${part} took longer than ${limitMs / 1000} s`), limitMs);
  try {
    return await run();
  } finally {
    clearTimeout(guard);
  }
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function spawnScript(script: string, arg: unknown, extraArgs: readonly string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, ...extraArgs, join(HERE, `${script}${EXT}`), JSON.stringify(arg)], { stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

export const nodeArgs = (): string[] => (process.env["DCS_BENCH_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");

/** Calls `onLine` for every line the child prints; resolves with its exit code. */
export function readLines(child: ChildProcess, onLine: (line: string) => void): Promise<number | null> {
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}



/** Starts one DCS node process and resolves once it listens. */
export function startNode(spec: DcsNodeSpec): Promise<ChildProcess> {
  return whenReady(spawnScript("dcs_bench_node", spec, nodeArgs()), `node ${spec.id}`);
}
