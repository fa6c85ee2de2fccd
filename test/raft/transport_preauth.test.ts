/**
 * What a connection may do to the Raft port before it authenticated (issue 12): frames are
 * limited to the handshake frame size, every phase has a deadline, connections are capped in
 * total and per source address, and a peer claiming this node's own id is refused. Real sockets
 * on 127.0.0.1; the hostile ones are written by hand (raw_websocket.ts). No timing assertions.
 */
import t from "tap";
import { encodeFrame } from "../../src/raft/codec.js";
import { HANDSHAKE_FRAME_BYTES_MAX } from "../../src/raft/runtime/handshake.js";
import { nodeId } from "../../src/raft/types.js";
import { authenticateRaw, clientFrame, OPCODE, RawPeer, upgradeRequest } from "./raw_websocket.js";
import { CLUSTER, eventually, meshPeers, plainMessage, rawClient, rawHandshake, SECRET, startNode, type TestNode, warnings } from "./transport_support.js";

const A = nodeId("a");

async function rawPeer(t: { teardown(fn: () => unknown): void }, node: TestNode): Promise<RawPeer> {
  const peer = await RawPeer.connect(node.transport.port);
  t.teardown(() => peer.destroy());
  return peer;
}

/**
 * Opens idle connections until `count` of them count as unauthenticated on the node; one
 * refused by the admission rate (the peers' own connections took tokens too) is retried.
 */
async function holdSlots(t: { teardown(fn: () => unknown): void }, node: TestNode, count: number): Promise<RawPeer[]> {
  const held: RawPeer[] = [];
  for (let attempt = 0; node.transport.unauthenticatedConnections < count; attempt++) {
    if (attempt > 100) throw new Error(`could not hold ${count} slots`);
    const peer = await rawPeer(t, node);
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (!peer.ended) held.push(peer);
  }
  return held;
}

t.test("a frame header announcing 60 MB before the hello is refused at the header (1009), its payload never sent", async (t) => {
  const b = await startNode(t, "b");
  const peer = await rawPeer(t, b);
  await peer.upgrade();
  await peer.until(() => peer.frames.length === 1, 5000, "the server hello");
  // Only the 14 header bytes leave: a refusal can only come from the header itself.
  peer.write(clientFrame(OPCODE.binary, new Uint8Array(0), { declaredLength: 60_000_000 }));
  await peer.closed;
  t.equal(peer.closeCode, 1009, "message too big, answered before any payload");
  await eventually("b warns", () => warnings(b).length === 1);
  t.match(warnings(b)[0], /^connection from 127\.0\.0\.1:\d+ failed: Max payload size exceeded$/);
  await eventually("the slot is free again", () => b.transport.unauthenticatedConnections === 0);
});

t.test("before the hello a frame one byte over the handshake limit is refused; after it, frames up to frameBytesMax pass", async (t) => {
  const b = await startNode(t, "b");
  b.transport.setPeers(new Map([[A, "127.0.0.1:1"]]));
  const early = await rawPeer(t, b);
  await early.upgrade();
  early.write(clientFrame(OPCODE.binary, new Uint8Array(HANDSHAKE_FRAME_BYTES_MAX + 1)));
  await early.closed;
  t.equal(early.closeCode, 1009);
  const peer = await rawPeer(t, b);
  await authenticateRaw(peer, { secret: SECRET, clusterId: CLUSTER, clientId: A, serverId: b.id });
  const frame = encodeFrame(Array.from({ length: 2000 }, (_, i) => plainMessage(A, b, i)));
  t.ok(frame.length > 50 * HANDSHAKE_FRAME_BYTES_MAX, `a frame of ${frame.length} bytes`);
  peer.write(clientFrame(OPCODE.binary, frame));
  await eventually("the authenticated peer's large frame arrives", () => b.received.length === 2000);
  t.equal(b.transport.unauthenticatedConnections, 0, "the refused socket was dropped at once; the peer no longer counts");
});

t.test("the handshake deadline closes silent sockets, half request lines and half frames after the upgrade", async (t) => {
  const b = await startNode(t, "b", { limits: { handshakeTimeoutMs: 300, handshakeClosingMs: 200 } });
  const idle = await rawPeer(t, b);
  const halfLine = await rawPeer(t, b);
  halfLine.write("GET /ra");
  const halfFrame = await rawPeer(t, b);
  await halfFrame.upgrade();
  // The header announces 100 bytes; 10 arrive. The peer will never answer a close frame.
  halfFrame.write(clientFrame(OPCODE.binary, new Uint8Array(10), { declaredLength: 100 }));
  const started = Date.now();
  await Promise.all([idle.closed, halfLine.closed, halfFrame.closed]);
  t.comment(`all three closed ${Date.now() - started} ms after the last was set up (deadline 300 ms + closing 200 ms)`);
  t.equal(halfFrame.closeCode, 4001, "the upgraded one was told why before it was dropped");
  t.ok(warnings(b).some((w) => /did not finish the handshake within 300 ms$/.test(w)));
  await eventually("every slot is free", () => b.transport.unauthenticatedConnections === 0);
});

t.test("connections over the total cap are destroyed at once, with one warning per interval", async (t) => {
  const b = await startNode(t, "b", { limits: { unauthenticatedConnectionsMax: 3, unauthenticatedConnectionsPerAddressMax: 3 } });
  for (let i = 0; i < 3; i++) await rawPeer(t, b);
  await eventually("three counted", () => b.transport.unauthenticatedConnections === 3);
  for (let i = 0; i < 10; i++) {
    const over = await rawPeer(t, b);
    await over.closed;
    t.equal(over.statusLine, null, "closed without an answer");
  }
  t.equal(b.transport.unauthenticatedConnections, 3);
  t.same(warnings(b), ["refusing a connection from 127.0.0.1: 3 connections have not authenticated yet (unauthenticatedConnectionsMax)"]);
});

