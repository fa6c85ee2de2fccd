/**
 * The cluster under test: N real nodes (agent + PostgreSQL 15), each in its own network namespace
 * (net/topology.ts) with delay proxies in front of its Raft and PostgreSQL ports, which its peers
 * use (so a delay slows every link into the node), and a clock-fault file its agent reads. The
 * harness and the clients run in the root namespace and reach every node over the bridge.
 * Implements the FaultTarget the nemesis acts on. destroy() removes every process, namespace and
 * directory; the topology's exit hook does the namespaces even when the process dies.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PgCluster, SUPERUSER } from "../pg_cluster.js";
import { DelayProxy } from "./net/delay.js";
import { Topology } from "./net/topology.js";
import type { FaultTarget } from "./nemesis.js";

/** Inside each namespace: where peers reach the node's Raft and PostgreSQL ports (delay proxies). */
const RAFT_PROXY_PORT = 17000;
const PG_PROXY_PORT = 15432;

export interface ClusterOptions {
  /** 1–6 characters a-z0-9, unique among the topologies alive on the machine. */
  readonly id: string;
  readonly nodes: number;
  /** Appended to every node.yml (e.g. a bootstrap.dcs section). */
  readonly extraYaml?: string;
  /** The agent's entry point to run (the packaged bundle); the source tree through tsx when absent. */
  readonly agentMain?: string;
}

export class ClusterUnderTest implements FaultTarget {
  private readonly proxies = new Map<string, DelayProxy[]>();
  private readonly frozenGroups = new Map<string, number>();

  private constructor(readonly topology: Topology, readonly pg: PgCluster, readonly nodes: readonly string[]) {}

  static async create(options: ClusterOptions): Promise<ClusterUnderTest> {
    const names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    Topology.cleanupStale(options.id);
    const topology = await Topology.create({ id: options.id, hosts: names });
    let clockDir = "";
    try {
      const pg = await PgCluster.create({
        names,
        ...(options.extraYaml === undefined ? {} : { extraYaml: options.extraYaml }),
        ...(options.agentMain === undefined ? {} : { agentMain: options.agentMain }),
        placement: {
          host: (name) => topology.host(name).ip,
          advertise: (name, service) => `${topology.host(name).ip}:${service === "raft" ? RAFT_PROXY_PORT : PG_PROXY_PORT}`,
          spawn: (name, command, args, spawnOptions) => topology.spawn(name, command, args, { ...(spawnOptions.env === undefined ? {} : { env: spawnOptions.env }), ...(spawnOptions.stdio === undefined ? {} : { stdio: spawnOptions.stdio }) }),
          env: (name) => ({ RAFTGRES_CLOCK_FAULT_FILE: join(clockDir, `${name}.clock.json`) }),
        },
      });
      clockDir = pg.root;
      const cluster = new ClusterUnderTest(topology, pg, names);
      for (const name of names) {
        cluster.clock(name, 0, 1);
        const spec = pg.spec(name);
        const ip = topology.host(name).ip;
        cluster.proxies.set(name, [
          await DelayProxy.start(topology, name, { listenPort: RAFT_PROXY_PORT, targetHost: ip, targetPort: spec.raftPort }),
          await DelayProxy.start(topology, name, { listenPort: PG_PROXY_PORT, targetHost: ip, targetPort: spec.pgPort }),
        ]);
      }
      return cluster;
    } catch (error) {
      await topology.destroy();
      throw error;
    }
  }

  /** Which node an address:port belongs to (the clients see the nodes' own addresses). */
  nodeOf = (host: string): string | null => this.nodes.find((n) => this.topology.host(n).ip === host) ?? null;

  apiUrl(node: string): string {
    return this.pg.apiUrl(node);
  }

  /** A libpq multi-host DSN over every node, for writers. */
  dsn(): string {
    return this.pg.dsn("read-write");
  }

  target(node: string): { host: string; port: number; user: string; password: string } {
    return { host: this.topology.host(node).ip, port: this.pg.spec(node).pgPort, user: SUPERUSER.username, password: SUPERUSER.password };
  }

  primary(): Promise<string | null> {
    return this.pg.primary();
  }

  /** The node that says it is the Raft leader in the highest term (GET /patroni), if any answers so. */
  async raftLeader(): Promise<string | null> {
    const statuses = await this.pg.statuses();
    let best: { node: string; term: number } | null = null;
    for (const [node, status] of statuses) {
      if (status?.raft.role !== "leader") continue;
      if (best === null || status.raft.term > best.term) best = { node, term: status.raft.term };
    }
    return best?.node ?? null;
  }

  killAgent(node: string): void {
    if (this.pg.agentPid(node) !== null) this.pg.signalAgent(node, "SIGKILL");
  }

