/**
 * The HAProxy instances of the failover benchmark, four at once so that every fault is measured
 * through each of them alike (issue 16, item 3):
 *   haproxy          packaging/haproxy.cfg's checks (inter 1s fall 2 rise 2 fastinter 500ms)
 *   haproxy_push     the same checks, and the agents push role changes to its admin socket
 *   haproxy_3s       the production guides' checks, `inter 3s fall 3 rise 2`
 *   haproxy_push_3s  those checks, with the push
 * Each is packaging/haproxy.cfg made local by lab/haproxy.ts (the tests' module): binds on free
 * 127.0.0.1 ports, the packaged servers pg1…pgN on the nodes' namespace addresses and REST ports,
 * its admin socket in the bench's directory. They run in the root namespace and reach the nodes
 * over the topology's bridge, as load balancers on other machines would; the agents, in their
 * namespaces, reach the admin sockets through the file system. The node.yml haproxy section
 * names only the push instances' sockets, and maps the members (n1…) to the servers (pg1…).
 */
import { join } from "node:path";
import { HaproxyProcess, type HaproxyPorts, type HaproxyServer, localHaproxyConfig, packagedHaproxyConfig } from "../../lab/haproxy.js";
import { freePort } from "../../lab/sockets.js";

export { haproxyMissing } from "../../lab/haproxy.js";

/** The check settings users copy from production guides (issue 16). */
export const GUIDE_CHECKS = "inter 3s fall 3 rise 2";
const PACKAGED_CHECKS = "inter 1s fall 2 rise 2 fastinter 500ms";
/** One runtime command of the agents' pushes (node.yml haproxy.timeout_ms). */
const PUSH_TIMEOUT_MS = 500;

export interface HaproxyVariant {
  /** The writer's name in the log and the tables. */
  readonly writer: string;
  /** Replaces the packaged default-server check settings; null keeps them. */
  readonly checks: string | null;
  /** The agents push role changes to this instance's admin socket. */
  readonly push: boolean;
}

export const HAPROXY_VARIANTS: readonly HaproxyVariant[] = [
  { writer: "haproxy", checks: null, push: false },
  { writer: "haproxy_push", checks: null, push: true },
  { writer: "haproxy_3s", checks: GUIDE_CHECKS, push: false },
  { writer: "haproxy_push_3s", checks: GUIDE_CHECKS, push: true },
];

export function describeVariant(variant: HaproxyVariant): string {
  return `HAProxy ${variant.checks ?? PACKAGED_CHECKS}, ${variant.push ? "with" : "without"} the push`;
}

export interface HaproxyNode {
  /** The member's name (n1 …). */
  readonly name: string;
  readonly pgHost: string;
  readonly pgPort: number;
  readonly apiPort: number;
}

/** The packaged file names its servers pg1 … pgN; the i-th node is the i-th server. */
function serverName(index: number): string {
  return `pg${index + 1}`;
}

function adminSocket(dir: string, variant: HaproxyVariant): string {
  return join(dir, `${variant.writer}.sock`);
}

/**
 * node.yml's haproxy section for the bench's agents: known before HAProxy runs (the agents'
 * files are written when the cluster is created); a push before HAProxy listens is retried.
 */
export function agentHaproxyYaml(dir: string, members: readonly string[]): string {
  const sockets = HAPROXY_VARIANTS.filter((v) => v.push).map((v) => adminSocket(dir, v));
  const servers = members.map((member, i) => `${member}: ${serverName(i)}`).join(", ");
  return `haproxy:
  sockets: [${sockets.join(", ")}]
  write_backend: primary
  read_backend: replicas
  servers: { ${servers} }
  timeout_ms: ${PUSH_TIMEOUT_MS}
`;
}

export class BenchHaproxies {
  private constructor(private readonly instances: ReadonlyMap<string, { process: HaproxyProcess; ports: HaproxyPorts }>) {}

  /** Starts every variant (checked with `haproxy -c` first); on a failure those started are killed. */
  static async start(dir: string, nodes: readonly HaproxyNode[]): Promise<BenchHaproxies> {
    const servers: HaproxyServer[] = nodes.map((node, i) => ({ name: serverName(i), host: node.pgHost, pgPort: node.pgPort, apiPort: node.apiPort }));
    const instances = new Map<string, { process: HaproxyProcess; ports: HaproxyPorts }>();
    const started = new BenchHaproxies(instances);
    try {
      for (const variant of HAPROXY_VARIANTS) {
        const ports: HaproxyPorts = { write: await freePort(), read: await freePort(), stats: await freePort() };
        const config = localHaproxyConfig(packagedHaproxyConfig(), servers, ports, { adminSocket: adminSocket(dir, variant), ...(variant.checks === null ? {} : { checks: variant.checks }) });
        instances.set(variant.writer, { process: HaproxyProcess.start(join(dir, `${variant.writer}.cfg`), config), ports });
      }
    } catch (error) {
      await started.kill();
      throw error;
    }
    return started;
  }

  /** The DSN of a variant's write pool (port 5000 in the packaged file). */
  dsn(variant: HaproxyVariant, user: string, password: string): string {
    const instance = this.instances.get(variant.writer);
    if (instance === undefined) throw new Error(`no HAProxy ${variant.writer}`);
    return `postgresql://${user}:${password}@127.0.0.1:${instance.ports.write}/postgres?connect_timeout=2`;
  }

  describe(): string {
    return [...this.instances].map(([writer, i]) => `${writer} on 127.0.0.1:${i.ports.write} (pid ${i.process.pid})`).join(", ");
  }

  /** SIGKILL by PID, synchronously sent (for a signal handler); resolves once they exited. */
  async kill(): Promise<void> {
    await Promise.all([...this.instances.values()].map((i) => i.process.kill()));
  }
}
