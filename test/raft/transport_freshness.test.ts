/**
 * Issue 14 on the transport: what piles up for a peer whose connection does not drain is not
 * replayed in a burst when it drains again. Real sockets on 127.0.0.1; the peer is "down" (its
 * port is free, every dial is refused) until the test starts it on that port.
 */
import t from "tap";
import { type LogIndex, makeMessage, type Message, type NodeId, type Term } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";
import { eventually, heartbeat, meshPeers, plainMessage, snapshotMessage, startNode, type TestNode, warnings } from "./transport_support.js";

function append(from: TestNode, to: NodeId, index: number): Message {
  const entries = [{ term: 3 as Term, index: index as LogIndex, type: "normal" as const, timeMs: 0, data: new Uint8Array(16) }];
  return makeMessage({ type: "append", from: from.id, to, term: 3 as Term, index: (index - 1) as LogIndex, logTerm: 3 as Term, entries });
}

function preVote(from: TestNode, to: NodeId, index: number): Message {
  return makeMessage({ type: "preVote", from: from.id, to, term: 4 as Term, index: index as LogIndex, logTerm: 3 as Term });
}

t.test("of the heartbeats and votes queued for an unreachable peer, only the newest go out", async (t) => {
  const a = await startNode(t, "a");
  const port = await freePort();
  const down = `127.0.0.1:${port}`;
  const bId = "b" as NodeId;
  a.transport.setPeers(new Map([[bId, down]]));
  for (let i = 0; i < 50; i++) a.transport.send([heartbeat(a, bId, i)]);
  for (let i = 0; i < 3; i++) a.transport.send([preVote(a, bId, 100 + i), plainMessage(a, bId, 200 + i)]);
  await eventually("b reported unreachable", () => a.unreachable.includes(bId));
  const b = await startNode(t, "b", { port });
  meshPeers([a, b]);
  await eventually("the newest heartbeat arrives", () => b.received.some((m) => m.type === "heartbeat" && m.context === 49));
  await eventually("the answers arrive", () => b.received.filter((m) => m.type === "appendResponse").length === 3);
  t.same(b.received.filter((m) => m.type === "heartbeat").map((m) => m.context), [49], "one heartbeat, the newest");
  t.same(b.received.filter((m) => m.type === "preVote").map((m) => m.index), [102], "one pre-vote, the newest");
  t.same(b.received.filter((m) => m.type === "appendResponse").map((m) => m.context), [200, 201, 202], "every answer, in order");
  t.equal(a.transport.peerStatus().get(bId)!.supersededMessages, 49 + 2, "the older ones are counted as superseded");
  t.same(a.snapshotFailed, [], "nothing Raft must resend was dropped");
});

t.test("a queued message that waited over queueMessageAgeMaxMs is dropped; a dropped append or snapshot is reported", async (t) => {
  const a = await startNode(t, "a", { limits: { queueMessageAgeMaxMs: 200 } });
  const port = await freePort();
  const bId = "b" as NodeId;
  a.transport.setPeers(new Map([[bId, `127.0.0.1:${port}`]]));
  a.transport.send([plainMessage(a, bId, 1), append(a, bId, 5), snapshotMessage(a, bId, 100)]);
  await eventually("b reported unreachable", () => a.unreachable.includes(bId));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(a.snapshotFailed, [], "nothing is reported before the messages are found stale");
  const b = await startNode(t, "b", { port });
  meshPeers([a, b]);
  // Sent again until it arrives, as Raft would: a link still in backoff may hold one past 200 ms too.
  let lastSent = 0;
  await eventually("a fresh message arrives", () => {
    if (b.received.length > 0) return true;
    if (Date.now() - lastSent >= 100) {
      a.transport.send([plainMessage(a, bId, 2)]);
      lastSent = Date.now();
    }
    return false;
  });
  await eventually("the dropped snapshot is reported", () => a.snapshotFailed.includes(bId));
  t.same([...new Set(b.received.map((m) => `${m.type}:${m.context}`))], ["appendResponse:2"], "only fresh messages went out");
  const expired = a.transport.peerStatus().get(bId)!.expiredMessages;
  t.ok(expired >= 3, `the three stale ones expired (${expired} with fresh ones that waited too)`);
  t.ok(warnings(a).some((w) => /^dropping messages to node b that waited over 200 ms while the link is \w+; Raft will resend what it still needs$/.test(w)), "one warning says why");
});

t.test("appends beyond queueAppendsMax are dropped when queued and reported", async (t) => {
  const a = await startNode(t, "a", { limits: { queueAppendsMax: 5 } });
  const bId = "b" as NodeId;
  a.transport.setPeers(new Map([[bId, `127.0.0.1:${await freePort()}`]]));
  a.transport.send(Array.from({ length: 8 }, (_, i) => append(a, bId, i + 1)));
  a.transport.send([plainMessage(a, bId, 1)]);
  await eventually("b reported unreachable", () => a.unreachable.includes(bId));
  const status = a.transport.peerStatus().get(bId)!;
  t.equal(status.queuedMessages, 6, "five appends and the answer wait");
  t.equal(status.droppedMessages, 3);
  t.ok(warnings(a).some((w) => w.startsWith("dropping messages to node b: 5 appends wait in its queue already")));
});
