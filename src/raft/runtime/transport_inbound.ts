/**
 * The inbound half of the transport: one InboundConnection per accepted socket. It runs the
 * server side of the handshake (handshake.ts) and then only reads Raft frames from the peer it
 * authenticated. Bad input from a peer is an expected failure, never a crash: the connection is
 * closed with a 4xxx code, one (rate-limited) warning says why, and the peer redials.
 *
 * Until the peer authenticated, the socket's frame limit is the handshake frame size and the
 * connection counts against the transport's caps with a deadline (transport_admission.ts); the
 * guard hands it over when the handshake succeeds or fails.
 */
import { randomBytes } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import type WebSocket from "ws";
import { assert } from "../../lib/assert.js";
import { decodeFrame } from "../codec.js";
import { isValidNodeId, type Message, type NodeId } from "../types.js";
import {
  buildServerAccept,
  buildServerHello,
  checkClientHello,
  ClientHello,
  CLOSE_CODES,
  type CloseKind,
  closeReason,
  decodeHandshake,
  encodeHandshake,
  NONCE_BYTES,
  quote,
} from "./handshake.js";
import type { HandshakeDeadlineTarget } from "./transport_admission.js";
import type { TransportContext } from "./transport_context.js";
import { raisePayloadLimit } from "./transport_payload_limit.js";

/** What the Transport keeps about its inbound connections (one established per peer). */
export interface InboundRegistry {
  established(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
}

/** How the connection reports the outcome of its handshake to the transport's admission. */
export interface HandshakeGuard {
  /**
   * The peer authenticated: it no longer counts as unauthenticated and has no deadline. False
   * when the socket no longer counts (closed or past its deadline): the connection must end.
   */
  authenticated(): boolean;
  /** Refused before authentication: the peer may answer the close frame, briefly. */
  closing(): void;
}

const SEND_OPTIONS = { binary: true, compress: false } as const;

export class InboundConnection implements HandshakeDeadlineTarget {
  private state: "handshake" | "open" | "closed" = "handshake";
  private authenticatedPeer: NodeId | null = null;
  private lastError: string | null = null;
  private readonly serverNonce = randomBytes(NONCE_BYTES);

  constructor(
    private readonly context: TransportContext,
    private readonly socket: WebSocket,
    /** "ip:port" of the other end, for log lines before the peer is known. */
    private readonly remote: string,
    private readonly registry: InboundRegistry,
    private readonly guard: HandshakeGuard,
  ) {
    socket.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    socket.on("error", (error) => {
      this.lastError = error.message;
      // Before authentication an error is bad input (a frame over the handshake limit, a broken
      // frame): ws has already written its close frame (1009, 1002 …); stop reading at once
      // instead of draining whatever the other side keeps sending.
      if (this.state !== "handshake") return;
      this.warn("error", `connection from ${this.remote} failed: ${error.message}`);
      this.close("terminate");
    });
    socket.on("close", (code, reason) => this.onClose(code, reason.toString()));
    const hello = buildServerHello(context.clusterId, context.selfId, this.serverNonce);
    socket.send(encodeHandshake(hello), SEND_OPTIONS);
  }

  get peer(): NodeId | null {
    return this.authenticatedPeer;
  }

  /** The admission's deadline passed before the peer authenticated. */
  handshakeDeadline(): void {
    if (this.state !== "handshake") return;
    const { handshakeTimeoutMs } = this.context.limits;
    this.warn("timeout", `connection from ${this.remote} did not finish the handshake within ${handshakeTimeoutMs} ms`);
    this.close("handshakeTimeout");
  }

