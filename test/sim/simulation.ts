/**
 * One deterministic simulation run: a whole cluster in one process, on virtual time, driven by one
 * seed. The seed also picks the run's configuration (swarm testing, after TigerBeetle's VOPR):
 * cluster size, message loss, duplication and delay, disk latency, compaction rate, clock offsets,
 * Raft options, and which faults happen when.
 *
 * Two phases. Safety: faults (crashes that lose unsynced writes, restarts, partitions of every
 * shape, clock jumps, leadership transfers, membership changes) while clients run; every step is
 * checked by SafetyChecker. Liveness: faults stop and everything heals; the cluster must elect a
 * leader, serve every client, and converge. At the end the client history must be linearizable.
 */
import { assert } from "../../src/lib/assert.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import { createPrng, pick, type Prng } from "../../src/lib/prng.js";
import { DEFAULT_TUNABLES, type RaftTunables } from "../../src/raft/config.js";
import { voters } from "../../src/raft/membership.js";
import { bootstrapState, EMPTY_STATE } from "../../src/raft/raw_node.js";
import { type ConfMember, type NodeId, nodeId } from "../../src/raft/types.js";
import { check, explain, type Operation } from "../../lab/lincheck/index.js";
import { SafetyChecker } from "./checkers.js";
import { EventQueue } from "./event_queue.js";
import { CALM_NETWORK, SimNetwork } from "./network.js";
import { dcsWorkload } from "./dcs_workload.js";
import { registerWorkload } from "./register_workload.js";
import { NO_BUGS, type SimBugs, SimNode } from "./sim_node.js";
import type { Workload } from "./workload.js";

export interface SimOptions {
  readonly seed: number;
  readonly nodes?: 3 | 5;
  readonly bugs?: Partial<SimBugs>;
  /** Virtual milliseconds of faults, then as long again to heal and converge. */
  readonly faultPhaseMs?: number;
  /** What to replicate and check: registers (Raft itself, the default) or the DCS. */
  readonly workload?: "register" | "dcs";
  /** Overrides of the seed's randomly chosen configuration (to aim a test at one fault). */
  readonly overrides?: Partial<Omit<SwarmConfig, "tunables">> & { readonly tunables?: Partial<RaftTunables> };
}

export interface SimStats {
  readonly nodes: number;
  readonly ops: number;
  readonly okOps: number;
  readonly indeterminateOps: number;
  readonly failedOps: number;
  readonly faults: number;
  readonly leaders: number;
  readonly maxTerm: number;
  readonly messages: number;
  readonly dropped: number;
  readonly events: number;
  /** Restarts refused because the disk lost what the node acknowledged. */
  readonly storageRefusals: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly config: string;
  readonly stats: SimStats;
}

const TICK_MS = 10;
const CLIENT_TIMEOUT_MS = 400;
/** A run needs up to about 100,000 events; ten times more means something loops. */
const EVENTS_MAX = 1_000_000;

export interface SwarmConfig {
  readonly nodeCount: number;
  readonly tunables: RaftTunables;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly delayMaxMs: number;
  readonly diskLatencyMs: readonly [number, number];
  readonly compactEvery: number;
  readonly faultEveryMs: readonly [number, number];
  readonly clients: number;
  readonly keys: number;
  readonly membership: boolean;
  readonly crashDuringWriteRate: number;
  readonly crashAfterVoteRate: number;
  /** Chance that a restart comes with a storage fault (the log's tail lost, or the directory). */
  readonly storageFaultRate: number;
}

