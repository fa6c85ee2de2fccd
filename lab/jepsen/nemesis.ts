/**
 * The faults, each a start and an end (the end heals what the start did), and the seeded
 * schedule that picks them. A fault acts on the cluster through the FaultTarget, which the
 * cluster under test implements with real signals, iptables rules in the nodes' namespaces, delay
 * proxies on the links and the agents' clock-fault files.
 *
 * Each start names its victims, the nodes it acted on, for the failover-causes checker: the node
 * killed, frozen, skewed or losing packets; for a partition the nodes cut off from a majority
 * (partition-halves: the minority; partition-bridge: the two sides, each cut from the other half
 * of its peers); every node for delay and restart-all; the member added or removed for
 * membership (a Raft-level change must not move the primary).
 */
import type { Prng } from "../../src/lib/prng.js";

export interface FaultTarget {
  readonly nodes: readonly string[];
  /** The member answering as primary now, if exactly one does. */
  primary(): Promise<string | null>;
  /** The Raft leader now (the node claiming it in the highest term), if any. */
  raftLeader(): Promise<string | null>;
  killAgent(node: string): void;
  killPostmaster(node: string): void;
  startAgent(node: string): Promise<void>;
  /** SIGSTOP / SIGCONT of the agent process, or of the postmaster's process group. */
  freeze(node: string, what: "agent" | "postgres"): void;
  thaw(node: string, what: "agent" | "postgres"): void;
  partition(groups: readonly (readonly string[])[], options: { readonly clients: boolean }): Promise<void>;
  dropOneWay(from: string, to: string): Promise<void>;
  loss(node: string, probability: number): Promise<void>;
  delay(node: string, ms: number, jitterMs: number): Promise<void>;
  clock(node: string, offsetMs: number, rate: number): void;
  /** Removes every network fault (partitions, loss, delay). */
  healNetwork(): Promise<void>;
  /** Moves the Raft leadership to `node` (a membership operation the cluster must survive). */
  transferRaftLeader(node: string): Promise<string>;
  /** Removes `node` from the Raft group and adds it back (as a learner, promoted once caught up). */
  cycleRaftMember(node: string): Promise<string>;
}

/** What a fault's start did: a sentence for the report, and the nodes it acted on. */
export interface FaultStart {
  readonly detail: string;
  readonly victims: readonly string[];
}

export interface Fault {
  readonly name: string;
  /**
   * When a victim is the Raft leader, the fault also reaches the lease of the primary of that
   * moment: its renewals go through the Raft leader (a kill, a freeze, a cut, lost packets) or
   * carry the Raft leader's clock (a clock fault).
   */
  readonly viaRaftLeader: boolean;
  /** How long the fault is held when the schedule picks it (default: 3–12 s drawn per step). */
  readonly holdMs?: number;
  /** Applies the fault. */
  start(target: FaultTarget, prng: Prng): Promise<FaultStart>;
  end(target: FaultTarget): Promise<void>;
}

const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(0, items.length)]!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function victim(target: FaultTarget, prng: Prng): Promise<string> {
  // Faults on the primary find the most; a third of them hit a replica.
  const primary = await target.primary();
  return primary !== null && !prng.chance(0.33) ? primary : pick(prng, target.nodes);
}

function others(target: FaultTarget, node: string): string[] {
  return target.nodes.filter((n) => n !== node);
}

type Start = (t: FaultTarget, prng: Prng, memo: Map<string, unknown>) => Promise<FaultStart>;

/** Builds a fault that remembers what it did between start and end. */
function fault(name: string, viaRaftLeader: boolean, start: Start, end: (t: FaultTarget, memo: Map<string, unknown>) => Promise<void>, holdMs?: number): Fault {
  const memo = new Map<string, unknown>();
  return {
    name,
    viaRaftLeader,
    ...(holdMs === undefined ? {} : { holdMs }),
    start: (t, prng) => {
      memo.clear();
      return start(t, prng, memo);
    },
    end: (t) => end(t, memo),
  };
}

const started = (detail: string, victims: readonly string[]): FaultStart => ({ detail, victims });

/** How long partition-primary-leader holds its cut: long enough for a failover and for the Raft log to move on. */
export const PRIMARY_LEADER_PARTITION_MS = 25_000;
/** How long partition-primary-leader waits for the Raft leadership to reach the primary. */
const LEADER_TRANSFER_WAIT_MS = 5000;

