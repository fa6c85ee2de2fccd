/**
 * The five scenarios of the failover benchmark (issue 7 item 6), each acting on the primary of a
 * healthy ClusterUnderTest and returning once its fault is over (the killed agent restarted, the
 * frozen agent thawed, the network healed) and the clients have been seen writing again:
 * S1 node crash, S2 planned switchover, S3 postmaster crash, S4 agent frozen, S5 partition.
 */
import type { ClusterUnderTest } from "../../lab/jepsen/cluster.js";
import { waitFor } from "../../lab/pg_cluster.js";
import type { WriteLog } from "../../lab/jepsen/writers.js";

export type ScenarioId = "S1" | "S2" | "S3" | "S4" | "S5";
export const SCENARIOS: readonly ScenarioId[] = ["S1", "S2", "S3", "S4", "S5"];

export const TITLES: Readonly<Record<ScenarioId, string>> = {
  S1: "node crash (agent and postmaster SIGKILL)",
  S2: "planned switchover (POST /switchover)",
  S3: "postmaster crash (SIGKILL)",
  S4: "agent frozen (SIGSTOP) for 40 s",
  S5: "primary partitioned from its peers, reachable by clients",
};

/** S4: how long the primary's agent stays frozen (issue 7). */
export const FREEZE_MS = 40_000;
/** S5: how long the partition holds: several lease ttls (5 s), so the outcome has settled. */
export const PARTITION_MS = 20_000;
/** How long the clients may take to write again after a crash or switchover before the run goes on without them. */
export const RECOVERY_TIMEOUT_MS = 60_000;

export interface Bench {
  readonly cluster: ClusterUnderTest;
  readonly log: WriteLog;
  /** The clients whose downtime the benchmark reports: a run ends once each writes on the primary. */
  readonly writers: readonly string[];
}

export interface Injected {
  /** When the fault was injected (log clock): the kill, the request, the SIGSTOP, the partition. */
  readonly faultMs: number;
  /** When the fault was over (log clock). */
  readonly healedMs: number;
  /** What happened, for the run's line. */
  readonly note: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every measured writer had a write started at or after `sinceMs` acknowledged by a node `accept` takes. */
export async function clientsWriting(bench: Bench, sinceMs: number, accept: (node: string) => boolean): Promise<string> {
  const acks = await Promise.all(bench.writers.map((w) => bench.log.firstAck(w, sinceMs, accept, RECOVERY_TIMEOUT_MS)));
  return bench.writers.map((w, i) => `${w} ${acks[i] === null ? `not writing within ${RECOVERY_TIMEOUT_MS} ms` : `writing on ${acks[i]!.node}`}`).join(", ");
}

async function nodeCrash(bench: Bench, primary: string): Promise<Injected> {
  const faultMs = bench.log.now();
  bench.cluster.killAgent(primary);
  bench.cluster.killPostmaster(primary);
  const writing = await clientsWriting(bench, faultMs, (node) => node !== primary);
  await bench.cluster.pg.agentExited(primary).catch(() => {});
  bench.cluster.startAgent(primary);
  return { faultMs, healedMs: bench.log.now(), note: `${writing}; ${primary}'s agent restarted` };
}

async function postmasterCrash(bench: Bench, primary: string): Promise<Injected> {
  const faultMs = bench.log.now();
  bench.cluster.killPostmaster(primary);
  const writing = await clientsWriting(bench, faultMs, () => true);
  return { faultMs, healedMs: bench.log.now(), note: writing };
}

async function switchover(bench: Bench, primary: string): Promise<Injected> {
  const { cluster } = bench;
  const api = (node: string, path: string, init?: RequestInit): Promise<Response> => fetch(`${cluster.apiUrl(node)}${path}`, { ...init, signal: AbortSignal.timeout(60_000) });
  // Members report their WAL positions every loop_wait: wait until a candidate's report caught up.
  const candidate = await waitFor("a caught-up candidate", 30_000, async () => {
    const members = ((await (await api(primary, "/cluster")).json()) as { members: { name: string; lag?: unknown }[] }).members;
    return members.find((m) => m.name !== primary && m.lag === 0)?.name;
  });
  const via = cluster.nodes.find((n) => n !== primary && n !== candidate) ?? candidate;
  const faultMs = bench.log.now();
  const answer = await api(via, "/switchover", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ leader: primary, candidate }) });
  const text = await answer.text();
  if (answer.status !== 200) throw new Error(`POST /switchover ${primary} → ${candidate} through ${via}: ${answer.status} ${text}`);
  const writing = await clientsWriting(bench, faultMs, (node) => node === candidate);
  return { faultMs, healedMs: bench.log.now(), note: `${primary} → ${candidate} requested through ${via}; ${writing}` };
}

async function agentFreeze(bench: Bench, primary: string): Promise<Injected> {
  const faultMs = bench.log.now();
  bench.cluster.freeze(primary, "agent");
  try {
    await sleep(Math.max(0, FREEZE_MS - (bench.log.now() - faultMs)));
  } finally {
    bench.cluster.thaw(primary, "agent");
  }
  return { faultMs, healedMs: bench.log.now(), note: `${primary}'s agent thawed after ${Math.round(bench.log.now() - faultMs)} ms` };
}

async function partition(bench: Bench, primary: string): Promise<Injected> {
  const { cluster } = bench;
  const others = cluster.nodes.filter((n) => n !== primary);
  const faultMs = bench.log.now();
  await cluster.partition([[primary], others], { clients: true });
  const appliedMs = Math.round(bench.log.now() - faultMs);
  try {
    await sleep(Math.max(0, PARTITION_MS - (bench.log.now() - faultMs)));
  } finally {
    await cluster.healNetwork();
  }
  return { faultMs, healedMs: bench.log.now(), note: `partition [${primary}] | [${others.join(", ")}] in force after ${appliedMs} ms, healed after ${Math.round(bench.log.now() - faultMs)} ms` };
}

export const INJECT: Readonly<Record<ScenarioId, (bench: Bench, primary: string) => Promise<Injected>>> = {
  S1: nodeCrash,
  S2: switchover,
  S3: postmasterCrash,
  S4: agentFreeze,
  S5: partition,
};