function swarm(prng: Prng, nodes: 3 | 5 | undefined): SwarmConfig {
  const config = {
    nodeCount: nodes ?? pick(prng, [3, 3, 5]),
    tunables: {
      ...DEFAULT_TUNABLES,
      electionTimeoutTicks: pick(prng, [10, 10, 20]),
      preVote: prng.chance(0.8),
      checkQuorum: prng.chance(0.8),
      maxInflightMessages: pick(prng, [1, 4, 64, 256]),
      maxMessageBytes: pick(prng, [200, 4096, 1024 * 1024]),
      maxInflightBytes: 32 * 1024 * 1024,
    },
    dropRate: pick(prng, [0, 0.01, 0.05, 0.2]),
    duplicateRate: pick(prng, [0, 0.02, 0.1]),
    delayMaxMs: pick(prng, [3, 10, 40]),
    diskLatencyMs: pick(prng, [[0.1, 0.5], [0.5, 3], [2, 15]] as const),
    compactEvery: pick(prng, [0, 8, 30, 200]),
    faultEveryMs: pick(prng, [[30, 150], [100, 400], [300, 900]] as const),
    clients: prng.int(2, 7),
    keys: prng.int(1, 4),
    membership: false,
    crashDuringWriteRate: pick(prng, [0, 0, 0.002, 0.02]),
    crashAfterVoteRate: pick(prng, [0, 0.1, 0.5]),
    storageFaultRate: 0,
  };
  // A removed node that never learns of its removal keeps campaigning; Pre-Vote and CheckQuorum
  // together keep it from disrupting the cluster (thesis §4.2.3), and raftgres always runs with
  // both, so membership changes are exercised only in that configuration.
  return { ...config, membership: config.tunables.preVote && config.tunables.checkQuorum && prng.chance(0.6) };
}

/**
 * Storage faults are drawn from a PRNG of their own, so adding them left every other choice of
 * an existing seed as it was (seeds in bug reports and tests still replay the same run).
 */
function storageFaultRate(seed: number): number {
  return pick(createPrng(seed ^ 0x2b7e1516), [0, 0, 0.1, 0.3]);
}

export function describeSwarm(c: SwarmConfig): string {
  const t = c.tunables;
  return `nodes=${c.nodeCount} election=${t.electionTimeoutTicks} prevote=${t.preVote} checkquorum=${t.checkQuorum} ` +
    `inflight=${t.maxInflightMessages} maxmsg=${t.maxMessageBytes} drop=${c.dropRate} dup=${c.duplicateRate} ` +
    `delay<=${c.delayMaxMs}ms disk=${c.diskLatencyMs.join("-")}ms compact=${c.compactEvery} ` +
    `faults/${c.faultEveryMs.join("-")}ms crash-in-write=${c.crashDuringWriteRate} crash-after-vote=${c.crashAfterVoteRate} storage=${c.storageFaultRate} ` +
    `clients=${c.clients} keys=${c.keys} membership=${c.membership}`;
}

export class Simulation {
  readonly queue = new EventQueue();
  readonly prng: Prng;
  readonly config: SwarmConfig;
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly history: Operation<unknown, unknown>[] = [];
  readonly workload: Workload<unknown, unknown, unknown>;
  private readonly bugs: SimBugs;
  private readonly faultPhaseMs: number;
  private nextClientId = 1;
  private nextNodeNumber: number;
  private faultCount = 0;
  private failedOps = 0;
  private finished = false;
  /** Operations still waiting for an answer; at the end they count as indeterminate. */
  private readonly inFlight = new Map<number, () => void>();
  private readonly faultLog: string[] = [];
  /** The founding members' bootstrap log: what a wiped node configured with them starts from. */
  private readonly founders: ReturnType<typeof bootstrapState>;
  /** A PRNG of its own for storage faults (see storageFaultRate). */
  private readonly storagePrng: Prng;
  /** Nodes being brought back after a storage fault: removed, then added again empty. */
  private readonly recovering = new Set<NodeId>();
  private storageRefusals = 0;
  /** The fewest voters a configuration proposed in this run may have had. */
  private fewestVoters: number;

