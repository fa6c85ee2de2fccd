/**
 * bench:dcs's capacity part (issue 13): how many PostgreSQL clusters of 3 members one Raft group
 * of three nodes (think witnesses) serves. Each run starts three fresh DCS node processes (fsync
 * on, the agent's Raft timings: heartbeat 250 ms, election timeout 1000 ms) and a load process
 * sending what real agents at rest send (dcs_agents_load.ts), with a failover storm of 10 % of
 * the clusters within one second halfway through the measurement. A run is served when the p99
 * of send → applied-at-that-node is ≤ 50 ms, the storm's commands too, no healthy primary lost
 * its lease, every failover completed and nothing went unanswered. The count doubles from
 * CAPACITY_START until a run is not served, then two bisections narrow it.
 */
import { join } from "node:path";
import type { AgentsLoadResult, AgentsLoadSpec } from "./dcs_agents_load.js";
import type { DcsNodeSpec } from "./dcs_bench_node.js";
import { agentEntriesPerSecond, type Cadence } from "./dcs_bench_workload.js";
import { killChildren, readLines, removeTempDir, spawnScript, startNode, tempDir } from "./dcs_bench_processes.js";
import { connect, findLeader, freePort, type RunningNode } from "./raft_bench_cluster.js";

const MEMBERS = 3;
const CAPACITY_START = 500;
/** The DCS's own limit is 10,000 scopes (DEFAULT_LIMITS.scopesMax). */
const CAPACITY_MAX = 8000;
const P99_MS_MAX = 50;
const STORM_FRACTION = 0.1;
const RUN_TIMEOUT_MS = 4 * 60_000;

export interface CapacityRun {
  readonly clusters: number;
  readonly served: boolean;
  readonly line: string;
}

async function startGroup(root: string): Promise<{ nodes: RunningNode[]; leader: RunningNode }> {
  const ids = ["n1", "n2", "n3"];
  const ports = await Promise.all(ids.map(async () => ({ raft: await freePort(), client: await freePort() })));
  const members = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]!.raft}` }));
  const nodes: RunningNode[] = [];
  for (const [i, id] of ids.entries()) {
    const spec: DcsNodeSpec = { id, dir: join(root, id), raftPort: ports[i]!.raft, clientPort: ports[i]!.client, members, heartbeatMs: 250, electionTimeoutMs: 1000, snapshotEveryEntries: 10_000, historyMax: 1000, restart: null };
    nodes.push({ spec, process: await startNode(spec), client: null });
  }
  for (const n of nodes) await connect(n);
  return { nodes, leader: await findLeader(nodes) };
}

function describe(clusters: number, cadence: Cadence, r: AgentsLoadResult, served: boolean): string {
  const unavailable = Object.values(r.unavailable).reduce((sum, c) => sum + c, 0);
  return `${clusters} clusters × ${MEMBERS} members at loop_wait ${cadence.loopWaitS} s (ttl ${cadence.ttlS} s, ${(clusters * agentEntriesPerSecond(cadence, MEMBERS)).toFixed(0)} commands/s at rest): `
    + `${served ? "served" : "NOT served"}; bootstrap ${(r.setupMs / 1000).toFixed(1)} s; measured ${r.seconds.toFixed(1)} s, ${r.accepted} applied, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms; `
    + `storm: ${r.failoversDone}/${r.failovers} failovers within a second, p99 ${r.stormP99Ms.toFixed(1)} ms; leases lost by healthy primaries ${r.leaseLost}; unavailable ${unavailable}, unanswered ${r.unanswered}; sends behind schedule by at most ${r.sendLagMaxMs.toFixed(0)} ms`;
}

export async function capacityRun(clusters: number, cadence: Cadence): Promise<CapacityRun> {
  const root = tempDir("dcs-bench-capacity-");
  try {
    const { nodes } = await startGroup(root);
    const measureSeconds = Math.max(20, 3 * cadence.loopWaitS);
    const spec: AgentsLoadSpec = {
      urls: nodes.map((n) => `ws://127.0.0.1:${n.spec.clientPort}`),
      scopes: clusters,
      membersPerScope: MEMBERS,
      cadence,
      warmupSeconds: Math.max(5, 1.5 * cadence.loopWaitS),
      measureSeconds,
      storm: { atS: measureSeconds / 2, fraction: STORM_FRACTION },
      deadlineMs: RUN_TIMEOUT_MS,
    };
    const load = spawnScript("dcs_agents_load", spec);
    let result: AgentsLoadResult | null = null;
    const code = await readLines(load, (line) => {
      const message = JSON.parse(line) as { phase?: string };
      if (message.phase === undefined) {
        result = message as AgentsLoadResult;
        load.stdin!.end();
      }
    });
    for (const n of nodes) n.client?.close();
    if (code !== 0 || result === null) return { clusters, served: false, line: `${clusters} clusters at loop_wait ${cadence.loopWaitS} s: the load process exited with ${code}` };
    const r: AgentsLoadResult = result;
    const unavailable = Object.values(r.unavailable).reduce((sum, c) => sum + c, 0);
    const served = r.p99Ms <= P99_MS_MAX && r.stormP99Ms <= P99_MS_MAX && r.leaseLost === 0 && r.failoversDone === r.failovers && unavailable === 0 && r.unanswered === 0;
    return { clusters, served, line: describe(clusters, cadence, r, served) };
  } finally {
    killChildren();
    removeTempDir(root);
  }
}

/** The largest number of clusters served at `cadence`, with a line per run. */
export async function capacity(cadence: Cadence, say: (line: string) => void): Promise<number> {
  let served = 0;
  let failed = Infinity;
  const run = async (clusters: number): Promise<void> => {
    const result = await capacityRun(clusters, cadence);
    say(`capacity: ${result.line}`);
    if (result.served) served = Math.max(served, clusters);
    else failed = Math.min(failed, clusters);
  };
  for (let clusters = CAPACITY_START; clusters <= CAPACITY_MAX && failed === Infinity; clusters *= 2) await run(clusters);
  for (let i = 0; i < 2 && failed !== Infinity && failed - served > Math.max(50, served / 8); i++) {
    await run(Math.round((served + failed) / 2 / 50) * 50);
  }
  return served;
}
