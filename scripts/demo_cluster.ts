/**
 * The main job for now: a local three-node raftgres Raft cluster on 127.0.0.1, as separate
 * processes with durable logs, narrated step by step: election, replicated writes, the leader
 * killed with SIGKILL and replaced, the old leader restarted and caught up from its disk.
 * PostgreSQL management arrives with the agent (issue 4); this is the consensus it will stand on.
 *   node dist/scripts/demo_cluster.js [--writes N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect, findLeader, freePort, type RunningNode, sleep, startNode } from "./bench/raft_bench_cluster.js";
import { KIND_PROPOSE, type NodeSpec } from "./bench/raft_bench_protocol.js";

async function table(nodes: readonly RunningNode[]): Promise<string> {
  const rows = await Promise.all(nodes.map(async (n) => {
    const s = n.process.exitCode === null && n.process.signalCode === null ? await n.client?.status() : null;
    return s === null || s === undefined
      ? `  ${n.spec.id.padEnd(4)} (stopped)`
      : `  ${s.id.padEnd(4)} ${s.role.padEnd(10)} term ${String(s.term).padEnd(4)} commit ${String(s.commit).padEnd(7)} applied ${s.applied}`;
  }));
  return rows.join("\n");
}

async function write(node: RunningNode, count: number): Promise<number> {
  const started = Date.now();
  const payload = new TextEncoder().encode("demo entry ".padEnd(64, "."));
  for (let done = 0; done < count; done += 16) {
    const batch = Array.from({ length: Math.min(16, count - done) }, () => node.client!.request(KIND_PROPOSE, payload, 5000));
    const results = await Promise.all(batch);
    if (results.some((r) => !r.ok)) throw new Error(`a write failed: ${results.find((r) => !r.ok)!.body.toString()}`);
  }
  return Date.now() - started;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { writes: { type: "string", default: "2000" } } });
  const writes = Number(values.writes);
  const root = mkdtempSync(join(tmpdir(), "raftgres-demo-"));
  const nodes: RunningNode[] = [];
  try {
    const ids = ["pg1", "pg2", "pg3"];
    const ports = await Promise.all(ids.map(async () => ({ raft: await freePort(), client: await freePort() })));
    const members = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]!.raft}` }));
    console.log(`Starting three nodes (data under ${root}):`);
    for (const [i, id] of ids.entries()) {
      const spec: NodeSpec = { id, dir: join(root, id), raftPort: ports[i]!.raft, clientPort: ports[i]!.client, members, heartbeatMs: 100, electionTimeoutMs: 1000 };
      nodes.push({ spec, process: await startNode(spec), client: null });
      console.log(`  ${id}: raft on 127.0.0.1:${spec.raftPort}, pid ${nodes[i]!.process.pid}`);
    }
    for (const n of nodes) await connect(n);
    let leader = await findLeader(nodes);
    console.log(`\n1. Elected ${leader.spec.id} as leader:\n${await table(nodes)}`);

    const ms = await write(leader, writes);
    console.log(`\n2. ${writes} writes committed on a quorum (fsync on) in ${ms} ms:\n${await table(nodes)}`);

    const old = leader;
    const killedAt = Date.now();
    old.process.kill("SIGKILL");
    const survivors = nodes.filter((n) => n !== old);
    leader = await findLeader(survivors);
    await write(leader, 1);
    console.log(`\n3. Killed ${old.spec.id} with SIGKILL; ${leader.spec.id} leads and commits after ${Date.now() - killedAt} ms:\n${await table(nodes)}`);

    await write(leader, 100);
    old.process = await startNode(old.spec);
    await connect(old);
    await findLeader(nodes);
    console.log(`\n4. Restarted ${old.spec.id}; it recovered its log from disk and caught up:\n${await table(nodes)}`);
  } finally {
    for (const n of nodes) {
      n.client?.close();
      if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill("SIGTERM");
    }
    await sleep(300);
    for (const n of nodes) if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
  console.log("\nStopped every node and removed the data.");
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
