/**
 * Real networks for the fault-injection harness: each host in its own network namespace
 * `rg-<id>-<host>`, with a veth pair into one Linux bridge `rgbr-<id>` in the root namespace.
 * Hosts get 10.200.<n>.11, .12, … and the bridge 10.200.<n>.1, so processes in the root namespace
 * (test clients, the harness) reach every host. Faults are iptables rules in the hosts' own
 * namespaces (faults.ts), never in the root namespace, so the machine itself is never affected.
 *
 * Inside each namespace, OUTPUT refuses anything on eth0 that is not for the topology's own
 * subnet: whatever runs there cannot send traffic off the machine, even where the root namespace
 * forwards packets.
 *
 * Everything created is removed by `destroy()`, by the process exit hook, on SIGINT/SIGTERM/SIGHUP,
 * or later by `Topology.cleanupStale()` (registry.ts) if the process was killed outright.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { COMMAND_TIMEOUT_MS, run, runSync } from "./command.js";
import { type Addresses, type Fault, FAULT_CHAIN, describeFault, faultRules } from "./faults.js";
import { claimId, claimSubnet, cleanupStale, names, removeLeftovers, rootRules } from "./registry.js";

export type { Fault } from "./faults.js";
export { describeFault } from "./faults.js";

/** Ids name interfaces (`rgbr-<id>`, `rgv<id>-<index>`), which the kernel limits to 15 bytes. */
const ID_PATTERN = /^[a-z0-9]{1,6}$/;
const HOST_PATTERN = /^[a-z][a-z0-9]{0,11}$/;
export const HOSTS_MAX = 16;
/** Host i (from 0) gets 10.200.n.(HOST_OCTET_FIRST + i). */
const HOST_OCTET_FIRST = 11;
const GUARD_CHAIN = "RGGUARD";

export interface Host {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
}

export interface TopologyOptions {
  /** 1–6 characters a-z0-9; unique among the topologies alive on the machine. */
  readonly id: string;
  /** Host names, 1–12 characters, a letter then a-z0-9. */
  readonly hosts: readonly string[];
}

export interface SpawnOptions {
  /** Run as this user (e.g. postgres) instead of root; uid and gid go together. */
  readonly uid?: number;
  readonly gid?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stdio?: StdioOptions;
  readonly detached?: boolean;
}

/** Every topology of this process that is not destroyed yet, for the exit and signal hooks. */
const live = new Set<Topology>();
let hooksInstalled = false;

