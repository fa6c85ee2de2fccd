/**
 * The authentication handshake of the Raft transport: pure functions that build and check the
 * three hello frames, and their borsh encoding. No sockets, no clock, no randomness: nonces are
 * passed in, so tests can replay any exchange.
 *
 * Every connection (one per direction per pair of nodes) runs:
 *   1. server → client  ServerHello  { protocolVersion, clusterId, serverId, serverNonce }
 *   2. client → server  ClientHello  { protocolVersion, clusterId, fromId, toId, clientNonce, mac, storeId }
 *      mac = HMAC-SHA256(secret, "client" ‖ clusterId ‖ fromId ‖ toId ‖ clientStoreId ‖ serverNonce ‖ clientNonce)
 *   3. server → client  ServerAccept { mac, storeId }
 *      mac = HMAC-SHA256(secret, "server" ‖ … ‖ clientStoreId ‖ serverStoreId ‖ clientNonce ‖ serverNonce)
 * The store ids name each side's Raft data directory (log_store_peers.ts): a node remembers the
 * one it first saw for each peer and refuses a peer that comes back with another one
 * ("storeChanged"), since that peer's log may have forgotten entries and votes it acknowledged.
 * Protocol version 2 added them; a node of version 1 is refused with "protocol version mismatch"
 * (upgrade the nodes one at a time: a majority keeps one version at every step).
 * Each side proves knowledge of the shared secret over a nonce the other side just chose, so a
 * recorded exchange cannot be replayed, and the "client"/"server" labels keep one side's mac from
 * being reflected as the other's. Variable-length fields are length-prefixed, so no two different
 * field tuples hash the same bytes. The handshake authenticates; it does not encrypt (use a
 * private network or a tunnel for confidentiality).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { deserialize, field, fixedArray, serialize, variant } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../../lib/assert.js";
import { isValidNodeId, type NodeId } from "../types.js";
import { isStoreId } from "./log_store_peers.js";

export const PROTOCOL_VERSION = 2;
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
export const CLUSTER_ID_BYTES_MAX = 128;
/** Node ids are at most 63 bytes (types.ts); a ClientHello is under 400 bytes. */
export const HANDSHAKE_FRAME_BYTES_MAX = 1024;

const MAC_DOMAIN = "raftgres raft transport v2";

/**
 * WebSocket close codes (4000–4999 is the range RFC 6455 §7.4.2 leaves to applications). The
 * close reason is short and for machines; the detail goes to the log of the side that refused.
 */
export const CLOSE_CODES = {
  handshakeTimeout: 4001,
  protocolViolation: 4002,
  protocolVersion: 4003,
  clusterId: 4004,
  wrongNode: 4005,
  unknownNode: 4006,
  authentication: 4007,
  malformedFrame: 4008,
  peerRemoved: 4009,
  replaced: 4010,
  keepaliveTimeout: 4011,
  sameNodeId: 4012,
  storeChanged: 4013,
} as const;

export type CloseKind = keyof typeof CLOSE_CODES;

/** The kinds of refusal a handshake check returns; each is also a close kind. */
export type RefusalKind = Extract<
  CloseKind,
  "protocolViolation" | "protocolVersion" | "clusterId" | "wrongNode" | "unknownNode" | "authentication" | "sameNodeId" | "storeChanged"
>;

/** Why one side refused the other: `kind` selects the close code, `detail` is for the log. */
export interface Refusal {
  readonly kind: RefusalKind;
  readonly detail: string;
}

const CLOSE_REASONS: Readonly<Record<CloseKind, string>> = {
  handshakeTimeout: "handshake timeout",
  protocolViolation: "protocol violation",
  protocolVersion: "protocol version mismatch",
  clusterId: "cluster id mismatch",
  wrongNode: "wrong node",
  unknownNode: "unknown node",
  authentication: "authentication failed",
  malformedFrame: "malformed frame",
  peerRemoved: "peer removed from the membership",
  replaced: "replaced by a newer connection",
  keepaliveTimeout: "keepalive timeout",
  sameNodeId: "the other side has the same node id",
  storeChanged: "your Raft data directory is not the one this node knew",
};

/** The short close reason sent to the other side (RFC 6455 allows at most 123 bytes). */
export function closeReason(kind: CloseKind): string {
  return CLOSE_REASONS[kind];
}

/** A union of three frames: an undecorated abstract base with @variant subclasses (borsh). */
export abstract class HandshakeFrame {}

