/**
 * Helpers for the transport tests on real sockets (127.0.0.1, port 0): transports that record
 * what they receive and log, raw ws clients (as an attacker or a buggy program would connect),
 * and the hand-run client side of the handshake. Every helper registers its cleanup with the test.
 */
import { either as E } from "fp-ts";
import WebSocket from "ws";
import { createRecordingLogger, type LoggedLine } from "../../src/lib/logger.js";
import {
  buildClientHello,
  type ClientHello,
  decodeHandshake,
  encodeHandshake,
  NONCE_BYTES,
  ServerHello,
} from "../../src/raft/runtime/handshake.js";
import { Transport, type TransportOptions } from "../../src/raft/runtime/transport.js";
import type { TransportLimits } from "../../src/raft/runtime/transport_limits.js";
import { type LogIndex, makeMessage, type Message, type NodeId, nodeId, type Term } from "../../src/raft/types.js";

export const SECRET = "s3cret-shared-by-the-cluster";
export const CLUSTER = "test-cluster";

/** What the helpers need of a tap test: somewhere to register cleanup. */
export interface Test {
  teardown(fn: () => unknown): void;
}

export interface TestNode {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly received: Message[];
  /** Sizes of the batches onMessages was called with: one call per frame. */
  readonly frames: number[];
  readonly unreachable: NodeId[];
  readonly snapshotFailed: NodeId[];
  readonly lines: LoggedLine[];
  readonly address: string;
}

export interface NodeSettings {
  readonly secret?: string;
  readonly clusterId?: string;
  readonly port?: number;
  readonly limits?: Partial<TransportLimits>;
  readonly admitNonMembers?: boolean;
  readonly disconnected?: NodeId[];
}

export async function startNode(t: Test, id: string, settings: NodeSettings = {}): Promise<TestNode> {
  const logger = createRecordingLogger();
  const received: Message[] = [];
  const frames: number[] = [];
  const unreachable: NodeId[] = [];
  const snapshotFailed: NodeId[] = [];
  const options: TransportOptions = {
    selfId: nodeId(id),
    clusterId: settings.clusterId ?? CLUSTER,
    secret: settings.secret ?? SECRET,
    listenHost: "127.0.0.1",
    listenPort: settings.port ?? 0,
    logger,
    limits: { handshakeTimeoutMs: 2000, reconnectDelayMaxMs: 200, ...settings.limits },
    ...(settings.admitNonMembers === undefined ? {} : { admitNonMembers: settings.admitNonMembers }),
  };
  const started = await Transport.start(options, {
    onMessages: (messages) => {
      frames.push(messages.length);
      received.push(...messages);
    },
    onPeerUnreachable: (peer) => unreachable.push(peer),
    onSnapshotFailed: (peer) => snapshotFailed.push(peer),
    onPeerDisconnected: (peer) => settings.disconnected?.push(peer),
  });
  if (E.isLeft(started)) throw new Error(started.left.message);
  const transport = started.right;
  t.teardown(() => transport.stop());
  return { id: nodeId(id), transport, received, frames, unreachable, snapshotFailed, lines: logger.lines, address: `127.0.0.1:${transport.port}` };
}

/** Makes every node a peer of every other node. */
export function meshPeers(nodes: readonly TestNode[]): void {
  for (const node of nodes) {
    node.transport.setPeers(new Map(nodes.filter((n) => n !== node).map((n) => [n.id, n.address])));
  }
}

export async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A message of a kind the transport sends as it is: neither coalesced with newer ones of its kind
 * nor bounded in number like appends (transport_freshness.ts). An append's answer.
 */
export function plainMessage(from: TestNode | NodeId, to: TestNode | NodeId, context: number): Message {
  return makeMessage({
    type: "appendResponse",
    from: typeof from === "string" ? from : from.id,
    to: typeof to === "string" ? to : to.id,
    term: 3 as Term,
    index: 7 as LogIndex,
    context,
  });
}

/** A heartbeat: only the newest queued one is sent (transport_freshness.ts). */
export function heartbeat(from: TestNode | NodeId, to: TestNode | NodeId, context: number): Message {
  return { ...plainMessage(from, to, context), type: "heartbeat", index: 0 as LogIndex, commit: 7 as LogIndex };
}

export function snapshotMessage(from: TestNode, to: NodeId, dataBytes: number): Message {
  return makeMessage({
    type: "snapshot",
    from: from.id,
    to,
    term: 3 as Term,
    snapshot: {
      meta: { index: 10 as LogIndex, term: 3 as Term, timeMs: 0, confState: { members: [] } },
      data: new Uint8Array(dataBytes).fill(7),
    },
  });
}

export function warnings(node: TestNode): string[] {
  return node.lines.filter((line) => line.level === "warn").map((line) => line.message);
}

export interface RawClient {
  readonly socket: WebSocket;
  readonly frames: Buffer[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** A plain ws client, as an attacker or a buggy program would connect. */
export async function rawClient(t: Test, node: TestNode): Promise<RawClient> {
  const socket = new WebSocket(`ws://${node.address}/raft`, { perMessageDeflate: false });
  t.teardown(() => socket.terminate());
  const frames: Buffer[] = [];
  socket.on("message", (data) => frames.push(data as Buffer));
  socket.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  await eventually("the server hello arrives", () => frames.length >= 1);
  return { socket, frames, closed };
}

/** Runs the client side of the handshake by hand, claiming to be `claimedId`. */
export async function rawHandshake(client: RawClient, claimedId: string, server: TestNode, clusterId = CLUSTER): Promise<void> {
  const hello = decodeHandshake(client.frames[0]!);
  if (E.isLeft(hello) || !(hello.right instanceof ServerHello)) throw new Error("expected a server hello");
  const clientHello: ClientHello = buildClientHello({
    secret: SECRET,
    clusterId,
    clientId: claimedId,
    serverId: server.id,
    serverNonce: hello.right.serverNonce,
    clientNonce: new Uint8Array(NONCE_BYTES).fill(5),
    clientStoreId: "5".repeat(32),
  });
  client.socket.send(encodeHandshake(clientHello));
}