/** Destroys every live topology, reporting instead of throwing (hooks must not throw). */
function destroyAllNow(): void {
  for (const topology of live) {
    try {
      topology.destroySync();
    } catch (error: unknown) {
      process.stderr.write(`raftgres-net: cleanup of topology ${topology.id} failed: ${String(error)}\n`);
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", destroyAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = (): void => {
      destroyAllNow();
      // Only we listened: die of the signal as if nobody had, so the exit status stays honest.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

export class Topology {
  readonly bridge: string;
  readonly bridgeIp: string;
  /** The topology's subnet, e.g. "10.200.37.0/24". */
  readonly subnet: string;
  private readonly hosts = new Map<string, Host>();
  private readonly children = new Set<ChildProcess>();
  private active: Fault[] = [];
  /** Fault changes run one at a time: each rewrites whole chains from `active`. */
  private applying: Promise<void> = Promise.resolve();
  private destroyed = false;

  private constructor(
    readonly id: string,
    hostNames: readonly string[],
    octet: number,
  ) {
    this.bridge = names.bridge(id);
    this.bridgeIp = `10.200.${octet}.1`;
    this.subnet = `10.200.${octet}.0/24`;
    hostNames.forEach((name, index) => {
      this.hosts.set(name, { name, netns: names.netns(id, name), ip: `10.200.${octet}.${HOST_OCTET_FIRST + index}` });
    });
  }

  static async create(options: TopologyOptions): Promise<Topology> {
    const { id, hosts } = options;
    if (!ID_PATTERN.test(id)) throw new Error(`topology id "${id}" must be 1-6 characters a-z0-9 (it names interfaces)`);
    if (hosts.length === 0 || hosts.length > HOSTS_MAX) {
      throw new Error(`a topology has 1-${HOSTS_MAX} hosts, got ${hosts.length}`);
    }
    for (const host of hosts) {
      if (!HOST_PATTERN.test(host)) throw new Error(`host name "${host}" must be a letter then up to 11 characters a-z0-9`);
    }
    if (new Set(hosts).size !== hosts.length) throw new Error(`host names repeat: ${hosts.join(", ")}`);
    installHooks();
    claimId(id);
    let octet: number;
    try {
      octet = claimSubnet(id);
    } catch (error: unknown) {
      removeLeftovers(id);
      throw error;
    }
    const topology = new Topology(id, hosts, octet);
    live.add(topology);
    try {
      await topology.build();
    } catch (error: unknown) {
      topology.destroySync();
      throw error;
    }
    return topology;
  }

  /** Removes leftovers of crashed runs whose ids start with `prefix`; returns the ids cleaned. */
  static cleanupStale(prefix = ""): string[] {
    return cleanupStale(prefix);
  }

  private async build(): Promise<void> {
    await run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    await run("ip", ["addr", "add", `${this.bridgeIp}/24`, "dev", this.bridge]);
    await run("ip", ["link", "set", this.bridge, "up"]);
    for (const [chain, ...spec] of rootRules(this.id)) await run("iptables", ["-w", "5", "-I", chain!, "1", ...spec]);
    await Promise.all([...this.hosts.values()].map((host, index) => this.buildHost(host, index)));
  }

  private async buildHost(host: Host, index: number): Promise<void> {
    const veth = names.veth(this.id, index);
    await run("ip", ["netns", "add", host.netns]);
    await run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns]);
    await run("ip", ["link", "set", veth, "master", this.bridge, "up"]);
    const inside = (args: string[]): Promise<string> => run("ip", ["-n", host.netns, ...args]);
    await inside(["link", "set", "lo", "up"]);
    await inside(["addr", "add", `${host.ip}/24`, "dev", "eth0"]);
    await inside(["link", "set", "eth0", "up"]);
    await inside(["route", "add", "default", "via", this.bridgeIp]);
    const rules = [
      "*filter",
      `:${FAULT_CHAIN} - [0:0]`,
      `:${GUARD_CHAIN} - [0:0]`,
      `-A INPUT -j ${FAULT_CHAIN}`,
      `-A OUTPUT -j ${GUARD_CHAIN}`,
      `-A ${GUARD_CHAIN} -o eth0 -d ${this.subnet} -j RETURN`,
      `-A ${GUARD_CHAIN} -o eth0 -j REJECT --reject-with icmp-net-prohibited`,
      "COMMIT",
      "",
    ].join("\n");
    await this.restore(host, rules);
  }

  private restore(host: Host, rules: string): Promise<string> {
    return run("ip", ["netns", "exec", host.netns, "iptables-restore", "--noflush"], { input: rules });
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (host === undefined) {
      throw new Error(`unknown host "${name}": topology ${this.id} has ${this.hostNames().join(", ")}`);
    }
    return host;
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /**
   * Starts `command args` inside the host's namespace and returns it. With uid/gid, setpriv drops
   * to that user after `ip netns exec` entered the namespace (entering needs root, so spawning
   * `ip` itself with a uid fails); both exec in place, so the child's pid is the command's.
   */
  spawn(hostName: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    this.assertLive();
    const host = this.host(hostName);
    if ((options.uid === undefined) !== (options.gid === undefined)) throw new Error("spawn: give uid and gid together");
    const { uid, gid } = options;
    const drop = uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"];
    const child = spawn("ip", ["netns", "exec", host.netns, ...drop, command, ...args], {
      env: options.env ?? process.env,
      stdio: options.stdio ?? "pipe",
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.detached === undefined ? {} : { detached: options.detached }),
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    child.once("error", () => this.children.delete(child));
    return child;
  }

  /** Runs a short command inside the host's namespace (as root) and resolves with its stdout. */
  exec(hostName: string, command: string, args: readonly string[] = [], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
    this.assertLive();
    return run("ip", ["netns", "exec", this.host(hostName).netns, command, ...args], { timeoutMs });
  }

  /**
   * Two hosts named in the groups exchange packets only if some group holds both (groups may
   * overlap: a host in two groups is a bridge); hosts named in no group are not affected.
   * Clients reach every host unless clients: false, which cuts them from every host named.
   */
  partition(groups: readonly (readonly string[])[], options: { readonly clients?: boolean } = {}): Promise<void> {
    return this.addFault({ kind: "partition", groups, clients: options.clients ?? true });
  }

  /** The host exchanges no packet with any other host; with clients: false, nor with clients. */
  isolate(host: string, options: { readonly clients: boolean }): Promise<void> {
    return this.addFault({ kind: "isolate", host, clients: options.clients });
  }

  /**
   * Packets from `from` to `to` are dropped; packets from `to` to `from` pass. For TCP this cuts
   * both directions' connections (a connection from `to` never sees its SYN-ACK), and an
   * established connection stalls one way; UDP datagrams from `to` still arrive at `from`.
   */
  dropOneWay(from: string, to: string): Promise<void> {
    return this.addFault({ kind: "dropOneWay", from, to });
  }

  /** Each packet between the host and any other host is dropped with this probability. */
  loss(host: string, probability: number): Promise<void> {
    return this.addFault({ kind: "loss", host, probability });
  }

  /** Removes every fault: all hosts and clients talk again. */
  async heal(): Promise<void> {
    await this.setFaults([]);
  }

  /** The faults in force, oldest first. */
  faults(): readonly Fault[] {
    return this.active;
  }

  describeFaults(): string {
    return this.active.length === 0 ? "healthy" : this.active.map(describeFault).join("; ");
  }

  private async addFault(fault: Fault): Promise<void> {
    faultRules(fault, this.addresses()); // Rejects unknown hosts before anything changes.
    await this.setFaults([...this.active, fault]);
  }

  private addresses(): Addresses {
    const hosts = new Map([...this.hosts.values()].map((h) => [h.name, h.ip] as const));
    return { hosts, bridgeIp: this.bridgeIp };
  }

  /** Rewrites every host's fault chain from `faults`, each in one atomic iptables-restore. */
  private setFaults(faults: Fault[]): Promise<void> {
    this.assertLive();
    const next = this.applying.then(async () => {
      const rules = new Map<string, string[]>();
      for (const fault of faults) {
        for (const [host, list] of faultRules(fault, this.addresses())) {
          rules.set(host, [...(rules.get(host) ?? []), ...list]);
        }
      }
      await Promise.all(
        [...this.hosts.values()].map((host) => {
          const added = (rules.get(host.name) ?? []).map((rule) => `-A ${FAULT_CHAIN} ${rule}`);
          return this.restore(host, ["*filter", `-F ${FAULT_CHAIN}`, ...added, "COMMIT", ""].join("\n"));
        }),
      );
      this.active = faults;
    });
    // A failed change leaves `applying` usable for the next one (and for heal()).
    this.applying = next.catch(() => {});
    return next;
  }

  /** The iptables rules now in a host's fault chain, as `iptables -S` prints them (for reports). */
  async rules(hostName: string): Promise<string[]> {
    const out = await this.exec(hostName, "iptables", ["-S", FAULT_CHAIN]);
    return out.split("\n").filter((line) => line.startsWith("-A "));
  }

  private assertLive(): void {
    if (this.destroyed) throw new Error(`topology ${this.id} is destroyed`);
  }

  /**
   * Kills every process in the namespaces (tracked or not: PostgreSQL children too), then removes
   * the namespaces, veths, the bridge and the root namespace rules. Idempotent.
   */
  async destroy(): Promise<void> {
    await this.applying;
    this.destroySync();
  }

  /** destroy() without waiting: for the exit hook, where no event loop is left. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) child.kill("SIGKILL");
    removeLeftovers(this.id);
    const remaining = runSync("ip", ["netns", "list"]).split("\n").filter((l) => l.startsWith(`rg-${this.id}-`));
    if (remaining.length > 0) {
      throw new Error(`topology ${this.id}: namespaces left after destroy: ${remaining.join(", ")}; see ip netns pids`);
    }
  }
}
