/**
 * Issue 14, "a heal costs the cluster nothing", on three real Raft nodes (real sockets through
 * black-holing proxies, LevelDB in a temporary folder): the leader is cut off without any of its
 * connections closing, long enough that the others elect a new leader, commit past several
 * snapshots, and the old leader's connections time out and its redials hang; then the partition
 * heals and what waited in every buffer flows at once. The new leader must keep its leadership
 * (no term caused by the returning node), catch it up with few snapshots, and its loop must not
 * stall. In the field (issue 14) it sent 13–15 snapshots within a millisecond and stalled 2.7 s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { either as E } from "fp-ts";
import t from "tap";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import { RaftNode } from "../../src/raft/runtime/raft_node.js";
import type { TransportLimits } from "../../src/raft/runtime/transport_limits.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";
import { BlackholeNetwork } from "./blackhole_proxy.js";
import { bytes, eventually, ListMachine } from "./node_cluster.js";

const IDS = ["a", "b", "c"];
// The agent's own timing (250 ms heartbeats, a 1 s election timeout): on a loaded CI machine
// shorter ones let a starved event loop start elections of its own, which is not what is tested.
const HEARTBEAT_MS = 250;
const ELECTION_TIMEOUT_MS = 1000;
const SNAPSHOT_EVERY_ENTRIES = 20;
/**
 * Two partitions: one that outlasts the keepalive timeout (the field's lasted 25 s against 10 s;
 * this one keeps the proportion), so the connections are given up and what is sent meanwhile
 * waits in the transport's queues; and one within it (10 s, the default until the heals of
 * issue 14 showed what a silent connection costs), so everything sent meanwhile waits in socket
 * buffers and arrives in one burst.
 */
const VARIANTS: readonly { readonly name: string; readonly partitionMs: number; readonly limits: Partial<TransportLimits> }[] = [
  { name: "beyond the keepalive timeout", partitionMs: 6000, limits: { keepaliveIntervalMs: 250, keepaliveTimeoutMs: 1500, handshakeTimeoutMs: 1000, handshakeClosingMs: 500 } },
  { name: "within the keepalive timeout", partitionMs: 5000, limits: { keepaliveIntervalMs: 2000, keepaliveTimeoutMs: 10000 } },
];
/**
 * A bound on the longest stall of the Raft loop through the heal that catches the field's defect
 * (2.7 s) on a loaded test machine. Issue 14's target (200 ms) is a speed figure: the heal runs
 * of the fault-injection harness report it (raft_stall_ms), and this test prints what it saw.
 */
const STALL_MS_MAX = 1000;
const SNAPSHOTS_MAX = 2;
/** Entries written during the partition carry this much, so the snapshot the returning node needs is not trivial (about 1 MB). */
const PAYLOAD_BYTES = 6 * 1024;

interface Member {
  readonly id: string;
  readonly machine: ListMachine;
  readonly node: RaftNode<number>;
}

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function startCluster(t: Test, lines: LoggedLine[], transportLimits: Partial<TransportLimits>): Promise<{ members: Map<string, Member>; network: BlackholeNetwork }> {
  const root = mkdtempSync(join(tmpdir(), "raft-heal-"));
  const network = new BlackholeNetwork();
  const conf: ConfMember[] = [];
  const ports = new Map<string, number>();
  for (const id of IDS) {
    conf.push({ id: nodeId(id), role: "voter", address: `127.0.0.1:${await network.add(id)}` });
    ports.set(id, await freePort());
    network.setTarget(id, ports.get(id)!);
  }
  const members = new Map<string, Member>();
  t.teardown(async () => {
    for (const member of members.values()) await member.node.stop();
    await network.close();
    rmSync(root, { recursive: true, force: true });
  });
  for (const id of IDS) {
    const machine = new ListMachine();
    const started = await RaftNode.start<number>({
      nodeId: nodeId(id),
      clusterId: "heal-cluster",
      secret: "s3cret",
      dataDir: join(root, id),
      listenHost: "127.0.0.1",
      listenPort: ports.get(id)!,
      initialMembers: conf,
      heartbeatMs: HEARTBEAT_MS,
      electionTimeoutMs: ELECTION_TIMEOUT_MS,
      snapshotEveryEntries: SNAPSHOT_EVERY_ENTRIES,
      stateMachine: machine,
      logger: createRecordingLogger(lines, { node: id }),
      transportLimits,
      onFatal: (error) => t.fail(`node ${id} failed: ${error.message}`),
    });
    if (E.isLeft(started)) throw new Error(started.left.message);
    members.set(id, { id, machine, node: started.right });
  }
  return { members, network };
}

/** The one member the others follow, among `among`, once they agree. */
function agreedLeader(among: readonly Member[]): Member | undefined {
  const leaders = among.filter((m) => m.node.status().role === "leader");
  if (leaders.length !== 1) return undefined;
  const { term } = leaders[0]!.node.status();
  return among.every((m) => m.node.status().leader === leaders[0]!.id && m.node.status().term === term) ? leaders[0] : undefined;
}