@variant(1)
export class ServerHello extends HandshakeFrame {
  @field({ type: "u16" }) protocolVersion: number;
  @field({ type: "string" }) clusterId: string;
  @field({ type: "string" }) serverId: string;
  @field({ type: fixedArray("u8", NONCE_BYTES) }) serverNonce: Uint8Array;
  constructor(protocolVersion: number, clusterId: string, serverId: string, serverNonce: Uint8Array) {
    super();
    this.protocolVersion = protocolVersion;
    this.clusterId = clusterId;
    this.serverId = serverId;
    this.serverNonce = serverNonce;
  }
}

@variant(2)
export class ClientHello extends HandshakeFrame {
  @field({ type: "u16" }) protocolVersion: number;
  @field({ type: "string" }) clusterId: string;
  @field({ type: "string" }) fromId: string;
  @field({ type: "string" }) toId: string;
  @field({ type: fixedArray("u8", NONCE_BYTES) }) clientNonce: Uint8Array;
  @field({ type: fixedArray("u8", MAC_BYTES) }) mac: Uint8Array;
  /** The client's Raft data directory (log_store_peers.ts). */
  @field({ type: "string" }) storeId: string;
  constructor(protocolVersion: number, clusterId: string, fromId: string, toId: string, clientNonce: Uint8Array, mac: Uint8Array, storeId: string) {
    super();
    this.protocolVersion = protocolVersion;
    this.clusterId = clusterId;
    this.fromId = fromId;
    this.toId = toId;
    this.clientNonce = clientNonce;
    this.mac = mac;
    this.storeId = storeId;
  }
}

@variant(3)
export class ServerAccept extends HandshakeFrame {
  @field({ type: "u16" }) protocolVersion: number;
  @field({ type: fixedArray("u8", MAC_BYTES) }) mac: Uint8Array;
  /** The server's Raft data directory (log_store_peers.ts). */
  @field({ type: "string" }) storeId: string;
  constructor(protocolVersion: number, mac: Uint8Array, storeId: string) {
    super();
    this.protocolVersion = protocolVersion;
    this.mac = mac;
    this.storeId = storeId;
  }
}

export function encodeHandshake(frame: HandshakeFrame): Uint8Array {
  const bytes = serialize(frame);
  assert(bytes.length <= HANDSHAKE_FRAME_BYTES_MAX, () => `handshake frame of ${bytes.length} bytes`);
  return bytes;
}

/**
 * Decodes one handshake frame. A frame of another protocol version may have another layout, so
 * when decoding fails the version (the u16 after the variant byte in every version) is read on
 * its own: the peer then learns "protocol version mismatch", not "malformed".
 */
export function decodeHandshake(bytes: Uint8Array): E.Either<Refusal, HandshakeFrame> {
  if (bytes.length > HANDSHAKE_FRAME_BYTES_MAX) {
    return E.left(violation(`handshake frame of ${bytes.length} bytes exceeds ${HANDSHAKE_FRAME_BYTES_MAX}`));
  }
  try {
    return E.right(deserialize(bytes, HandshakeFrame));
  } catch (error: unknown) {
    if (bytes.length >= 3 && bytes[0]! >= 1 && bytes[0]! <= 3) {
      const version = bytes[1]! | (bytes[2]! << 8);
      if (version !== PROTOCOL_VERSION) return E.left(versionRefusal(version));
    }
    const reason = error instanceof Error ? error.message : String(error);
    return E.left(violation(`malformed handshake frame (${bytes.length} bytes): ${reason}`));
  }
}

function violation(detail: string): Refusal {
  return { kind: "protocolViolation", detail };
}

function versionRefusal(version: number): Refusal {
  return { kind: "protocolVersion", detail: `protocol version ${version} differs from ours ${PROTOCOL_VERSION}` };
}

function clusterRefusal(theirs: string, ours: string): Refusal {
  return { kind: "clusterId", detail: `cluster id ${quote(theirs)} differs from ours ${quote(ours)}` };
}