  constructor(private readonly options: SimOptions) {
    this.prng = createPrng(options.seed);
    const drawn = { ...swarm(this.prng, options.nodes), storageFaultRate: storageFaultRate(options.seed) };
    const merged = { ...drawn, ...options.overrides, tunables: { ...drawn.tunables, ...options.overrides?.tunables } };
    // Membership changes only where removed nodes cannot disrupt the cluster (see swarm()).
    this.config = { ...merged, membership: merged.membership && merged.tunables.preVote && merged.tunables.checkQuorum };
    this.bugs = { ...NO_BUGS, ...options.bugs };
    this.workload = (options.workload === "dcs" ? dcsWorkload(this.config.keys) : registerWorkload(this.config.keys)) as Workload<unknown, unknown, unknown>;
    this.faultPhaseMs = options.faultPhaseMs ?? 3000;
    this.checker = new SafetyChecker(() => this.queue.now);
    this.network = new SimNetwork(this.queue, this.prng.fork(), (m) => this.nodes.get(m.to)?.receive(m));
    const members: ConfMember[] = [];
    for (let i = 1; i <= this.config.nodeCount; i++) members.push({ id: nodeId(`n${i}`), role: "voter", address: `n${i}:7000` });
    this.nextNodeNumber = this.config.nodeCount + 1;
    this.founders = bootstrapState(members);
    this.fewestVoters = members.length;
    this.storagePrng = createPrng(options.seed ^ 0x3c6ef372);
    for (const member of members) this.addNode(member.id, bootstrapState(members));
  }

  private addNode(id: NodeId, initial = EMPTY_STATE): SimNode {
    const node = new SimNode(id, {
      queue: this.queue,
      prng: this.prng.fork(),
      checker: this.checker,
      tunables: this.config.tunables,
      bugs: this.bugs,
      diskLatencyMs: this.config.diskLatencyMs,
      compactEvery: this.config.compactEvery,
      logger: SILENT_LOGGER,
      createMachine: () => this.workload.createMachine(),
      restoreMachine: (snapshot) => this.workload.restoreMachine(snapshot),
      crashDuringWriteRate: this.config.crashDuringWriteRate,
      crashAfterVoteRate: this.config.crashAfterVoteRate,
      send: (messages) => this.network.send(messages),
      crashedAtFailpoint: (crashed, where) => {
        if (this.queue.now >= this.faultPhaseMs) return;
        crashed.crash();
        this.note(`crash ${crashed.id} ${where}`);
        this.queue.schedule(1 + this.prng.next() * 30, () => crashed.restart());
      },
    }, initial, this.prng.int(-1000, 1000));
    this.nodes.set(id, node);
    // Each node's clock runs at its own rate: tick intervals differ by up to ±10 %.
    const interval = TICK_MS * (0.9 + 0.2 * this.prng.next());
    const tick = (): void => {
      node.tick();
      this.queue.schedule(interval, tick);
    };
    this.queue.schedule(this.prng.next() * interval, tick);
    return node;
  }

  run(): SimResult {
    try {
      return this.runUnguarded();
    } catch (error: unknown) {
      // A broken assertion inside the core or the simulated runtime fails the seed, with its id.
      const message = error instanceof Error ? error.stack?.split("\n").slice(0, 6).join("\n") ?? error.message : String(error);
      return { seed: this.options.seed, ok: false, failures: [`exception: ${message}`, `faults: ${this.faultLog.slice(-12).join("; ")}`], config: describeSwarm(this.config), stats: this.stats(0) };
    }
  }

  private runUnguarded(): SimResult {
    this.network.faults = { dropRate: this.config.dropRate, duplicateRate: this.config.duplicateRate, delayMinMs: 0.5, delayMaxMs: this.config.delayMaxMs };
    for (let c = 0; c < this.config.clients; c++) this.startClient(this.nextClientId++, c);
    this.scheduleFault();
    const failures: string[] = [];
    const end = this.faultPhaseMs * 2;
    let events = 0;
    while (this.queue.runNext(end)) {
      if (!this.checker.ok()) break;
      if (++events > EVENTS_MAX) {
        failures.push(`the run exceeded its budget of ${EVENTS_MAX} events at t=${this.queue.now.toFixed(0)}ms (a message storm?)`);
        break;
      }
    }
    this.finished = true;
    for (const abandon of [...this.inFlight.values()]) abandon();
    failures.push(...this.checker.violations);
    if (failures.length === 0) failures.push(...this.checkLiveness());
    if (failures.length === 0) failures.push(...this.checkLinearizable());
    return {
      seed: this.options.seed,
      ok: failures.length === 0,
      failures: failures.length === 0 ? [] : [...failures, `faults: ${this.faultLog.slice(-12).join("; ")}`],
      config: describeSwarm(this.config),
      stats: this.stats(events),
    };
  }

