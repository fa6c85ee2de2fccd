/**
 * The helper processes of the network layer (the delay proxy, the echo probe) are node scripts
 * run inside a namespace and driven over their stdin/stdout, one JSON object a line: a channel no
 * network fault can cut. This file starts them and talks to them.
 */
import type { ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Topology } from "./topology.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Under tsx (tests) the scripts run from source; from dist (the runner, benchmarks) compiled. */
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const ROOT = FROM_SOURCE ? join(HERE, "..", "..", "..") : join(HERE, "..", "..", "..", "..");

export const READY_TIMEOUT_MS = 15_000;
export const REQUEST_TIMEOUT_MS = 10_000;

type Message = Record<string, unknown>;

/** A node helper process in a namespace, with request/answer matching by `id`. */
export class JsonLinesProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  private stderr = "";
  private exited: string | null = null;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    // A write to a helper that just died must not crash the harness: the exit handler reports it.
    child.stdin?.on("error", () => {});
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    child.once("exit", (code, signal) => {
      this.exited = `exited with ${code ?? signal}${this.stderr === "" ? "" : `: ${this.stderr.trim()}`}`;
      for (const { reject } of this.waiting.values()) reject(new Error(`${name} ${this.exited}`));
      this.waiting.clear();
    });
  }

  /** Starts `script` (a file of this folder, without extension) and waits for {"ready": true}. */
  static async start(
    topology: Topology,
    host: string,
    script: string,
    args: readonly string[],
    name: string,
  ): Promise<JsonLinesProcess> {
    const file = join(HERE, `${script}${FROM_SOURCE ? ".ts" : ".js"}`);
    const nodeArgs = FROM_SOURCE ? ["--import", "tsx"] : [];
    // cwd is the project root so that `--import tsx` resolves from its node_modules.
    const child = topology.spawn(host, process.execPath, [...nodeArgs, file, ...args], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const helper = new JsonLinesProcess(name, child);
    const ready = new Promise<Message>((resolve, reject) => {
      helper.waiting.set(0, { resolve, reject });
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => helper.onLine(line));
    const notReady = new Error(`${name} not ready within ${READY_TIMEOUT_MS} ms`);
    const timer = setTimeout(() => helper.waiting.get(0)?.reject(notReady), READY_TIMEOUT_MS);
    try {
      await ready;
    } catch (error: unknown) {
      child.kill("SIGKILL");
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return helper;
  }

  private onLine(line: string): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return; // Not ours (a warning printed by node): ignored.
    }
    const id = message.ready === true ? 0 : typeof message.ack === "number" ? message.ack : null;
    if (id === null) return;
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (waiter === undefined) return;
    if (typeof message.error === "string") waiter.reject(new Error(`${this.name}: ${message.error}`));
    else waiter.resolve(message);
  }

  /** Sends `request` with a fresh id and resolves with the answer carrying that id. */
  request(request: Message, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Message> {
    if (this.exited !== null) return Promise.reject(new Error(`${this.name} ${this.exited}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name} did not answer ${JSON.stringify(request)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        f(v);
      };
      this.waiting.set(id, { resolve: done(resolve), reject: done(reject) });
      this.child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it exited. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