/**
 * Issue 14's scenario: the primary is also the Raft leader (moved there first when it is not),
 * then cut off from its peers while clients still reach it; the heal brings a stale Raft leader
 * and a stale primary back at once.
 */
async function partitionPrimaryLeader(t: FaultTarget): Promise<FaultStart> {
  const began = Date.now();
  const primary = await t.primary();
  if (primary === null) return started("no single primary to cut off: nothing done", []);
  const before = await t.raftLeader();
  let moved = "";
  if (before !== primary) {
    const answer = await t.transferRaftLeader(primary);
    moved = `; the Raft leadership first moved from ${before ?? "nobody"} (${answer.slice(0, 60)})`;
    const deadline = Date.now() + LEADER_TRANSFER_WAIT_MS;
    while (Date.now() < deadline && (await t.raftLeader()) !== primary) await sleep(200);
  }
  const leader = await t.raftLeader();
  await t.partition([[primary], others(t, primary)], { clients: true });
  const role = leader === primary ? "primary and Raft leader" : `primary; the Raft leader is ${leader ?? "unknown"}`;
  // The transfer may take a while (it times out at 10 s under delay): say when the cut came.
  const late = Date.now() - began >= 1000 ? `; cut ${((Date.now() - began) / 1000).toFixed(1)} s after the fault began` : "";
  return started(`${primary} (${role}) cut off from its peers, still reachable by clients${moved}${late}`, [primary]);
}

export const FAULTS: Readonly<Record<string, Fault>> = {
  "kill-agent": fault("kill-agent", true, async (t, prng, memo) => {
    const node = await victim(t, prng);
    t.killAgent(node);
    memo.set("node", node);
    return started(`kill -9 the agent of ${node}`, [node]);
  }, async (t, memo) => t.startAgent(memo.get("node") as string)),
  "kill-postgres": fault("kill-postgres", false, async (t, prng) => {
    const node = await victim(t, prng);
    t.killPostmaster(node);
    return started(`kill -9 the postmaster of ${node}`, [node]);
  }, async () => {}),
  "kill-both": fault("kill-both", true, async (t, prng, memo) => {
    const node = await victim(t, prng);
    t.killAgent(node);
    t.killPostmaster(node);
    memo.set("node", node);
    return started(`kill -9 the agent and the postmaster of ${node}`, [node]);
  }, async (t, memo) => t.startAgent(memo.get("node") as string)),
  "freeze-agent": fault("freeze-agent", true, async (t, prng, memo) => {
    const node = await victim(t, prng);
    t.freeze(node, "agent");
    memo.set("node", node);
    return started(`SIGSTOP the agent of ${node}`, [node]);
  }, async (t, memo) => t.thaw(memo.get("node") as string, "agent")),
  "freeze-postgres": fault("freeze-postgres", false, async (t, prng, memo) => {
    const node = await victim(t, prng);
    t.freeze(node, "postgres");
    memo.set("node", node);
    return started(`SIGSTOP the PostgreSQL processes of ${node}`, [node]);
  }, async (t, memo) => t.thaw(memo.get("node") as string, "postgres")),
  "partition-primary": fault("partition-primary", true, async (t, prng) => {
    const node = await victim(t, prng);
    await t.partition([[node], others(t, node)], { clients: true });
    return started(`${node} cut off from its peers, still reachable by clients`, [node]);
  }, async (t) => t.healNetwork()),
  "partition-primary-leader": fault("partition-primary-leader", true, async (t) => partitionPrimaryLeader(t), async (t) => t.healNetwork(), PRIMARY_LEADER_PARTITION_MS),
  "partition-halves": fault("partition-halves", true, async (t, prng) => {
    const shuffled = [...t.nodes].sort(() => prng.next() - 0.5);
    const cut = Math.floor(shuffled.length / 2);
    const minority = shuffled.slice(0, cut);
    const majority = shuffled.slice(cut);
    await t.partition([minority, majority], { clients: true });
    return started(`majority ${majority.join(",")} | minority ${minority.join(",")}`, minority);
  }, async (t) => t.healNetwork()),
  "partition-bridge": fault("partition-bridge", true, async (t, prng) => {
    const shuffled = [...t.nodes].sort(() => prng.next() - 0.5);
    const [bridge, ...rest] = shuffled as [string, ...string[]];
    const half = Math.ceil(rest.length / 2);
    const left = rest.slice(0, half);
    const right = rest.slice(half);
    // Two groups that cannot see each other, both seeing the bridge node.
    await t.partition([[...left, bridge], [...right, bridge]], { clients: true });
    return started(`${left.join(",")} ↔ ${bridge} ↔ ${right.join(",")}`, rest);
  }, async (t) => t.healNetwork()),
  "one-way": fault("one-way", true, async (t, prng) => {
    const from = await victim(t, prng);
    for (const to of others(t, from)) await t.dropOneWay(from, to);
    return started(`packets from ${from} to its peers dropped (the other way passes)`, [from]);
  }, async (t) => t.healNetwork()),
  "loss": fault("loss", true, async (t, prng) => {
    const node = await victim(t, prng);
    const probability = 0.1 + prng.next() * 0.3;
    await t.loss(node, probability);
    return started(`${Math.round(probability * 100)} % packet loss on ${node}`, [node]);
  }, async (t) => t.healNetwork()),
  "delay": fault("delay", true, async (t, prng) => {
    const ms = 50 + prng.int(0, 250);
    for (const node of t.nodes) await t.delay(node, ms, Math.round(ms / 4));
    return started(`${ms} ms (±${Math.round(ms / 4)}) on every link`, t.nodes);
  }, async (t) => t.healNetwork()),
  "clock": fault("clock", true, async (t, prng, memo) => {
    const node = pick(prng, t.nodes);
    // Within the documented bound (the watchdog margin, 1 s): entry times come from the Raft leader's clock.
    const offsetMs = (prng.chance(0.5) ? 1 : -1) * prng.int(100, 800);
    const rate = 0.9 + prng.next() * 0.2;
    t.clock(node, offsetMs, rate);
    memo.set("node", node);
    return started(`${node}'s wall clock ${offsetMs > 0 ? "+" : ""}${offsetMs} ms, rate ${rate.toFixed(2)}`, [node]);
  }, async (t, memo) => t.clock(memo.get("node") as string, 0, 1)),
  "restart-all": fault("restart-all", true, async (t) => {
    for (const node of t.nodes) t.killAgent(node);
    for (const node of t.nodes) await t.startAgent(node);
    return started("every agent killed and started again at once", t.nodes);
  }, async () => {}),
  "membership": fault("membership", false, async (t, prng) => {
    const primary = await t.primary();
    const replicas = t.nodes.filter((n) => n !== primary);
    const node = pick(prng, replicas.length > 0 ? replicas : t.nodes);
    if (prng.chance(0.5)) return started(await t.transferRaftLeader(node), [node]);
    return started(await t.cycleRaftMember(node), [node]);
  }, async () => {}),
};

