/**
 * Transport tests on real sockets (127.0.0.1, port 0). Every test stops what it starts in its
 * teardown. No timing assertions: waits are "eventually, within 5 s". Helpers are in
 * transport_support.ts; the limits before authentication are tested in transport_preauth.test.ts.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { either as E } from "fp-ts";
import t, { type Test } from "tap";
import { WebSocketServer } from "ws";
import { createRecordingLogger } from "../../src/lib/logger.js";
import { encodeFrame } from "../../src/raft/codec.js";
import {
  buildServerAccept,
  buildServerHello,
  ClientHello,
  decodeHandshake,
  encodeHandshake,
  NONCE_BYTES,
} from "../../src/raft/runtime/handshake.js";
import { Transport } from "../../src/raft/runtime/transport.js";
import { type LogIndex, makeMessage, type NodeId, nodeId, type Term } from "../../src/raft/types.js";
import { freePort } from "../../lab/sockets.js";
import {
  CLUSTER,
  eventually,
  meshPeers,
  plainMessage,
  rawClient,
  rawHandshake,
  SECRET,
  sleep,
  snapshotMessage,
  startNode,
  warnings,
} from "./transport_support.js";

t.test("two transports exchange messages both ways", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1), plainMessage(a, b, 2)]);
  b.transport.send([plainMessage(b, a, 3)]);
  await eventually("b receives from a", () => b.received.length === 2);
  await eventually("a receives from b", () => a.received.length === 1);
  t.same(b.received.map((m) => m.context), [1, 2], "in order");
  t.same(b.received[0], plainMessage(a, b, 1), "decoded as sent");
  t.equal(a.received[0]!.from, b.id);
  await eventually("status says connected", () => a.transport.peerStatus().get(b.id)?.connected === true);
  const status = a.transport.peerStatus().get(b.id)!;
  t.equal(status.queuedMessages, 0);
  t.equal(status.droppedMessages, 0);
  t.ok(status.lastConnectedAt !== null);
  t.ok(a.lines.some((l) => l.level === "info" && l.message === `connected to node b at ${b.address}`));
  t.same(warnings(a).concat(warnings(b)), [], "no warnings");
});

t.test("three transports exchange messages between every pair", async (t) => {
  const nodes = [await startNode(t, "a"), await startNode(t, "b"), await startNode(t, "c")];
  meshPeers(nodes);
  for (const from of nodes) {
    from.transport.send(nodes.filter((n) => n !== from).map((to) => plainMessage(from, to, 1)));
  }
  for (const node of nodes) {
    await eventually(`${node.id} receives from both peers`, () => node.received.length === 2);
    t.same(node.received.map((m) => m.from).sort(), nodes.filter((n) => n !== node).map((n) => n.id).sort());
  }
});

t.test("messages sent in one turn of the event loop leave in one frame", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 0)]);
  await eventually("connected and first message delivered", () => b.received.length === 1);
  for (let call = 0; call < 3; call++) {
    a.transport.send(Array.from({ length: 10 }, (_, i) => plainMessage(a, b, 1 + call * 10 + i)));
  }
  await eventually("all delivered", () => b.received.length === 31);
  t.same(b.frames, [1, 30], "three send() calls, one frame");
  t.same(b.received.map((m) => m.context), Array.from({ length: 31 }, (_, i) => i), "in order");
});

t.test("frames are cut at frameMessagesMax", async (t) => {
  const limits = { frameMessagesMax: 8 };
  const a = await startNode(t, "a", { limits });
  const b = await startNode(t, "b", { limits });
  meshPeers([a, b]);
  a.transport.send(Array.from({ length: 30 }, (_, i) => plainMessage(a, b, i)));
  await eventually("all delivered", () => b.received.length === 30);
  t.same(b.frames, [8, 8, 8, 6]);
  t.same(b.received.map((m) => m.context), Array.from({ length: 30 }, (_, i) => i));
});

t.test("a burst far above the high-water mark arrives complete and in order", async (t) => {
  const count = 3000;
  // Appends without their bound in number or age: this test is about the high-water mark.
  const limits = { bufferedBytesHighWater: 16 * 1024, frameBytesTarget: 8 * 1024, queueAppendsMax: count, queueMessageAgeMaxMs: 60_000 };
  const a = await startNode(t, "a", { limits });
  const b = await startNode(t, "b", { limits });
  meshPeers([a, b]);
  const messages = Array.from({ length: count }, (_, i) => makeMessage({
    type: "append",
    from: a.id,
    to: b.id,
    term: 1 as Term,
    context: i,
    entries: [{ term: 1 as Term, index: (i + 1) as LogIndex, type: "normal", timeMs: 0, data: new Uint8Array(512) }],
  }));
  a.transport.send(messages);
  await eventually("all delivered", () => b.received.length === count);
  t.ok(b.frames.length > 1, `cut into ${b.frames.length} frames`);
  t.ok(b.received.every((m, i) => m.context === i), "in order, none lost");
  t.equal(a.transport.peerStatus().get(b.id)?.droppedMessages, 0);
});

t.test("a node with the wrong secret is refused, logged, and delivers nothing", async (t) => {
  const a = await startNode(t, "a", { secret: "not-the-secret" });
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("b logs the refusal", () => warnings(b).length > 0);
  t.match(warnings(b)[0], /^refusing connection from node a \(127\.0\.0\.1:\d+\): authentication failed: wrong shared secret$/);
  await eventually("a learns it was refused", () => warnings(a).some((w) => w === `node b at ${b.address} refused our connection: authentication failed (code 4007); its log says why`));
  await eventually("a reports b unreachable", () => a.unreachable.includes(b.id));
  t.equal(b.received.length, 0, "nothing delivered");
  t.equal(a.transport.peerStatus().get(b.id)?.connected, false);
  t.equal(a.transport.peerStatus().get(b.id)?.queuedMessages, 1, "the message waits in the queue");
});

t.test("repeated identical refusals are logged once per interval", async (t) => {
  const a = await startNode(t, "a", { secret: "not-the-secret", limits: { reconnectDelayMinMs: 10, reconnectDelayMaxMs: 20 } });
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("a has retried several times", () => a.unreachable.length >= 5);
  t.equal(warnings(b).length, 1, "one warning on b");
  t.equal(warnings(a).length, 1, "one warning on a");
  t.equal(a.lines.filter((l) => l.level === "info" && l.message.startsWith("cannot connect")).length, 1, "down logged once");
});

t.test("a node of another cluster is refused", async (t) => {
  const a = await startNode(t, "a", { clusterId: "other-cluster" });
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  b.transport.send([plainMessage(b, a, 2)]);
  await eventually("both refuse", () => warnings(a).length > 0 && warnings(b).length > 0);
  t.match(warnings(a)[0], `refusing connection to node b at ${b.address}: cluster id "test-cluster" differs from ours "other-cluster"`);
  t.match(warnings(b)[0], `refusing connection to node a at ${a.address}: cluster id "other-cluster" differs from ours "test-cluster"`);
  t.equal(a.received.length + b.received.length, 0, "nothing delivered");
});

t.test("the server refuses a client hello of another cluster and names both ids", async (t) => {
  const b = await startNode(t, "b");
  b.transport.setPeers(new Map([[nodeId("a"), "127.0.0.1:1"]]));
  const client = await rawClient(t, b);
  await rawHandshake(client, "a", b, "other-cluster");
  const closed = await client.closed;
  t.equal(closed.code, 4004);
  t.equal(closed.reason, "cluster id mismatch");
  t.match(warnings(b)[0], /^refusing connection from node a \(127\.0\.0\.1:\d+\): cluster id "other-cluster" differs from ours "test-cluster"$/);
});

t.test("a node that is not a peer is refused as unknown", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  a.transport.setPeers(new Map([[b.id, b.address]]));
  b.transport.setPeers(new Map());
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("b logs the refusal", () => warnings(b).length > 0);
  t.match(warnings(b)[0], /^refusing connection from node a \(127\.0\.0\.1:\d+\): unknown node/);
  await eventually("a reports b unreachable", () => a.unreachable.includes(b.id));
  t.equal(b.received.length, 0);
});

t.test("garbage from a raw client closes that connection with a log line; the server keeps working", async (t) => {
  const b = await startNode(t, "b");
  const garbage = await rawClient(t, b);
  garbage.socket.send(Buffer.from("GET /etc/passwd"));
  t.equal((await garbage.closed).code, 4002);
  const text = await rawClient(t, b);
  text.socket.send("hello");
  t.equal((await text.closed).code, 4002);
  t.equal(warnings(b).length, 2);
  t.match(warnings(b)[0], /^refusing connection from 127\.0\.0\.1:\d+: malformed handshake frame/);
  t.match(warnings(b)[1], /it sent a text frame/);
  const a = await startNode(t, "a");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("a legitimate peer still gets through", () => b.received.length === 1);
});

t.test("a malformed frame after the handshake closes that connection; the peer's next one works", async (t) => {
  const b = await startNode(t, "b");
  const a = await startNode(t, "a");
  meshPeers([a, b]);
  const client = await rawClient(t, b);
  await rawHandshake(client, "a", b);
  await eventually("the server accepts", () => client.frames.length === 2);
  client.socket.send(Buffer.from([1, 0, 0, 0, 99, 1, 2, 3]));
  const closed = await client.closed;
  t.equal(closed.code, 4008);
  t.match(warnings(b)[0], /^closing connection from node a: malformed frame \(8 bytes\): /);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("the real node a gets through", () => b.received.length === 1);
});

t.test("frames above the size or message-count limits close the connection with a warning", async (t) => {
  const b = await startNode(t, "b", { limits: { frameBytesMax: 64 * 1024, frameBytesTarget: 16 * 1024, frameMessagesMax: 4 } });
  b.transport.setPeers(new Map([[nodeId("a"), "127.0.0.1:1"]]));
  const big = await rawClient(t, b);
  await rawHandshake(big, "a", b);
  await eventually("the server accepts", () => big.frames.length === 2);
  big.socket.send(Buffer.alloc(64 * 1024 + 1));
  t.equal((await big.closed).code, 1009, "message too big");
  await eventually("b warns", () => warnings(b).length === 1);
  t.match(warnings(b)[0], /^connection from a failed: Max payload size exceeded/);
  const many = await rawClient(t, b);
  await rawHandshake(many, "a", b);
  await eventually("the server accepts", () => many.frames.length === 2);
  const a = nodeId("a");
  many.socket.send(encodeFrame(Array.from({ length: 5 }, (_, i) => plainMessage(a, b, i))));
  t.equal((await many.closed).code, 4008);
  t.match(warnings(b)[1], "closing connection from node a: frame of 5 messages exceeds the limit of 4");
  t.equal(b.received.length, 0);
});

t.test("a client that never finishes the handshake is closed after the timeout", async (t) => {
  const b = await startNode(t, "b", { limits: { handshakeTimeoutMs: 200, handshakeClosingMs: 100 } });
  const client = await rawClient(t, b);
  const closed = await client.closed;
  t.equal(closed.code, 4001);
  t.match(warnings(b)[0], /did not finish the handshake within 200 ms/);
});

t.test("messages with a forged sender or another recipient are dropped with a warning", async (t) => {
  const b = await startNode(t, "b");
  b.transport.setPeers(new Map([[nodeId("a"), "127.0.0.1:1"], [nodeId("c"), "127.0.0.1:1"]]));
  const client = await rawClient(t, b);
  await rawHandshake(client, "a", b);
  await eventually("the server accepts", () => client.frames.length === 2);
  const a = nodeId("a");
  const c = nodeId("c");
  client.socket.send(encodeFrame([plainMessage(c, b, 1), plainMessage(a, b, 2), plainMessage(a, c, 3)]));
  await eventually("the genuine message arrives", () => b.received.length === 1);
  t.equal(b.received[0]!.context, 2);
  t.same(warnings(b), ["dropping 2 message(s) from node a: a appendResponse message claims to come from node c"]);
});

t.test("a restarted peer is reconnected and messages flow again", async (t) => {
  const a = await startNode(t, "a");
  let b = await startNode(t, "b");
  const port = b.transport.port;
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("first delivery", () => b.received.length === 1);
  await b.transport.stop();
  await eventually("a notices", () => a.transport.peerStatus().get(b.id)?.connected === false);
  a.transport.send([plainMessage(a, b, 2)]);
  await eventually("a reports b unreachable", () => a.unreachable.includes(b.id));
  b = await startNode(t, "b", { port });
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 3)]);
  await eventually("delivery after the restart", () => b.received.some((m) => m.context === 3));
  b.transport.send([plainMessage(b, a, 4)]);
  await eventually("and back", () => a.received.some((m) => m.context === 4));
  const lost = a.lines.filter((l) => l.level === "info" && l.message.startsWith("lost connection to node b"));
  t.equal(lost.length, 1, "down logged once");
  t.equal(a.lines.filter((l) => l.level === "info" && l.message.startsWith("connected to node b")).length, 2, "up logged twice");
});

/** A fake node b that completes the handshake with `a` and then never answers a ping (a silent partition). */
async function silentPeer(t: Test, a: { id: NodeId }, b: NodeId): Promise<{ port: number; connections: () => number }> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/raft", autoPong: false, perMessageDeflate: false });
  await once(server, "listening");
  t.teardown(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  let connections = 0;
  server.on("connection", (socket) => {
    connections++;
    const serverNonce = new Uint8Array(NONCE_BYTES).fill(3);
    socket.send(encodeHandshake(buildServerHello(CLUSTER, b, serverNonce)));
    socket.on("message", (data) => {
      const hello = decodeHandshake(data as Buffer);
      if (E.isLeft(hello) || !(hello.right instanceof ClientHello)) return;
      const input = { secret: SECRET, clusterId: CLUSTER, clientId: a.id, serverId: b, serverNonce, clientNonce: hello.right.clientNonce, clientStoreId: hello.right.storeId };
      socket.send(encodeHandshake(buildServerAccept(input, "b".repeat(32))));
    });
  });
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

t.test("a peer that stops answering pings is disconnected, reported, and redialed on the next send", async (t) => {
  const a = await startNode(t, "a", { limits: { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 200 } });
  const b = nodeId("b");
  const fake = await silentPeer(t, a, b);
  a.transport.setPeers(new Map([[b, `127.0.0.1:${fake.port}`]]));
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("connected", () => a.transport.peerStatus().get(b)?.connected === true);
  await eventually("the silent peer is dropped", () => a.transport.peerStatus().get(b)?.connected === false);
  t.ok(a.lines.some((l) => l.level === "info" && /^lost connection to node b at .*: no answer to keepalive pings for \d+ ms$/.test(l.message)));
  await eventually("reported unreachable", () => a.unreachable.includes(b));
  t.equal(fake.connections(), 1, "no redial while there is nothing to send");
  a.transport.send([plainMessage(a, b, 2)]);
  await eventually("redialed", () => fake.connections() === 2);
});

t.test("a peer that connects to us while our connection to it is silent is redialed at once (issue 14)", async (t) => {
  // A keepalive timeout far beyond the test: only the peer's own connection can end the silence.
  const a = await startNode(t, "a", { limits: { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 60_000 } });
  const b = nodeId("b");
  const fake = await silentPeer(t, a, b);
  a.transport.setPeers(new Map([[b, `127.0.0.1:${fake.port}`]]));
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("connected", () => a.transport.peerStatus().get(b)?.connected === true);
  await sleep(800);
  t.equal(fake.connections(), 1, "a silent connection within the keepalive timeout is kept");
  // The real b comes back (its partition healed) and dials a.
  const real = await startNode(t, "b");
  real.transport.setPeers(new Map([[a.id, a.address]]));
  real.transport.send([plainMessage(real, a, 2)]);
  await eventually("b's message arrives", () => a.received.some((m) => m.context === 2));
  // Dialing is lazy: the next message to b makes the dial (a Raft leader sends one every heartbeat).
  a.transport.send([plainMessage(a, b, 3)]);
  await eventually("a dials b again", () => fake.connections() === 2);
  t.ok(a.lines.some((l) => /it connected to us while this connection had not answered a ping for \d+ ms/.test(l.message)), "the log says why");
});

t.test("a peer that connects to us while our connection to it answers is left alone", async (t) => {
  const a = await startNode(t, "a", { limits: { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 60_000 } });
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  b.transport.send([plainMessage(b, a, 2)]);
  await eventually("both ways", () => b.received.some((m) => m.context === 1) && a.received.some((m) => m.context === 2));
  await sleep(300);
  t.equal(a.lines.filter((l) => l.message.startsWith("lost connection to node b")).length, 0, "a's connection to b answers its pings and stays");
});

t.test("with the peer down, messages beyond the queue bound are dropped and reported", async (t) => {
  const a = await startNode(t, "a", { limits: { queueMessagesMax: 20, frameMessagesMax: 10 } });
  const down = nodeId("b");
  a.transport.setPeers(new Map([[down, `127.0.0.1:${await freePort()}`]]));
  a.transport.send(Array.from({ length: 30 }, (_, i) => plainMessage(a, down, i)));
  await eventually("reported unreachable", () => a.unreachable.includes(down));
  const status = a.transport.peerStatus().get(down)!;
  t.equal(status.queuedMessages, 20);
  t.equal(status.droppedMessages, 10);
  t.equal(status.connected, false);
  t.ok(warnings(a).some((w) => w.startsWith("dropping messages to node b: its queue is full (20 messages")));
  t.same(a.snapshotFailed, [], "no snapshot was dropped");
});

t.test("a dropped snapshot message is reported with onSnapshotFailed", async (t) => {
  const a = await startNode(t, "a", { limits: { queueMessagesMax: 10, frameMessagesMax: 10 } });
  const down = nodeId("b");
  a.transport.setPeers(new Map([[down, `127.0.0.1:${await freePort()}`]]));
  a.transport.send(Array.from({ length: 10 }, (_, i) => plainMessage(a, down, i)));
  a.transport.send([snapshotMessage(a, down, 100)]);
  await eventually("snapshot failure reported", () => a.snapshotFailed.includes(down));
  t.ok(a.unreachable.includes(down));
});

t.test("a snapshot larger than the frame limit is not sent and is reported", async (t) => {
  const limits = { frameBytesMax: 64 * 1024, frameBytesTarget: 16 * 1024, frameMessagesMax: 64 };
  const a = await startNode(t, "a", { limits });
  const b = await startNode(t, "b", { limits });
  meshPeers([a, b]);
  a.transport.send([snapshotMessage(a, b.id, 100 * 1024), plainMessage(a, b, 1)]);
  await eventually("the snapshot failure is reported", () => a.snapshotFailed.includes(b.id));
  await eventually("the heartbeat still arrives", () => b.received.length === 1);
  t.equal(b.received[0]!.type, "appendResponse");
  t.ok(a.lines.some((l) => l.level === "error" && l.message.startsWith("cannot send a snapshot message of")));
});

t.test("a message to a node that is not a peer is dropped and reported", async (t) => {
  const a = await startNode(t, "a");
  a.transport.setPeers(new Map());
  const stranger = nodeId("z");
  a.transport.send([snapshotMessage(a, stranger, 10)]);
  await eventually("reported", () => a.unreachable.includes(stranger) && a.snapshotFailed.includes(stranger));
  t.match(warnings(a)[0], /^dropping a snapshot message to node z: it is not a peer/);
});

t.test("removing a peer closes its connections and refuses it from then on", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  b.transport.send([plainMessage(b, a, 2)]);
  await eventually("connected both ways", () => a.received.length === 1 && b.received.length === 1);
  b.transport.setPeers(new Map());
  t.same([...b.transport.peerStatus().keys()], []);
  await eventually("a sees its connection closed", () => a.transport.peerStatus().get(b.id)?.connected === false);
  a.transport.send([plainMessage(a, b, 3)]);
  await eventually("b refuses a as unknown", () => warnings(b).some((w) => w.includes("unknown node")));
  t.equal(b.received.length, 1);
});