  /** Closes with a code; no further events are handled. `terminate` skips the closing handshake. */
  close(kind: CloseKind | "terminate"): void {
    if (this.state === "closed") return;
    if (this.state === "handshake" && kind !== "terminate") this.guard.closing();
    this.state = "closed";
    this.registry.closed(this);
    if (kind === "terminate") this.socket.terminate();
    else this.socket.close(CLOSE_CODES[kind], closeReason(kind));
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.state === "closed" || this.context.isStopped()) return;
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.warn("text", `closing connection from ${this.who()}: it sent a text frame, the protocol is binary`);
      this.close("protocolViolation");
    } else if (this.state === "handshake") {
      this.onHello(data);
    } else {
      this.onFrame(data);
    }
  }

  private onHello(bytes: Buffer): void {
    // ws still delivers frames that were buffered when the socket closed; a hello that arrives
    // on a closing socket authenticates nothing.
    if (this.socket.readyState !== this.socket.OPEN) return;
    const decoded = decodeHandshake(bytes);
    // Name the node the hello claims to come from, authenticated or not: that is what the
    // operator needs to find the misconfigured node.
    const hello = E.isRight(decoded) && decoded.right instanceof ClientHello ? decoded.right : null;
    const claimed = hello?.fromId ?? null;
    const checked = E.isLeft(decoded)
      ? decoded
      : checkClientHello(decoded.right, {
        secret: this.context.secret,
        clusterId: this.context.clusterId,
        selfId: this.context.selfId,
        serverNonce: this.serverNonce,
        isPeer: (id) => this.context.isPeer(id),
        knownStore: (id) => this.context.knownStore(id),
      });
    if (E.isLeft(checked)) {
      const from = claimed === null ? this.remote : `node ${isValidNodeId(claimed) ? claimed : quote(claimed)} (${this.remote})`;
      const key = `${claimed ?? this.remote.replace(/:\d+$/, "")}|${checked.left.kind}`;
      this.context.warnLimited(key, { remote: this.remote, claimedId: claimed, reason: checked.left.kind }, `refusing connection from ${from}: ${checked.left.detail}`);
      this.close(checked.left.kind);
      return;
    }
    const { peer, storeId } = checked.right;
    assert(hello !== null, "an accepted handshake frame is a client hello");
    const accept = buildServerAccept({
      secret: this.context.secret,
      clusterId: this.context.clusterId,
      clientId: peer,
      serverId: this.context.selfId,
      serverNonce: this.serverNonce,
      clientNonce: hello.clientNonce,
      clientStoreId: storeId,
    }, this.context.storeId);
    if (!this.guard.authenticated()) {
      this.close("terminate");
      return;
    }
    // Raised before the accept leaves: the peer sends Raft frames only after it arrived.
    raisePayloadLimit(this.socket, this.context.limits.frameBytesMax);
    this.state = "open";
    this.authenticatedPeer = peer;
    if (this.context.knownStore(peer) === null) this.context.handlers.onPeerStore?.(peer, storeId);
    this.socket.send(encodeHandshake(accept), SEND_OPTIONS);
    this.context.logger.info({ peer, remote: this.remote }, `accepted connection from node ${peer} (${this.remote})`);
    this.registry.established(this);
  }

  private onFrame(bytes: Buffer): void {
    const { frameMessagesMax } = this.context.limits;
    // A frame starts with its message count (borsh u32): refuse a huge one before decoding.
    const count = bytes.length >= 4 ? bytes.readUInt32LE(0) : 0;
    const decoded = count > frameMessagesMax
      ? E.left(`frame of ${count} messages exceeds the limit of ${frameMessagesMax}`)
      : decodeFrame(bytes);
    if (E.isLeft(decoded)) {
      this.warn("malformed", `closing connection from node ${this.who()}: ${decoded.left}`);
      this.close("malformedFrame");
      return;
    }
    const messages = this.acceptable(decoded.right);
    if (messages.length > 0) this.context.handlers.onMessages(messages);
  }

  /**
   * Keeps the messages that the authenticated peer may send us: from itself, to us. Others are
   * a bug or an attack; they are dropped with one warning per frame. The common case (all valid)
   * returns the decoded array itself.
   */
  private acceptable(messages: Message[]): Message[] {
    const peer = this.authenticatedPeer;
    const selfId = this.context.selfId;
    if (messages.every((m) => m.from === peer && m.to === selfId)) return messages;
    const kept = messages.filter((m) => m.from === peer && m.to === selfId);
    const bad = messages.find((m) => m.from !== peer || m.to !== selfId)!;
    const why = bad.from !== peer
      ? `a ${bad.type} message claims to come from node ${bad.from}`
      : `a ${bad.type} message is addressed to node ${bad.to}, this is node ${selfId}`;
    this.warn("misaddressed", `dropping ${messages.length - kept.length} message(s) from node ${peer}: ${why}`);
    return kept;
  }

  private onClose(code: number, reason: string): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.registry.closed(this);
    const detail = this.lastError ?? `code ${code}${reason === "" ? "" : `: ${reason}`}`;
    if (this.lastError !== null) this.warn("error", `connection from ${this.who()} failed: ${detail}`);
    else if (wasOpen) this.context.logger.info({ peer: this.authenticatedPeer, code }, `connection from node ${this.who()} closed (${detail})`);
    // The client checks our store id last: a refusal of it arrives as the close of an open connection.
    if (wasOpen && code === CLOSE_CODES.storeChanged && this.authenticatedPeer !== null) this.context.handlers.onStoreRefused?.(this.authenticatedPeer);
    if (wasOpen && this.authenticatedPeer !== null && !this.context.isStopped()) this.context.handlers.onPeerDisconnected?.(this.authenticatedPeer);
    else this.context.logger.debug({ remote: this.remote, code }, `connection from ${this.remote} closed during the handshake (${detail})`);
  }

  private who(): string {
    return this.authenticatedPeer ?? this.remote;
  }

  private warn(reason: string, message: string): void {
    const key = `${this.authenticatedPeer ?? this.remote.replace(/:\d+$/, "")}|${reason}`;
    this.context.warnLimited(key, { peer: this.authenticatedPeer, remote: this.remote }, message);
  }
}
