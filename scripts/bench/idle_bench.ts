/**
 * npm run bench:idle — what an idle cluster costs (issue 13). Three agents with real PostgreSQL
 * on 127.0.0.1, default settings (ttl 5, loop_wait 1), idle for --seconds (60) once they have
 * settled; then again after `loop_wait: 10, ttl: 30` (Patroni's loop_wait). For each phase:
 * entries added to the Raft log per second, synced writes of the Raft log per second on each node
 * (raftgres_raft_storage_writes_total in /metrics), and the CPU (all threads, from schedstat) and
 * RSS of each agent and of its watchdog process. The last line is
 *   bench:idle entries_per_s=<n> entries_per_s_loop10=<n> agent_cpu_pct=<max> agent_rss_mb=<max> watchdog_cpu_pct=<max> watchdog_rss_mb=<max>
 * (CPU and RSS: the largest of any agent or watchdog in either phase). Bounded by a guard timer;
 * the cluster (agents, PostgreSQL, data directories) is removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildBundles } from "../package/build.js";
import { PgCluster } from "../../lab/pg_cluster.js";
import { childProcesses, processUsage } from "./proc_usage.js";

const GUARD_MS = 15 * 60_000;
const SETTLE_MS = 15_000;
const SAMPLE_EVERY_MS = 2000;

interface Counters {
  readonly lastIndex: number;
  readonly writes: number;
}

interface Phase {
  readonly entriesPerSecond: number;
  readonly writesPerSecond: Map<string, number>;
  readonly agentCpuPct: Map<string, number>;
  readonly agentRssMb: Map<string, number>;
  readonly watchdogCpuPct: Map<string, number>;
  readonly watchdogRssMb: Map<string, number>;
  /** The agent's and its watchdog's PSS together: what the node's raftgres holds, shared pages once. */
  readonly nodePssMb: Map<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function counters(cluster: PgCluster, name: string): Promise<Counters> {
  const text = (await cluster.api(name, "GET", "/metrics")).text;
  const value = (metric: string): number => Number(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return { lastIndex: value("raftgres_raft_last_index"), writes: value("raftgres_raft_storage_writes_total") };
}

function watchdogPid(agentPid: number): number {
  const watchdog = childProcesses(agentPid).find((c) => c.command.includes("watchdog_process"));
  if (watchdog === undefined) throw new Error(`no watchdog process among the children of agent ${agentPid}: ${JSON.stringify(childProcesses(agentPid))}`);
  return watchdog.pid;
}

async function measure(cluster: PgCluster, seconds: number): Promise<Phase> {
  const names = [...cluster.nodes.keys()];
  const pids = new Map(names.map((name) => {
    const agent = cluster.agentPid(name);
    if (agent === null) throw new Error(`the agent of ${name} is not running`);
    return [name, { agent, watchdog: watchdogPid(agent) }] as const;
  }));
  const before = new Map(await Promise.all(names.map(async (n) => [n, await counters(cluster, n)] as const)));
  const cpuBefore = new Map([...pids].map(([n, p]) => [n, { agent: processUsage(p.agent).cpuSeconds, watchdog: processUsage(p.watchdog).cpuSeconds }]));
  const rss = new Map(names.map((n) => [n, { agent: 0, watchdog: 0, nodePss: 0 }]));
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    await sleep(Math.min(SAMPLE_EVERY_MS, seconds * 1000 - (Date.now() - started)));
    for (const [name, p] of pids) {
      const r = rss.get(name)!;
      r.agent = Math.max(r.agent, processUsage(p.agent).rssMb);
      r.watchdog = Math.max(r.watchdog, processUsage(p.watchdog).rssMb);
      r.nodePss = Math.max(r.nodePss, processUsage(p.agent).pssMb + processUsage(p.watchdog).pssMb);
    }
  }
  const elapsed = (Date.now() - started) / 1000;
  const after = new Map(await Promise.all(names.map(async (n) => [n, await counters(cluster, n)] as const)));
  const cpu = (name: string, which: "agent" | "watchdog"): number => (100 * (processUsage(pids.get(name)![which]).cpuSeconds - cpuBefore.get(name)![which])) / elapsed;
  const leaderEntries = Math.max(...names.map((n) => after.get(n)!.lastIndex - before.get(n)!.lastIndex));
  return {
    entriesPerSecond: leaderEntries / elapsed,
    writesPerSecond: new Map(names.map((n) => [n, (after.get(n)!.writes - before.get(n)!.writes) / elapsed])),
    agentCpuPct: new Map(names.map((n) => [n, cpu(n, "agent")])),
    agentRssMb: new Map(names.map((n) => [n, rss.get(n)!.agent])),
    watchdogCpuPct: new Map(names.map((n) => [n, cpu(n, "watchdog")])),
    watchdogRssMb: new Map(names.map((n) => [n, rss.get(n)!.watchdog])),
    nodePssMb: new Map(names.map((n) => [n, rss.get(n)!.nodePss])),
  };
}