  private stats(events: number): SimStats {
    return {
      nodes: this.nodes.size,
      ops: this.history.length + this.failedOps,
      okOps: this.history.filter((o) => o.output !== undefined).length,
      indeterminateOps: this.history.filter((o) => o.output === undefined).length,
      failedOps: this.failedOps,
      faults: this.faultCount,
      leaders: this.checker.leadersElected(),
      maxTerm: this.checker.maxTerm(),
      messages: this.network.sent,
      dropped: this.network.dropped,
      events,
      storageRefusals: this.storageRefusals,
    };
  }

  // ---- clients ---------------------------------------------------------------------------------

  private startClient(clientId: number, actor: number): void {
    this.queue.schedule(this.prng.next() * 50, () => this.clientStep(clientId, actor));
  }

  /** `actor` is the logical client (0 … clients-1), stable while its lincheck client id changes. */
  private clientStep(clientId: number, actor: number): void {
    if (this.queue.now > this.faultPhaseMs * 2 - 200 || this.finished) return;
    const op = this.workload.nextOp(this.prng, actor);
    const live = [...this.nodes.values()].filter((n) => n.isUp());
    const target = live.length > 0 ? pick(this.prng, live) : pick(this.prng, [...this.nodes.values()]);
    const call = this.queue.now;
    let finished = false;
    const finish = (output: unknown, failed: boolean): void => {
      if (finished) return;
      finished = true;
      this.inFlight.delete(clientId);
      if (failed) this.failedOps++;
      else this.history.push({ clientId, call, return: output === undefined ? Infinity : this.queue.now, input: op.input, output });
      // A client that never learned an outcome continues as a new client (lincheck's rule).
      const next = output === undefined && !failed ? this.nextClientId++ : clientId;
      this.queue.schedule(this.prng.next() * 20, () => this.clientStep(next, actor));
    };
    this.inFlight.set(clientId, () => finish(undefined, op.read));
    target.submit(op, this.prng.chance(0.5), (outcome) => {
      if (outcome.kind === "ok") finish(this.workload.output(op, outcome.result, actor), false);
      else finish(undefined, outcome.kind === "failed" || op.read);
    });
    this.queue.schedule(CLIENT_TIMEOUT_MS, () => {
      // An unanswered read changed nothing: drop it. Unanswered writes may have taken effect.
      finish(undefined, op.read);
    });
  }

  // ---- faults ----------------------------------------------------------------------------------

