/**
 * Latency on a link without tc netem: a DelayProxy is a process inside a host's namespace that
 * listens on `listenPort` and forwards to `targetHost:targetPort` (by default the host's own
 * 127.0.0.1), holding every chunk for delay + jitter ms in each direction (delay_proxy_main.ts).
 * Put one in front of each host's Raft and PostgreSQL ports and have peers connect to the proxy:
 * then `setDelay` slows every link into that host. A round trip through a proxy costs at least
 * twice the delay (once each way).
 */
import { JsonLinesProcess } from "./json_lines.js";
import type { Topology } from "./topology.js";

export interface DelayProxyOptions {
  readonly listenPort: number;
  readonly targetPort: number;
  /** Where the proxy forwards to, seen from inside the namespace; default 127.0.0.1. */
  readonly targetHost?: string;
  /** The address it listens on inside the namespace; default 0.0.0.0 (the host's ip and lo). */
  readonly listenHost?: string;
  readonly delayMs?: number;
  readonly jitterMs?: number;
  /** Seeds the jitter. */
  readonly seed?: number;
}

export class DelayProxy {
  private stopped = false;

  private constructor(
    private readonly helper: JsonLinesProcess,
    /** The proxy's address for peers: the host's ip and the listen port. */
    readonly address: { readonly ip: string; readonly port: number },
    private current: { delayMs: number; jitterMs: number },
  ) {}

  /** Starts a proxy in `host`'s namespace and resolves once it listens. */
  static async start(topology: Topology, host: string, options: DelayProxyOptions): Promise<DelayProxy> {
    const delayMs = options.delayMs ?? 0;
    const jitterMs = options.jitterMs ?? 0;
    const args = [
      `--listen-host=${options.listenHost ?? "0.0.0.0"}`,
      `--listen-port=${options.listenPort}`,
      `--target-host=${options.targetHost ?? "127.0.0.1"}`,
      `--target-port=${options.targetPort}`,
      `--delay-ms=${delayMs}`,
      `--jitter-ms=${jitterMs}`,
      `--seed=${options.seed ?? 1}`,
    ];
    const name = `delay proxy ${host}:${options.listenPort}->${options.targetHost ?? "127.0.0.1"}:${options.targetPort}`;
    const helper = await JsonLinesProcess.start(topology, host, "delay_proxy_main", args, name);
    return new DelayProxy(helper, { ip: topology.host(host).ip, port: options.listenPort }, { delayMs, jitterMs });
  }

  /** Changes the latency of chunks arriving from now on; resolves once the proxy applied it. */
  async setDelay(delayMs: number, jitterMs = 0): Promise<void> {
    if (this.stopped) throw new Error(`${this.helper.name} is stopped`);
    await this.helper.request({ delayMs, jitterMs });
    this.current = { delayMs, jitterMs };
  }

  delay(): { readonly delayMs: number; readonly jitterMs: number } {
    return this.current;
  }

  /** Stops the proxy: its connections close. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.helper.stop();
  }
}
