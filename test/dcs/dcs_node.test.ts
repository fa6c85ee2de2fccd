/**
 * The DCS on real Raft nodes (real sockets, real disks, one process): commands from any node,
 * linearizable reads, subscriptions on every node, and a restart from a snapshot.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { either as E } from "fp-ts";
import t from "tap";
import { type DcsNode, startDcsNode } from "../../src/agent/dcs_node.js";
import { SILENT_LOGGER } from "../../src/lib/logger.js";
import type { ScopeView } from "../../src/dcs/views.js";
import { type ConfMember, nodeId } from "../../src/raft/types.js";
import { eventually } from "../raft/node_cluster.js";
import { freePort } from "../../lab/sockets.js";
import { m, SCOPE, status } from "./fixtures.js";

interface Cluster {
  readonly nodes: Map<string, DcsNode>;
  readonly members: ConfMember[];
  readonly root: string;
  start(id: string): Promise<DcsNode>;
  stop(id: string): Promise<void>;
}

/** What the helper needs of a tap test: somewhere to register cleanup. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

async function cluster(t: Teardown, ids: readonly string[], snapshotEveryEntries = 1000): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), "dcs-node-"));
  const members: ConfMember[] = [];
  for (const id of ids) members.push({ id: nodeId(id), role: "voter", address: `127.0.0.1:${await freePort()}` });
  const nodes = new Map<string, DcsNode>();
  const c: Cluster = {
    nodes,
    members,
    root,
    async start(id) {
      const member = members.find((x) => x.id === id)!;
      const started = await startDcsNode({
        nodeId: member.id,
        clusterId: "dcs-test",
        secret: "s",
        dataDir: join(root, id),
        listenHost: "127.0.0.1",
        listenPort: Number(member.address.split(":")[1]),
        initialMembers: members,
        heartbeatMs: 50,
        electionTimeoutMs: 500,
        snapshotEveryEntries,
        logger: SILENT_LOGGER,
        onFatal: () => {},
      });
      if (E.isLeft(started)) throw new Error(started.left.message);
      nodes.set(id, started.right);
      return started.right;
    },
    async stop(id) {
      await nodes.get(id)?.raft.stop();
      nodes.delete(id);
    },
  };
  t.teardown(async () => {
    for (const node of nodes.values()) await node.raft.stop();
    rmSync(root, { recursive: true, force: true });
  });
  for (const id of ids) await c.start(id);
  // Every node must know the leader: a follower that knows none refuses proposals at once.
  const agreed = (): boolean => {
    const leaders = new Set([...nodes.values()].map((n) => n.raft.status().leader));
    return leaders.size === 1 && !leaders.has(null);
  };
  await eventually(() => (agreed() ? true : undefined), 10_000, "a leader known to every node");
  return c;
}

t.test("commands run from any node, the decision comes back, and every node sees the same state", async (t) => {
  const c = await cluster(t, ["a", "b", "c"]);
  const a = c.nodes.get("a")!.client;
  const b = c.nodes.get("b")!.client;
  t.ok(E.isRight(await a.execute(SCOPE, { kind: "upsertMember", status: status("pg1") }, { author: "pg1" })));
  t.ok(E.isRight(await b.execute(SCOPE, { kind: "initializeCluster", member: m("pg1"), systemId: "7301" }, { author: "pg1" })));
  const lost = await b.execute(SCOPE, { kind: "initializeCluster", member: m("pg2"), systemId: "" }, { author: "pg2" });
  t.ok(E.isLeft(lost) && lost.left.code === "alreadyInitialized" && lost.left.message.includes("initialized by pg1"), "the second bootstrapper learns who won");
  const acquired = await c.nodes.get("c")!.client.execute(SCOPE, { kind: "acquireLease", member: m("pg1"), ttlMs: 10_000 }, { author: "pg1" });
  t.ok(E.isRight(acquired) && acquired.right.events[0]?.kind === "leaseAcquired");
  for (const node of c.nodes.values()) {
    const view = await node.client.read(SCOPE);
    t.ok(E.isRight(view) && view.right?.lease?.holder === "pg1", "a linearizable read on every node sees the lease");
  }
});

t.test("subscribers on every node hear of a switchover request as soon as it is applied", async (t) => {
  const c = await cluster(t, ["a", "b", "c"]);
  const client = c.nodes.get("a")!.client;
  await client.execute(SCOPE, { kind: "upsertMember", status: status("pg1", { role: "primary", state: "running" }) }, { author: "pg1" });
  await client.execute(SCOPE, { kind: "upsertMember", status: status("pg2") }, { author: "pg2" });
  await client.execute(SCOPE, { kind: "initializeCluster", member: m("pg1"), systemId: "1" }, { author: "pg1" });
  await client.execute(SCOPE, { kind: "acquireLease", member: m("pg1"), ttlMs: 10_000 }, { author: "pg1" });
  const seen = new Map<string, ScopeView>();
  for (const [id, node] of c.nodes) node.client.subscribe(SCOPE, (view) => seen.set(id, view));
  const requested = await c.nodes.get("b")!.client.execute(SCOPE, { kind: "requestSwitchover", from: m("pg1"), to: m("pg2"), scheduledAtMs: null }, { author: "api:alice" });
  t.ok(E.isRight(requested), E.isLeft(requested) ? requested.left.message : "requested");
  await eventually(() => ([...seen.values()].filter((v) => v.pending?.to === "pg2").length === 3 ? true : undefined), 5000, "all three subscribers see the request");
  t.pass("every node's subscriber saw the pending switchover");
});

t.test("a node restarts from its snapshot with the whole state, and a stopped node's absence does not block the others", async (t) => {
  const c = await cluster(t, ["a", "b", "c"], 20);
  const client = c.nodes.get("a")!.client;
  for (let i = 1; i <= 60; i++) {
    const changed = await client.execute(SCOPE, { kind: "setConfig", expectedVersion: i - 1, mode: "patch", value: { [`setting_${i % 7}`]: i } }, { author: "api:test" });
    t.ok(E.isRight(changed) || t.fail(`config change ${i}: ${E.isLeft(changed) ? changed.left.message : ""}`));
  }
  await c.stop("c");
  // If c led the Raft group, the others elect a new leader first: retry while the log is unavailable.
  const more = await eventually(async () => {
    const executed = await client.execute(SCOPE, { kind: "setConfig", expectedVersion: 60, mode: "patch", value: { after: true } }, { author: "api:test" });
    if (E.isRight(executed)) return "accepted";
    // An unknown outcome may have been applied: the retry then finds version 61 with the change.
    if (executed.left.code === "versionConflict" && client.local(SCOPE)?.config.value["after"] === true) return "accepted";
    return executed.left.code === "unavailable" || executed.left.code === "outcomeUnknown" ? undefined : executed.left.message;
  }, 10_000, "a command accepted by the two remaining nodes");
  t.equal(more, "accepted", "two of three nodes keep accepting commands");
  const restarted = await c.start("c");
  await eventually(() => (restarted.client.local(SCOPE)?.config.version === 61 ? true : undefined), 10_000, "the restarted node catches up");
  t.ok(restarted.raft.status().snapshotIndex > 0, "it restarted from a snapshot");
  t.equal(restarted.client.local(SCOPE)?.configHistory.length, 61, "with the whole config history");
});