  killPostmaster(node: string): void {
    const pid = this.pg.postmasterPid(node);
    if (pid === null) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }

  /** Starts the node's agent once its previous process (killed, say) has exited. */
  async startAgent(node: string): Promise<void> {
    await this.pg.agentExited(node, 10_000).catch(() => {});
    if (this.pg.agentPid(node) === null) this.pg.start(node);
  }

  freeze(node: string, what: "agent" | "postgres"): void {
    if (what === "agent") {
      if (this.pg.agentPid(node) !== null) this.pg.signalAgent(node, "SIGSTOP");
      return;
    }
    const pid = this.pg.postmasterPid(node);
    if (pid === null) return;
    this.frozenGroups.set(node, pid);
    signal(-pid, "SIGSTOP");
  }

  thaw(node: string, what: "agent" | "postgres"): void {
    if (what === "agent") {
      if (this.pg.agentPid(node) !== null) this.pg.signalAgent(node, "SIGCONT");
      return;
    }
    const pid = this.frozenGroups.get(node);
    this.frozenGroups.delete(node);
    if (pid !== undefined) signal(-pid, "SIGCONT");
  }

  partition(groups: readonly (readonly string[])[], options: { readonly clients: boolean }): Promise<void> {
    return this.topology.partition(groups, options);
  }

  dropOneWay(from: string, to: string): Promise<void> {
    return this.topology.dropOneWay(from, to);
  }

  loss(node: string, probability: number): Promise<void> {
    return this.topology.loss(node, probability);
  }

  async delay(node: string, ms: number, jitterMs: number): Promise<void> {
    for (const proxy of this.proxies.get(node) ?? []) await proxy.setDelay(ms, jitterMs);
  }

  clock(node: string, offsetMs: number, rate: number): void {
    writeFileSync(join(this.pg.root, `${node}.clock.json`), JSON.stringify({ offsetMs, rate }));
  }

  async healNetwork(): Promise<void> {
    await this.topology.heal();
    for (const node of this.nodes) await this.delay(node, 0, 0);
  }

  async transferRaftLeader(node: string): Promise<string> {
    const answer = await this.post(node, "POST", "/raft/transfer", { to: node });
    return `Raft leadership to ${node}: ${answer}`;
  }

  async cycleRaftMember(node: string): Promise<string> {
    const via = this.nodes.find((n) => n !== node)!;
    const removed = await this.post(via, "DELETE", `/raft/members/${node}`, undefined);
    const added = await this.post(via, "POST", "/raft/members", { name: node, address: `${this.topology.host(node).ip}:${RAFT_PROXY_PORT}` });
    return `${node} removed from the Raft group (${removed}) and added back (${added})`;
  }

  private async post(node: string, method: string, path: string, body: unknown): Promise<string> {
    try {
      const response = await fetch(`${this.apiUrl(node)}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(40_000),
      });
      const text = await response.text();
      return `${response.status} ${text.slice(0, 160)}`;
    } catch (error) {
      return `no answer (${String(error)})`;
    }
  }

  /** Thaws everything, heals the network, resets the clocks and starts every agent that is down. */
  async healAll(): Promise<void> {
    for (const node of this.nodes) {
      this.thaw(node, "agent");
      this.thaw(node, "postgres");
      this.clock(node, 0, 1);
    }
    await this.healNetwork();
    for (const node of this.nodes) await this.startAgent(node);
    await this.readdRaftMembers();
  }

  /**
   * A member a membership fault left outside the Raft group (its add-back failed because another
   * fault had it down) is added again once it runs, as an operator would: a member outside the
   * group cannot confirm its view, so it never starts PostgreSQL, and the cluster cannot heal.
   */
  async readdRaftMembers(): Promise<void> {
    for (const via of this.nodes) {
      let ids: string[];
      try {
        const response = await fetch(`${this.apiUrl(via)}/raft`, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json()) as { leader?: unknown; members?: { id: string; role: string }[] };
        if (typeof body.leader !== "string" || !Array.isArray(body.members)) continue;
        ids = body.members.filter((m) => m.role === "voter").map((m) => m.id);
      } catch {
        continue;
      }
      for (const node of this.nodes) {
        if (!ids.includes(node)) await this.post(via, "POST", "/raft/members", { name: node, address: `${this.topology.host(node).ip}:${RAFT_PROXY_PORT}` });
      }
      return;
    }
  }

  async destroy(): Promise<void> {
    for (const node of this.nodes) {
      this.thaw(node, "agent");
      this.thaw(node, "postgres");
    }
    for (const proxies of this.proxies.values()) for (const proxy of proxies) await proxy.stop().catch(() => {});
    await this.pg.destroy();
    await this.topology.destroy();
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