/** Proposes through `member` every `everyMs` until stopped; counts what failed. */
function steadyWriter(member: Member, everyMs: number): { stop: () => Promise<{ sent: number; failed: string[] }> } {
  let sent = 0;
  const failed: string[] = [];
  const pending: Promise<unknown>[] = [];
  const timer = setInterval(() => {
    sent++;
    pending.push(member.node.propose(bytes(`steady-${sent}`), 3000).catch((error: unknown) => failed.push(String(error))));
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      return { sent, failed };
    },
  };
}

for (const variant of VARIANTS) {
  t.test(`a heal after the leader was black-holed ${variant.name} costs the new leader nothing`, async (t) => {
    await healScenario(t, variant.partitionMs, variant.limits);
  });
}

async function healScenario(t: Test, partitionMs: number, limits: Partial<TransportLimits>): Promise<void> {
  const lines: LoggedLine[] = [];
  const { members, network } = await startCluster(t, lines, limits);
  const all = [...members.values()];
  const old = await eventually(() => agreedLeader(all), 10_000, "a first leader");
  for (let i = 0; i < 10; i++) await old.node.propose(bytes(`before-${i}`));
  await eventually(() => (all.every((m) => m.machine.items.length === 10) ? true : undefined), 5000, "every node applied the first entries");

  network.isolate(old.id);
  const partitionedAt = Date.now();
  // Writes the cut-off leader accepts and can never commit (its primary's, in the field).
  const orphans = Array.from({ length: 5 }, (_, i) => old.node.propose(bytes(`orphan-${i}`), 1000).catch(() => null));
  const others = all.filter((m) => m !== old);
  const leader = await eventually(() => agreedLeader(others), 10_000, "a new leader among the others");
  const term = leader.node.status().term;
  for (let batch = 0; batch < 15; batch++) {
    await Promise.all(Array.from({ length: 10 }, (_, i) => leader.node.propose(bytes(`during-${batch}-${i}-${"x".repeat(PAYLOAD_BYTES)}`))));
  }
  await eventually(() => (leader.node.status().snapshotIndex > old.node.status().lastIndex ? true : undefined), 5000, "the leader compacted past the old leader's log");
  await Promise.all(orphans);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, partitionedAt + partitionMs - Date.now())));
  const stallBeforeMs = leader.node.status().loopStallMaxMs;

  const writer = steadyWriter(leader, 10);
  // The whole process's event-loop delay, for comparison with the leader's own measure.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  network.heal();
  const healedAt = Date.now();
  await eventually(() => (old.node.status().applied >= leader.node.status().commit && old.node.status().leader === leader.id ? true : undefined), 15_000, "the old leader to catch up");
  const caughtUpMs = Date.now() - healedAt;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const written = await writer.stop();
  loopDelay.disable();
  await eventually(() => (old.machine.items.length === leader.machine.items.length ? true : undefined), 5000, "the old leader to apply the last writes");

  const fromLeader = (message: string) => lines.filter((l) => l.fields["node"] === leader.id && l.message === message && l.fields["to"] === old.id);
  const snapshots = fromLeader("sending a snapshot to a lagging follower").length;
  const resends = fromLeader("no answer within an election timeout to the snapshot sent to a live follower; sending it again").length;
  const status = leader.node.status();
  const stalls = all.map((m) => `${m.id}${m === leader ? " (leader)" : m === old ? " (returning)" : ""} ${m.node.status().loopStallMaxMs} ms`).join(", ");
  t.comment(`heal: caught up in ${caughtUpMs} ms; ${snapshots} snapshot(s) sent to the returning node (${resends} resend(s)); ` +
    `longest loop stall ${status.loopStallMaxMs} ms (${stallBeforeMs} ms before the heal); all nodes: ${stalls}; ` +
    `event-loop delay through the heal at most ${Math.round(loopDelay.max / 1e6)} ms; steady writes ${written.sent}, failed ${written.failed.length}`);

  t.equal(status.role, "leader", "the new leader kept its leadership through the heal");
  t.same(all.map((m) => m.node.status().term), [term, term, term], "no new term: the returning node caused no election");
  t.same(old.machine.items, leader.machine.items, "the returning node caught up, without its orphaned writes");
  t.notOk(old.machine.items.some((item) => item.startsWith("orphan-")), "what it accepted alone is gone");
  t.ok(snapshots >= 1, "it needed a snapshot (the test exercises the transfer)");
  t.ok(snapshots <= SNAPSHOTS_MAX, `at most ${SNAPSHOTS_MAX} snapshots were sent to it (${snapshots})`);
  t.same(written.failed, [], "every write through the heal committed");
  t.comment(`the leader's longest loop stall through the heal: ${status.loopStallMaxMs} ms`);
  t.ok(status.loopStallMaxMs <= STALL_MS_MAX, `the leader's loop never stalled over ${STALL_MS_MAX} ms (${status.loopStallMaxMs} ms)`);
}
