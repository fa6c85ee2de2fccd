/**
 * HAProxy 2.6 for the failover benchmark, configured from the packaged packaging/haproxy.cfg as
 * test/haproxy/haproxy.test.ts does: every bind on a free 127.0.0.1 port, the i-th `server` line
 * of each pool pointing at the i-th node's PostgreSQL address and its agent's REST port (the
 * health checks), the user/group lines removed. It runs in the root namespace and reaches the
 * nodes over the topology's bridge, as a load balancer on another machine would.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../lab/sockets.js";

const HERE = dirname(fileURLToPath(import.meta.url));
/** From scripts/bench (tsx) or dist/scripts/bench (compiled): the project root has packaging/. */
const ROOT = import.meta.url.endsWith(".ts") ? join(HERE, "..", "..") : join(HERE, "..", "..", "..");
const LOG_KEPT_CHARS = 4000;

export interface HaproxyNode {
  readonly name: string;
  readonly pgHost: string;
  readonly pgPort: number;
  readonly apiPort: number;
}

/** Why haproxy cannot run here, or null. */
export function haproxyMissing(): string | null {
  try {
    execFileSync("haproxy", ["-v"], { stdio: "ignore" });
    return null;
  } catch {
    return "haproxy is not installed: run scripts/setup.sh (it installs Debian's haproxy 2.6)";
  }
}

function localConfig(template: string, nodes: readonly HaproxyNode[], ports: Record<string, number>, adminSocket: string): string {
  let section = "";
  let index = 0;
  let servers = 0;
  const lines = template.split("\n").flatMap((line) => {
    const header = /^(listen|frontend|backend)\s+(\S+)/.exec(line);
    if (header !== null) {
      section = header[2]!;
      index = 0;
    }
    if (/^\s+(user|group)\s/.test(line)) return [];
    // The agents of the bench push nothing; the admin socket goes next to the config.
    if (/^\s+stats socket\s/.test(line)) return [line.replace(/stats socket\s+\S+.*$/, `stats socket ${adminSocket} level admin`)];
    const bind = /^(\s+)bind\s+\S+/.exec(line);
    if (bind !== null) {
      const port = ports[section];
      if (port === undefined) throw new Error(`haproxy.cfg: no port for the bind of section ${section}`);
      return [`${bind[1]}bind 127.0.0.1:${port}`];
    }
    const server = /^(\s+)server\s+\S+\s+\S+:\d+(.*)\bport\s+\d+(.*)$/.exec(line);
    if (server !== null) {
      const node = nodes[index++];
      if (node === undefined) throw new Error(`haproxy.cfg: section ${section} has more server lines than the ${nodes.length} nodes`);
      servers++;
      return [`${server[1]}server ${node.name} ${node.pgHost}:${node.pgPort}${server[2]}port ${node.apiPort}${server[3]}`];
    }
    return [line];
  });
  if (servers !== 2 * nodes.length) throw new Error(`haproxy.cfg: expected ${2 * nodes.length} server lines, found ${servers}`);
  return lines.join("\n");
}

export class Haproxy {
  private log = "";

  private constructor(private readonly child: ChildProcess, readonly writePort: number, readonly configPath: string) {
    child.stdout?.on("data", (chunk: Buffer) => this.keep(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.keep(chunk));
  }

  /** Writes the config under `dir`, checks it with `haproxy -c` and starts haproxy in the foreground. */
  static async start(dir: string, nodes: readonly HaproxyNode[]): Promise<Haproxy> {
    const ports = { primary: await freePort(), replicas: await freePort(), stats: await freePort() };
    const config = localConfig(readFileSync(join(ROOT, "packaging", "haproxy.cfg"), "utf8"), nodes, ports, join(dir, "haproxy-admin.sock"));
    const configPath = join(dir, "haproxy.cfg");
    writeFileSync(configPath, config);
    execFileSync("haproxy", ["-c", "-q", "-f", configPath], { stdio: ["ignore", "pipe", "pipe"] });
    const child = spawn("haproxy", ["-f", configPath, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
    const haproxy = new Haproxy(child, ports.primary, configPath);
    // Whatever ends this process, haproxy goes with it.
    process.once("exit", () => haproxy.killNow());
    return haproxy;
  }

  private keep(chunk: Buffer): void {
    this.log = (this.log + chunk.toString()).slice(-LOG_KEPT_CHARS);
  }

  /** The last lines haproxy printed (its log of connections and server state changes). */
  lastLog(lines: number): string {
    return this.log.split("\n").slice(-lines).join("\n");
  }

  /** The DSN of the write pool (port 5000 in the packaged file). */
  dsn(user: string, password: string): string {
    return `postgresql://${user}:${password}@127.0.0.1:${this.writePort}/postgres?connect_timeout=2`;
  }

  killNow(): void {
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(this.child.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}
