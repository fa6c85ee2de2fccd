/**
 * HAProxy 2.6 for the tests and benchmarks that route through it: packaging/haproxy.cfg made
 * local (binds on free 127.0.0.1 ports, each `server pgN` line on node pgN's PostgreSQL and REST
 * ports, the admin socket in a directory of the caller's, optionally other check settings), the
 * process started in the foreground and killed by PID, and the servers' states read back through
 * the runtime API.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { type RuntimeEndpoint, runtimeCommand, showServersStateCommand } from "../src/ha/io/haproxy_runtime.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** lab/ sits beside packaging/ in the checkout, and one level deeper under dist/. */
const ROOT = import.meta.url.endsWith(".ts") ? join(HERE, "..") : join(HERE, "..", "..");
/** Enough for a few thousand connection lines (`option tcplog`) besides the state changes. */
const LOG_KEPT_CHARS = 1_000_000;

export interface HaproxyServer {
  readonly name: string;
  /** Where its PostgreSQL and REST ports listen (default 127.0.0.1; a namespace's address in the bench). */
  readonly host?: string;
  readonly pgPort: number;
  readonly apiPort: number;
}

export interface HaproxyPorts {
  readonly write: number;
  readonly read: number;
  readonly stats: number;
}

export interface LocalConfigOptions {
  /** Where `stats socket … level admin` listens (the packaged file's line is moved there). */
  readonly adminSocket: string;
  /** Replaces every `default-server` line's check settings, e.g. "inter 3s fall 3 rise 2". */
  readonly checks?: string;
}

export function packagedHaproxyConfig(): string {
  return readFileSync(join(ROOT, "packaging", "haproxy.cfg"), "utf8");
}

/** Why haproxy is not usable here (a test skips with it), or null. */
export function haproxyMissing(): string | null {
  try {
    execFileSync("haproxy", ["-v"], { stdio: "ignore" });
    return null;
  } catch {
    return "haproxy is not installed: run scripts/setup.sh (it installs Debian's haproxy 2.6)";
  }
}

/** packaging/haproxy.cfg for servers on 127.0.0.1 or their own hosts (see the file's comment). */
export function localHaproxyConfig(template: string, servers: readonly HaproxyServer[], ports: HaproxyPorts, options: LocalConfigOptions): string {
  const binds: Record<string, number> = { stats: ports.stats, primary: ports.write, replicas: ports.read };
  let section = "";
  let serverLines = 0;
  let sockets = 0;
  const lines = template.split("\n").flatMap((line) => {
    const header = /^(listen|frontend|backend|global|defaults)\b\s*(\S*)/.exec(line);
    if (header !== null) section = header[2] === "" ? header[1]! : header[2]!;
    if (/^\s+(user|group)\s/.test(line)) return [];
    const socket = /^(\s+)stats socket\s+\S+(.*)$/.exec(line);
    if (socket !== null) {
      sockets++;
      return [`${socket[1]}stats socket ${options.adminSocket}${socket[2]!.replace(/\s(mode|group|user)\s+\S+/g, "")}`];
    }
    if (options.checks !== undefined && /^\s+default-server\s/.test(line)) {
      const kept = line.replace(/\s(inter|fall|rise|fastinter|downinter)\s+\S+/g, "");
      return [kept.replace(/default-server/, `default-server ${options.checks}`)];
    }
    const bind = /^(\s+)bind\s+\S+/.exec(line);
    if (bind !== null) {
      const port = binds[section];
      if (port === undefined) throw new Error(`haproxy.cfg: no port for the bind of section ${section}`);
      return [`${bind[1]}bind 127.0.0.1:${port}`];
    }
    const server = /^(\s+)server\s+(\S+)\s+\S+:\d+(.*)\bport\s+\d+(.*)$/.exec(line);
    if (server !== null) {
      const spec = servers.find((s) => s.name === server[2]);
      if (spec === undefined) throw new Error(`haproxy.cfg: server ${server[2]} is none of ${servers.map((s) => s.name).join(", ")}`);
      serverLines++;
      return [`${server[1]}server ${spec.name} ${spec.host ?? "127.0.0.1"}:${spec.pgPort}${server[3]}port ${spec.apiPort}${server[4]}`];
    }
    return [line];
  });
  if (serverLines !== 2 * servers.length) throw new Error(`haproxy.cfg: expected ${2 * servers.length} server lines, found ${serverLines}`);
  if (sockets !== 1) throw new Error(`haproxy.cfg: expected one stats socket line, found ${sockets}`);
  return lines.join("\n");
}

/** HAProxy's operational state of a server (`show servers state`, srv_op_state). */
export type ServerState = "down" | "starting" | "up" | "stopping";
const OP_STATES: readonly ServerState[] = ["down", "starting", "up", "stopping"];

/** Each server of `backend` and its state, read through the admin socket. */
export async function serverStates(endpoint: RuntimeEndpoint, backend: string): Promise<Map<string, ServerState>> {
  const answer = await runtimeCommand(endpoint, showServersStateCommand(backend), { timeoutMs: 2000 }, true);
  if (E.isLeft(answer)) throw new Error(answer.left.message);
  const states = new Map<string, ServerState>();
  for (const line of answer.right.split("\n")) {
    const fields = line.split(" ");
    // be_id be_name srv_id srv_name srv_addr srv_op_state …; the first line is a version, the second a header.
    if (fields.length < 6 || line.startsWith("#") || fields[1] !== backend) continue;
    const state = OP_STATES[Number(fields[5])];
    if (state === undefined) throw new Error(`show servers state: unknown srv_op_state in ${JSON.stringify(line)}`);
    states.set(fields[3]!, state);
  }
  return states;
}

export class HaproxyProcess {
  private log = "";

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on("data", (chunk: Buffer) => this.keep(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.keep(chunk));
  }

  /** Writes `config` to `path`, checks it with `haproxy -c` and starts haproxy in the foreground. */
  static start(path: string, config: string): HaproxyProcess {
    writeFileSync(path, config);
    execFileSync("haproxy", ["-c", "-q", "-f", path], { stdio: ["ignore", "pipe", "pipe"] });
    const haproxy = new HaproxyProcess(spawn("haproxy", ["-f", path, "-db"], { stdio: ["ignore", "pipe", "pipe"] }));
    // Whatever ends this process, haproxy goes with it.
    process.once("exit", () => haproxy.kill());
    return haproxy;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private keep(chunk: Buffer): void {
    this.log = (this.log + chunk.toString()).slice(-LOG_KEPT_CHARS);
  }

  lastLog(lines: number): string {
    return this.log.split("\n").slice(-lines).join("\n");
  }

  running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL by PID; resolves once it exited. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      process.kill(this.child.pid!, "SIGKILL");
    } catch {
      return;
    }
    await exited;
  }
}
