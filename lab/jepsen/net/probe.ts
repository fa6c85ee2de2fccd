/**
 * Probes of reachability from inside a host's namespace (echo_probe_main.ts): what the network
 * tests assert on, and what the harness can use to check that a fault is in force before it
 * starts counting (a partition applied is not yet a partition observed).
 */
import { JsonLinesProcess } from "./json_lines.js";
import type { Topology } from "./topology.js";

export const PROBE_TIMEOUT_MS = 1_000;

export class EchoProbe {
  private constructor(
    private readonly helper: JsonLinesProcess,
    readonly host: string,
    /** The port of this probe's TCP and UDP echo servers. */
    readonly port: number,
  ) {}

  static async start(topology: Topology, host: string, port: number): Promise<EchoProbe> {
    const name = `echo probe ${host}:${port}`;
    const helper = await JsonLinesProcess.start(topology, host, "echo_probe_main", [`--port=${port}`], name);
    return new EchoProbe(helper, host, port);
  }

  /** Whether a TCP connection from this host to ip:port carries a line there and back in time. */
  async tcp(ip: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
    const answer = await this.helper.request({ op: "tcp", host: ip, port, timeoutMs }, timeoutMs + 5_000);
    return answer.ok === true;
  }

  /** Sends one UDP datagram carrying `token` from this host to ip:port. */
  async udpSend(ip: string, port: number, token: string): Promise<void> {
    await this.helper.request({ op: "udpSend", host: ip, port, token });
  }

  /** Whether a datagram carrying `token` reached this host's echo server. */
  async udpSeen(token: string): Promise<boolean> {
    return (await this.helper.request({ op: "udpSeen", token })).ok === true;
  }

  stop(): Promise<void> {
    return this.helper.stop();
  }
}