/** Ids come from the other side: quote them and cut them short before they reach a log line. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

export function assertClusterId(clusterId: string): void {
  const bytes = Buffer.byteLength(clusterId, "utf8");
  assert(bytes > 0 && bytes <= CLUSTER_ID_BYTES_MAX, () => `cluster id must have 1 to ${CLUSTER_ID_BYTES_MAX} bytes`);
}

/** The identities and nonces both macs of one connection cover. */
export interface MacInput {
  readonly secret: string;
  readonly clusterId: string;
  /** The dialing node. */
  readonly clientId: string;
  /** The node that accepted the connection. */
  readonly serverId: string;
  readonly serverNonce: Uint8Array;
  readonly clientNonce: Uint8Array;
  /** The client's store id, which both macs cover. */
  readonly clientStoreId: string;
}

function lengthPrefixed(value: string): Buffer[] {
  const bytes = Buffer.from(value, "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return [length, bytes];
}

/** `serverStoreId` only for the server's mac: the client sends its mac before it learns it. */
function mac(label: "client" | "server", input: MacInput, serverStoreId: string | null): Uint8Array {
  assert(input.secret.length > 0, "the shared secret must not be empty");
  assert(input.serverNonce.length === NONCE_BYTES && input.clientNonce.length === NONCE_BYTES, "nonce length");
  assert((label === "server") === (serverStoreId !== null), "only the server's mac covers its store id");
  const hmac = createHmac("sha256", input.secret);
  const parts = [MAC_DOMAIN, label, input.clusterId, input.clientId, input.serverId, input.clientStoreId];
  if (serverStoreId !== null) parts.push(serverStoreId);
  for (const part of parts) {
    for (const chunk of lengthPrefixed(part)) hmac.update(chunk);
  }
  // The side that proves comes second: it answers the other side's nonce.
  if (label === "client") hmac.update(input.serverNonce).update(input.clientNonce);
  else hmac.update(input.clientNonce).update(input.serverNonce);
  return hmac.digest();
}

export function clientMac(input: MacInput): Uint8Array {
  return mac("client", input, null);
}

export function serverMac(input: MacInput, serverStoreId: string): Uint8Array {
  return mac("server", input, serverStoreId);
}

/**
 * A peer that presents another store id than the one remembered for it: its data directory was
 * emptied or replaced, and its log may lack entries and votes it acknowledged.
 */
function storeChanged(peer: string, presented: string, known: string): Refusal {
  return {
    kind: "storeChanged",
    detail: `node ${peer} presents Raft data directory ${presented}, but this node knew it with directory ${known}: ` +
      `its data was lost or replaced since, so it may have forgotten entries and votes it acknowledged; ` +
      `bring it back with \`raftgres members remove ${peer}\` and \`raftgres members add\` (see its log)`,
  };
}

/** Constant-time comparison (crypto.timingSafeEqual needs equal lengths, so check that first). */
export function macEquals(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

export function buildServerHello(clusterId: string, serverId: NodeId, serverNonce: Uint8Array): ServerHello {
  assertClusterId(clusterId);
  assert(serverNonce.length === NONCE_BYTES, "server nonce length");
  return new ServerHello(PROTOCOL_VERSION, clusterId, serverId, serverNonce);
}

export interface ClientExpectation {
  readonly clusterId: string;
  /** This node: a server hello naming it means we reached ourselves (or a twin). */
  readonly selfId: NodeId;
  /** The peer this client meant to dial. */
  readonly peerId: NodeId;
}

/** Step 2, client side: is this the node, cluster and protocol we meant to reach? */
export function checkServerHello(frame: HandshakeFrame, expected: ClientExpectation): E.Either<Refusal, ServerHello> {
  assert(expected.peerId !== expected.selfId, "a node does not dial itself as a peer");
  if (!(frame instanceof ServerHello)) return E.left(violation(`expected a server hello, got ${frame.constructor.name}`));
  if (frame.protocolVersion !== PROTOCOL_VERSION) return E.left(versionRefusal(frame.protocolVersion));
  if (frame.clusterId !== expected.clusterId) return E.left(clusterRefusal(frame.clusterId, expected.clusterId));
  if (frame.serverId === expected.selfId) {
    return E.left({
      kind: "sameNodeId",
      detail: `the node at the address of node ${expected.peerId} has this node's own id ${expected.selfId}: ` +
        "the address points back at this node, or two nodes are configured with the same id",
    });
  }
  if (frame.serverId !== expected.peerId) {
    return E.left({ kind: "wrongNode", detail: `node ${quote(frame.serverId)} answered at the address of node ${expected.peerId}` });
  }
  return E.right(frame);
}

export function buildClientHello(input: MacInput): ClientHello {
  assertClusterId(input.clusterId);
  assert(isStoreId(input.clientStoreId), "a client hello carries a well-formed store id");
  return new ClientHello(PROTOCOL_VERSION, input.clusterId, input.clientId, input.serverId, input.clientNonce, clientMac(input), input.clientStoreId);
}

export interface ServerExpectation {
  readonly secret: string;
  readonly clusterId: string;
  readonly selfId: NodeId;
  readonly serverNonce: Uint8Array;
  /** Whether the node is in the current membership (Transport.setPeers). */
  readonly isPeer: (id: NodeId) => boolean;
  /** The store id remembered for a peer, or null (log_store_peers.ts). */
  readonly knownStore: (id: NodeId) => string | null;
}

/** An authenticated client: its id and the store id it presented. */
export interface AcceptedClient {
  readonly peer: NodeId;
  readonly storeId: string;
}

/**
 * Step 3, server side. Returns the authenticated peer id. The mac is checked before membership,
 * so only a node that knows the secret learns whether it is a member ("unknown node"). A hello
 * claiming this node's own id is refused before the mac: a mac over (self, self) proves nothing
 * useful, and that this node's id is ours was told to everyone by the server hello already.
 */
export function checkClientHello(frame: HandshakeFrame, expected: ServerExpectation): E.Either<Refusal, AcceptedClient> {
  if (!(frame instanceof ClientHello)) return E.left(violation(`expected a client hello, got ${frame.constructor.name}`));
  if (frame.protocolVersion !== PROTOCOL_VERSION) return E.left(versionRefusal(frame.protocolVersion));
  if (frame.clusterId !== expected.clusterId) return E.left(clusterRefusal(frame.clusterId, expected.clusterId));
  if (!isValidNodeId(frame.fromId)) return E.left(violation(`invalid node id ${quote(frame.fromId)}`));
  if (frame.toId !== expected.selfId) {
    return E.left({ kind: "wrongNode", detail: `it meant to reach node ${quote(frame.toId)}, this is node ${expected.selfId}` });
  }
  if (frame.fromId === expected.selfId) {
    return E.left({
      kind: "sameNodeId",
      detail: `it claims this node's own id ${expected.selfId}: two nodes are configured with the same id, or a node dialed itself`,
    });
  }
  const input: MacInput = {
    secret: expected.secret,
    clusterId: expected.clusterId,
    clientId: frame.fromId,
    serverId: expected.selfId,
    serverNonce: expected.serverNonce,
    clientNonce: frame.clientNonce,
    clientStoreId: frame.storeId,
  };
  if (!macEquals(clientMac(input), frame.mac)) {
    return E.left({ kind: "authentication", detail: "authentication failed: wrong shared secret" });
  }
  const peer = frame.fromId as NodeId;
  if (!expected.isPeer(peer)) return E.left({ kind: "unknownNode", detail: "unknown node (not in this node's current membership)" });
  if (!isStoreId(frame.storeId)) return E.left(violation(`malformed store id ${quote(frame.storeId)}`));
  const known = expected.knownStore(peer);
  if (known !== null && known !== frame.storeId) return E.left(storeChanged(peer, frame.storeId, known));
  return E.right({ peer, storeId: frame.storeId });
}

export function buildServerAccept(input: MacInput, serverStoreId: string): ServerAccept {
  assert(isStoreId(serverStoreId), "a server accept carries a well-formed store id");
  return new ServerAccept(PROTOCOL_VERSION, serverMac(input, serverStoreId), serverStoreId);
}

/**
 * Step 4, client side: did the server prove it knows the secret, over our nonce, and is its
 * data directory the one we remember (`known`, null when we know none)? Right: its store id.
 */
export function checkServerAccept(frame: HandshakeFrame, input: MacInput, known: string | null): E.Either<Refusal, string> {
  if (!(frame instanceof ServerAccept)) return E.left(violation(`expected a server accept, got ${frame.constructor.name}`));
  if (frame.protocolVersion !== PROTOCOL_VERSION) return E.left(versionRefusal(frame.protocolVersion));
  if (!macEquals(serverMac(input, frame.storeId), frame.mac)) {
    return E.left({ kind: "authentication", detail: "authentication failed: the node does not know our shared secret" });
  }
  if (!isStoreId(frame.storeId)) return E.left(violation(`malformed store id ${quote(frame.storeId)}`));
  if (known !== null && known !== frame.storeId) return E.left(storeChanged(input.serverId, frame.storeId, known));
  return E.right(frame.storeId);
}
