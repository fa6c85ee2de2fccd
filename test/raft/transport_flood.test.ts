/**
 * Issue 12 item 2, reproduced and bounded: a real three-node group of RaftNodes, each in a
 * process of its own (flood_node.ts) so that the RSS of the flooded node's process is its own,
 * and its Raft leader flooded from this process with unauthenticated connections:
 *   - 40 connections that upgrade and send a 60 MB frame (header and payload) without a hello,
 *   - 300 idle TCP connections,
 *   - 50 slowloris connections that trickle an HTTP request line a byte at a time,
 *   - 50 connections that upgrade and send half a frame,
 * each reconnecting when the node drops it, for FLOOD_MS. What must hold is a resource bound,
 * not a timing: the flooded process grows by at most 50 MB RSS, the group keeps its leader and
 * term throughout (the lease is not lost), proposals commit, and afterwards a restarted member
 * connects again and catches up. Event-loop delay is measured and reported.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { FloodNodeStatus } from "./flood_node.js";
import { MB, memory, NodeProcess, sleep, stableLeader, startFlood, startGroup } from "./flood_support.js";

/** FLOOD_MS=60000 in the environment floods longer, to see the RSS curve flatten. */
const FLOOD_MS = Number(process.env["FLOOD_MS"] ?? 15_000);
const RSS_GROWTH_BYTES_MAX = 50 * MB;

t.test("a flood of unauthenticated connections and huge frames costs the leader's process ≤ 50 MB and not its leadership", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "raft-flood-"));
  const nodes = await startGroup(root);
  t.teardown(async () => {
    for (const node of nodes) node.kill();
    rmSync(root, { recursive: true, force: true });
  });
  const { leader, term } = await stableLeader(nodes);
  for (let i = 0; i < 20; i++) t.equal(await leader.propose(`warm-up-${i}`), null);
  await sleep(1000);
  const baseline = await leader.status();
  t.comment(`leader ${leader.id} in term ${term}; its process has ${(baseline.rssBytes / MB).toFixed(1)} MB RSS before the flood`);

  const attacks = startFlood(leader.options.port);
  let rssMax = baseline.rssBytes;
  let peak = baseline;
  let loopDelayMaxMs = 0;
  const changes: string[] = [];
  const proposals = { ok: 0, failed: [] as string[] };
  const floodEnd = Date.now() + FLOOD_MS;
  for (let round = 0; Date.now() < floodEnd; round++) {
    const statuses = await Promise.all(nodes.map((n) => n.status()));
    for (const [i, s] of statuses.entries()) {
      if (s.fatal !== null) changes.push(`node ${nodes[i]!.id} failed: ${s.fatal}`);
      if (s.term !== term || s.leader !== leader.id) changes.push(`node ${nodes[i]!.id}: term ${s.term}, leader ${s.leader}`);
    }
    const mine = statuses[nodes.indexOf(leader)]!;
    if (round % 25 === 0) t.comment(`after ${round * 0.2} s: leader RSS ${((mine.rssBytes - baseline.rssBytes) / MB).toFixed(1)} MB above the baseline`);
    if (mine.rssBytes > rssMax) peak = mine;
    rssMax = Math.max(rssMax, mine.rssBytes);
    loopDelayMaxMs = Math.max(loopDelayMaxMs, mine.loopDelayMaxMs);
    if (round % 3 === 0) {
      const error = await leader.propose(`during-flood-${round}`);
      if (error === null) proposals.ok++;
      else proposals.failed.push(error);
    }
    await sleep(200);
  }
  // The node must end every connection by itself within its deadline and closing grace (6 s).
  const outlived = await Promise.all(attacks.map((a) => a.stop(10_000)));
  const after = await leader.status();
  rssMax = Math.max(rssMax, after.rssBytes);
  for (const attack of attacks) t.comment(attack.summary());
  const growth = rssMax - baseline.rssBytes;
  t.comment(`leader RSS: ${(baseline.rssBytes / MB).toFixed(1)} MB before, ${(rssMax / MB).toFixed(1)} MB at most, growth ${(growth / MB).toFixed(1)} MB`);
  t.comment(`leader heap used/total, external: before ${memory(baseline)}, at the peak ${memory(peak)}, after ${memory(after)}`);
  t.comment(`longest event-loop delay of the leader's process during the flood: ${loopDelayMaxMs.toFixed(1)} ms`);
  t.comment(`${proposals.ok} proposals committed during the flood; ${after.warnings} warnings, the last: ${after.lastWarnings.slice(-3).join(" | ")}`);

  // Most 60 MB frames arrive in the read that holds the upgrade request and are refused as early
  // data; a frame that arrives after the upgrade is refused by ws at its header (1009, tested on
  // its own in transport_preauth.test.ts, since the close frame may be lost to the reset here).
  t.ok(attacks[0]!.connections >= 40 && attacks[0]!.longestLifeMs < 5000, "every 60 MB frame was refused before the handshake deadline");
  t.ok(attacks[3]!.closeCodes.get(4001) !== undefined, "half frames were closed by the handshake deadline");
  t.same(outlived, [0, 0, 0, 0], "the node ended every unauthenticated connection by itself");
  t.ok(growth <= RSS_GROWTH_BYTES_MAX, `RSS growth ${(growth / MB).toFixed(1)} MB ≤ 50 MB`);
  t.same(changes, [], "every node kept the leader and the term throughout");
  t.same(proposals.failed, [], "every proposal during the flood committed");

  // After the flood a legitimate peer connects: restart a follower; it must reach the flooded
  // leader (and the leader it) to catch up.
  const follower = nodes.find((n) => n !== leader)!;
  await follower.stop();
  const restarted = await NodeProcess.start(follower.options);
  nodes[nodes.indexOf(follower)] = restarted;
  t.equal(await leader.propose("after-flood"), null);
  const target = (await leader.status()).applied;
  const deadline = Date.now() + 15_000;
  let caughtUp: FloodNodeStatus = await restarted.status();
  while (caughtUp.applied < target && Date.now() < deadline) {
    await sleep(100);
    caughtUp = await restarted.status();
  }
  t.equal(caughtUp.applied, target, "the restarted member connected and caught up with the flooded leader");
  t.equal(caughtUp.leader, leader.id);
  t.equal((await leader.status()).term, term, "still the same term");
  for (const node of nodes) await node.stop();
});