t.test("connections over the per-address cap are destroyed at once", async (t) => {
  const b = await startNode(t, "b", { limits: { unauthenticatedConnectionsMax: 4, unauthenticatedConnectionsPerAddressMax: 2 } });
  for (let i = 0; i < 2; i++) await rawPeer(t, b);
  await eventually("two counted", () => b.transport.unauthenticatedConnections === 2);
  const over = await rawPeer(t, b);
  await over.closed;
  t.equal(b.transport.unauthenticatedConnections, 2);
  t.same(warnings(b), [
    "refusing a connection from 127.0.0.1: 2 connections from that address have not authenticated yet (unauthenticatedConnectionsPerAddressMax)",
  ]);
});

t.test("established peers do not count: they keep working while the caps are full, and peers connect once it ends", async (t) => {
  const limits = { unauthenticatedConnectionsMax: 4, unauthenticatedConnectionsPerAddressMax: 4 };
  const a = await startNode(t, "a", { limits });
  const b = await startNode(t, "b", { limits });
  const c = await startNode(t, "c", { limits });
  a.transport.setPeers(new Map([[b.id, b.address]]));
  b.transport.setPeers(new Map([[a.id, a.address], [c.id, c.address]]));
  a.transport.send([plainMessage(a, b, 1)]);
  await eventually("a reaches b", () => b.received.length === 1);
  const flood = await holdSlots(t, b, 4);
  a.transport.send([plainMessage(a, b, 2)]);
  await eventually("a still reaches b", () => b.received.length === 2);
  for (const peer of flood) peer.destroy();
  await eventually("the flood is gone", () => b.transport.unauthenticatedConnections === 0);
  meshPeers([b, c]);
  c.transport.send([plainMessage(c, b, 3)]);
  await eventually("a new peer connects", () => b.received.some((m) => m.from === c.id));
});

t.test("a client hello claiming the server's own id is refused with a clear warning", async (t) => {
  const b = await startNode(t, "b");
  const client = await rawClient(t, b);
  await rawHandshake(client, "b", b);
  const closed = await client.closed;
  t.equal(closed.code, 4012);
  t.equal(closed.reason, "the other side has the same node id");
  t.match(
    warnings(b)[0],
    /^refusing connection from node b \(127\.0\.0\.1:\d+\): it claims this node's own id b: two nodes are configured with the same id, or a node dialed itself$/,
  );
});

t.test("a node whose peer address points back at itself refuses the connection and says so", async (t) => {
  const a = await startNode(t, "a");
  a.transport.setPeers(new Map([[nodeId("b"), a.address]]));
  a.transport.send([plainMessage(a, nodeId("b"), 1)]);
  await eventually("a warns", () => warnings(a).some((w) => w.includes("own id")));
  t.ok(warnings(a).includes(
    `refusing connection to node b at ${a.address}: the node at the address of node b has this node's own id a: ` +
      "the address points back at this node, or two nodes are configured with the same id",
  ));
  t.equal(a.received.length, 0);
});

t.test("data sent behind the upgrade request, before the server answered it, drops the connection unanswered", async (t) => {
  const b = await startNode(t, "b");
  const peer = await rawPeer(t, b);
  // One write, so the request and the frame arrive in one read (RFC 6455 §4.1: the client waits).
  peer.write(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(OPCODE.binary, new Uint8Array(100))]));
  await peer.closed;
  t.equal(peer.statusLine, null, "no 101");
  t.match(warnings(b)[0], /^closing a connection from 127\.0\.0\.1: it sent 106 bytes before its WebSocket upgrade was answered$/);
  await eventually("the slot is free again", () => b.transport.unauthenticatedConnections === 0);
});

t.test("an upgraded connection that sends more than a hello's worth before authenticating is dropped (a ping flood)", async (t) => {
  const b = await startNode(t, "b");
  const peer = await rawPeer(t, b);
  await peer.upgrade();
  for (let i = 0; i < 100 && !peer.ended; i++) {
    peer.write(clientFrame(OPCODE.ping, new Uint8Array(100)));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await peer.closed;
  const pongs = peer.frames.filter((f) => f.opcode === OPCODE.pong).length;
  t.ok(pongs < 100, `${pongs} of 100 pings answered before the connection was dropped`);
  t.match(warnings(b)[0], /^closing a connection from 127\.0\.0\.1: it sent \d+ bytes before it authenticated \(at most 4096\)$/);
});

t.test("connections beyond the per-address admission rate are destroyed at once", async (t) => {
  const b = await startNode(t, "b", { limits: { unauthenticatedConnectionsPerAddressMax: 2, unauthenticatedConnectionsPerAddressPerSecondMax: 1 } });
  // The burst (2) is used up; at one per second, a few more at once find the bucket empty.
  const burst = [await rawPeer(t, b), await rawPeer(t, b)];
  await eventually("two counted", () => b.transport.unauthenticatedConnections === 2);
  for (const peer of burst) peer.destroy();
  await eventually("both gone", () => b.transport.unauthenticatedConnections === 0);
  const more = await Promise.all(Array.from({ length: 4 }, () => rawPeer(t, b)));
  await Promise.race([Promise.all(more.map((p) => p.closed)), new Promise((resolve) => setTimeout(resolve, 300))]);
  t.ok(more.filter((p) => p.ended).length >= 2, "most of them were dropped");
  t.ok(warnings(b).includes(
    "refusing a connection from 127.0.0.1: more than 1 new connections per second from that address (unauthenticatedConnectionsPerAddressPerSecondMax)",
  ));
});