  private scheduleFault(): void {
    const [lo, hi] = this.config.faultEveryMs;
    this.queue.schedule(lo + this.prng.next() * (hi - lo), () => {
      if (this.queue.now >= this.faultPhaseMs) {
        this.healEverything();
        return;
      }
      this.injectFault();
      this.scheduleFault();
    });
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      const status = node.raw?.status();
      if (status?.role === "leader" && status.term > bestTerm) [best, bestTerm] = [node, status.term];
    }
    return best;
  }

  private note(what: string): void {
    this.faultCount++;
    if (this.faultLog.length > 200) this.faultLog.shift();
    this.faultLog.push(`${this.queue.now.toFixed(0)}ms ${what}`);
  }

  private injectFault(): void {
    const all = [...this.nodes.values()];
    const ids = all.map((n) => n.id);
    const roll = this.prng.next();
    if (roll < 0.2) {
      const up = all.filter((n) => n.isUp());
      if (up.length > 0) {
        const victim = this.prng.chance(0.4) ? this.leader() ?? pick(this.prng, up) : pick(this.prng, up);
        victim.crash();
        this.note(`crash ${victim.id}`);
        // Most peers see the crashed process's connections close (kernel resets them).
        for (const node of all) if (node !== victim && this.prng.chance(0.8)) node.leaderGone(victim.id);
      }
    } else if (roll < 0.35) {
      const down = all.filter((n) => !n.isUp());
      if (down.length > 0) {
        const node = pick(this.prng, down);
        if (this.storagePrng.chance(this.config.storageFaultRate) && this.mayLoseStorage(node)) this.restartAfterStorageLoss(node);
        else {
          node.restart();
          this.note(`restart ${node.id}`);
        }
      }
    } else if (roll < 0.55) {
      this.partition(ids);
    } else if (roll < 0.7) {
      this.network.heal();
      this.note("heal network");
    } else if (roll < 0.78) {
      const node = pick(this.prng, all);
      node.clockOffsetMs += this.prng.chance(0.5) ? 5000 : -5000;
      this.note(`clock jump on ${node.id}`);
    } else if (roll < 0.86) {
      const leader = this.leader();
      const status = leader?.raw?.status();
      if (leader !== undefined && status !== undefined) {
        const target = pick(this.prng, voters(status.confState));
        leader.transferLeader(target);
        this.note(`transfer ${leader.id} -> ${target}`);
      }
    } else if (this.config.membership) {
      this.changeMembership();
    }
  }

  /**
   * Raft survives f of 2f + 1 voters losing their data, one at a time, not a majority: a storage
   * fault strikes only while fewer than f members are being brought back.
   */
  private mayLoseStorage(node: SimNode): boolean {
    // The way back is a membership change, exercised only where Pre-Vote and CheckQuorum keep a
    // node that cannot win from disrupting the rest (see swarm()); raftgres always runs so.
    if (!this.config.tunables.preVote || !this.config.tunables.checkQuorum) return false;
    if (node.isRefused() || this.recovering.has(node.id)) return false;
    // Counted in the smallest configuration there may have been: a committed removal may be
    // known to a few nodes only, some of them down.
    return this.recovering.size < Math.floor((this.fewestVoters - 1) / 2);
  }

  private restartAfterStorageLoss(node: SimNode): void {
    const loss = this.storagePrng.chance(0.3) ? "wipe" : "tail";
    const outcome = node.restartAfterStorageLoss(loss, this.founders);
    this.note(`restart ${node.id} after losing ${loss === "wipe" ? "its data directory" : "its log's tail"}: ${outcome}`);
    if (outcome === "refused") this.storageRefusals++;
    if (outcome === "refused" && !this.recovering.has(node.id)) {
      this.recovering.add(node.id);
      this.queue.schedule(50, () => this.recoverStep(node));
    }
  }

  /**
   * The operator's procedure for a node that refused to start (src/agent/recovery.ts): once the
   * group no longer counts it, it starts empty as a joining node, is added as a learner, and
   * becomes a voter again when it has caught up. One step every 50 virtual ms, faults or not.
   */
  private recoverStep(node: SimNode, removal: { leader: NodeId; term: number; index: number } | null = null): void {
    const leader = this.leader();
    const status = leader?.raw?.status();
    const member = status?.confState.members.find((m) => m.id === node.id);
    let seen = removal;
    if (leader !== undefined && status !== undefined) {
      if (node.isRefused()) {
        // `members remove` returns once the removal is committed: until then a new leader may
        // not know it, and an empty log that still counts as a voter would vote for anyone.
        if (member !== undefined) {
          leader.proposeConfChange({ kind: "remove", id: node.id, address: "" });
          seen = null;
        } else if (seen === null || seen.leader !== leader.id || seen.term !== status.term) {
          seen = { leader: leader.id, term: status.term, index: status.lastIndex };
        } else if (status.commit >= seen.index) {
          node.rejoinEmpty();
          this.note(`${node.id} rejoins with an empty log`);
        }
      } else if (member === undefined) {
        leader.proposeConfChange({ kind: "addLearner", id: node.id, address: `${node.id}:7000` });
      } else if (member.role === "learner" && node.isUp() && node.machine.appliedIndex >= status.commit) {
        leader.proposeConfChange({ kind: "addVoter", id: node.id, address: member.address });
      } else if (member.role === "voter") {
        this.recovering.delete(node.id);
        this.note(`${node.id} votes again`);
        return;
      }
    }
    this.queue.schedule(50, () => this.recoverStep(node, seen));
  }

  private partition(ids: NodeId[]): void {
    this.network.heal();
    const shuffled = [...ids].sort(() => this.prng.next() - 0.5);
    const kind = this.prng.int(0, 4);
    if (kind === 0) {
      const cut = this.prng.int(1, shuffled.length);
      this.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      this.note(`partition ${shuffled.slice(0, cut).join(",")} | ${shuffled.slice(cut).join(",")}`);
    } else if (kind === 1) {
      const leader = this.leader()?.id ?? shuffled[0]!;
      this.network.partition([[leader], ids.filter((id) => id !== leader)]);
      this.note(`isolate leader ${leader}`);
    } else if (kind === 2) {
      for (let i = 0; i < this.prng.int(1, 4); i++) this.network.cutLink(pick(this.prng, ids), pick(this.prng, ids));
      this.note(`one-way cuts ${this.network.describeCuts()}`);
    } else {
      // A bridge: two sides that only the middle node can reach.
      const [middle, ...rest] = shuffled;
      const half = Math.ceil(rest.length / 2);
      const left = rest.slice(0, half);
      const right = rest.slice(half);
      for (const a of left) for (const b of right) {
        this.network.cutLink(a, b);
        this.network.cutLink(b, a);
      }
      this.note(`bridge ${left.join(",")} <${middle}> ${right.join(",")}`);
    }
  }

  private changeMembership(): void {
    const leader = this.leader();
    const status = leader?.raw?.status();
    if (leader === undefined || status === undefined) return;
    const conf = status.confState;
    const learners = conf.members.filter((m) => m.role === "learner");
    const voterIds = voters(conf);
    if (learners.length > 0 && this.prng.chance(0.7)) {
      const learner = pick(this.prng, learners);
      leader.proposeConfChange({ kind: "addVoter", id: learner.id, address: learner.address });
      this.note(`promote ${learner.id}`);
    } else if (voterIds.length > 3 && this.prng.chance(0.5) && this.recovering.size === 0) {
      const victim = pick(this.prng, voterIds);
      this.fewestVoters = Math.min(this.fewestVoters, voterIds.length - 1);
      leader.proposeConfChange({ kind: "remove", id: victim, address: "" });
      this.note(`remove ${victim}`);
    } else if (this.nodes.size < 8) {
      const id = nodeId(`n${this.nextNodeNumber++}`);
      this.addNode(id);
      leader.proposeConfChange({ kind: "addLearner", id, address: `${id}:7000` });
      this.note(`add learner ${id}`);
    }
  }

  private healEverything(): void {
    this.network.heal();
    this.network.faults = { ...CALM_NETWORK };
    for (const node of this.nodes.values()) node.restart();
    this.note("heal everything");
  }

  // ---- final checks ----------------------------------------------------------------------------

  private checkLiveness(): string[] {
    const failures: string[] = [];
    const leader = this.leader();
    if (leader === undefined) return [`liveness: no leader ${this.faultPhaseMs} ms after every fault healed`];
    const conf = leader.raw!.status().confState;
    const members = conf.members.map((m) => this.nodes.get(m.id)).filter((n): n is SimNode => n !== undefined);
    const applied = members.map((n) => `${n.id}:${n.machine.appliedIndex}`);
    const fingerprints = new Set(members.map((n) => n.machine.fingerprint()));
    const indexes = new Set(members.map((n) => n.machine.appliedIndex));
    if (indexes.size > 1 || fingerprints.size > 1) failures.push(`liveness: members did not converge (${applied.join(" ")})`);
    const healedAt = this.faultPhaseMs + 1000;
    if (!this.history.some((o) => o.call >= healedAt && o.output !== undefined)) {
      failures.push("liveness: no client operation succeeded after the cluster healed");
    }
    return failures;
  }

  private checkLinearizable(): string[] {
    const result = check(this.workload.model, this.history, { timeoutMs: 20_000 });
    if (result.result === "ok") return [];
    if (result.result === "unknown") return [`linearizability: unknown (checker budget ran out)`];
    return [`linearizability: ${explain(result).slice(0, 3000)}`];
  }
}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