t.test("a bind conflict returns a clear error without retrying", async (t) => {
  const a = await startNode(t, "a");
  const result = await Transport.start(
    { selfId: nodeId("b"), clusterId: CLUSTER, secret: SECRET, listenHost: "127.0.0.1", listenPort: a.transport.port, logger: createRecordingLogger() },
    { onMessages: () => {}, onPeerUnreachable: () => {}, onSnapshotFailed: () => {} },
  );
  if (E.isRight(result)) {
    await result.right.stop();
    t.fail("expected a bind error");
    return;
  }
  t.equal(result.left.code, "addressInUse");
  t.equal(
    result.left.message,
    `cannot listen for raft peers on 127.0.0.1:${a.transport.port}: the address is in use (another process listens there; is another raftgres running?)`,
  );
});

t.test("stop() closes everything; send() afterwards is a no-op", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("delivered", () => b.received.length === 1);
  await a.transport.stop();
  a.transport.send([plainMessage(a, b, 2)]);
  await a.transport.stop();
  await sleep(50);
  t.equal(b.received.length, 1);
});

t.test("with admitNonMembers, an authenticated node outside the membership is heard (it may be a new leader)", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b", { admitNonMembers: true });
  a.transport.setPeers(new Map([[b.id, b.address]]));
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("b receives from a although a is not among its peers", () => b.received.length === 1);
  const wrong = await startNode(t, "c", { secret: "not-the-secret" });
  wrong.transport.setPeers(new Map([[b.id, b.address]]));
  wrong.transport.send([plainMessage(wrong, b, 1)]);
  await eventually("b refuses a node with the wrong secret", () => warnings(b).some((w) => w.includes("authentication")));
  t.equal(b.received.length, 1, "nothing from the unauthenticated node");
});

t.test("the closing of an established connection from a peer is reported (its process died)", async (t) => {
  const disconnected: NodeId[] = [];
  const a = await startNode(t, "a");
  const b = await startNode(t, "b", { disconnected });
  meshPeers([a, b]);
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("connected", () => b.received.length === 1);
  await a.transport.stop();
  await eventually("b hears that a went away", () => disconnected.includes(a.id));
});

t.test("a peer given by host name is dialed: the TCP connect bound starts after the name is looked up", async (t) => {
  const a = await startNode(t, "a", { limits: { connectTimeoutMs: 1000 } });
  const b = await startNode(t, "b");
  a.transport.setPeers(new Map([[b.id, `localhost:${b.transport.port}`]]));
  b.transport.setPeers(new Map([[a.id, a.address]]));
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("delivered through a host name", () => b.received.some((m) => m.context === 1));
  t.equal(a.transport.peerStatus().get(b.id)?.connected, true);
});