function describe(label: string, phase: Phase, seconds: number): string {
  const per = (name: string): string => `${name}: writes/s=${phase.writesPerSecond.get(name)!.toFixed(2)} agent cpu=${phase.agentCpuPct.get(name)!.toFixed(2)}% rss=${phase.agentRssMb.get(name)!.toFixed(1)}MB watchdog cpu=${phase.watchdogCpuPct.get(name)!.toFixed(2)}% rss=${phase.watchdogRssMb.get(name)!.toFixed(1)}MB; agent+watchdog pss=${phase.nodePssMb.get(name)!.toFixed(1)}MB`;
  return `${label}, idle ${seconds} s: entries/s=${phase.entriesPerSecond.toFixed(2)}; ${[...phase.writesPerSecond.keys()].map(per).join("; ")}`;
}

const max = (phases: readonly Phase[], field: "agentCpuPct" | "agentRssMb" | "watchdogCpuPct" | "watchdogRssMb"): number => Math.max(...phases.flatMap((p) => [...p[field].values()]));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, unbundled: { type: "boolean" } } });
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 5 || seconds > 600) throw new Error(`--seconds must be from 5 to 600, got ${values.seconds}`);
  const guard = setTimeout(() => {
    console.error(`bench:idle: not done within ${GUARD_MS / 60_000} min; giving up`);
    process.exit(1);
  }, GUARD_MS);
  // What an installed raftgres runs: the packaged bundles (the unbundled build with --unbundled).
  const bundles = values.unbundled === true ? null : mkdtempSync(join(tmpdir(), "raftgres-idle-bundle-"));
  const agentMain = bundles === null ? undefined : (await buildBundles(bundles)).agentMain;
  const cluster = await PgCluster.create(agentMain === undefined ? {} : { agentMain });
  try {
    cluster.startAll();
    const primary = await cluster.waitHealthy(120_000);
    await sleep(SETTLE_MS);
    console.log(`bench:idle 3 agents with PostgreSQL 15 on 127.0.0.1 (${agentMain === undefined ? "the unbundled build" : "the packaged bundles, as installed"}), primary ${primary}; defaults (ttl 5, loop_wait 1)`);
    const defaults = await measure(cluster, seconds);
    console.log(describe("ttl 5, loop_wait 1", defaults, seconds));
    const patched = await cluster.api(primary, "PATCH", "/config", { loop_wait: 10, ttl: 30 });
    if (patched.status !== 200) throw new Error(`PATCH /config loop_wait 10 ttl 30: ${patched.status} ${patched.text}`);
    await sleep(SETTLE_MS);
    const slow = await measure(cluster, seconds);
    console.log(describe("ttl 30, loop_wait 10", slow, seconds));
    const both = [defaults, slow];
    console.log(`bench:idle entries_per_s=${defaults.entriesPerSecond.toFixed(2)} entries_per_s_loop10=${slow.entriesPerSecond.toFixed(2)} agent_cpu_pct=${max(both, "agentCpuPct").toFixed(2)} agent_rss_mb=${max(both, "agentRssMb").toFixed(1)} watchdog_cpu_pct=${max(both, "watchdogCpuPct").toFixed(2)} watchdog_rss_mb=${max(both, "watchdogRssMb").toFixed(1)}`);
  } finally {
    clearTimeout(guard);
    await cluster.destroy();
    if (bundles !== null) rmSync(bundles, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench:idle failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