export const ALL_FAULTS = Object.keys(FAULTS);

/** `all`, or a comma-separated list of fault names. */
export function parseFaults(spec: string): string[] {
  if (spec === "all") return ALL_FAULTS;
  const names = spec.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = names.filter((n) => FAULTS[n] === undefined);
  if (unknown.length > 0) throw new Error(`unknown fault(s) ${unknown.join(", ")}; known: ${ALL_FAULTS.join(", ")}, or all`);
  return names;
}

export interface Step {
  /** Applied in order, healed in reverse order. */
  readonly faults: readonly Fault[];
  /** How long the faults last before they are healed. */
  readonly durationMs: number;
}

/** Of the steps, this share combines two faults (a membership change during a partition, say). */
export const COMBINED_SHARE = 0.3;

/**
 * The next step of the schedule: a seeded choice among `names` (sometimes two at once) held for
 * `holdMs` if given, else for the longest hold of the faults chosen, else for 3–12 s. The draws
 * are the same whatever the hold, so a seed picks the same faults.
 */
export function nextStep(prng: Prng, names: readonly string[], holdMs?: number): Step {
  const first = pick(prng, names);
  const faults = [FAULTS[first]!];
  const rest = names.filter((n) => n !== first);
  if (rest.length > 0 && prng.chance(COMBINED_SHARE)) faults.push(FAULTS[pick(prng, rest)]!);
  const drawn = 3000 + prng.int(0, 9000);
  const held = faults.flatMap((f) => (f.holdMs === undefined ? [] : [f.holdMs]));
  return { faults, durationMs: holdMs ?? (held.length > 0 ? Math.max(...held) : drawn) };
}
