/**
 * The outbound half of the transport: one OutboundLink per peer, which dials the peer, runs the
 * client side of the handshake (handshake.ts), and then only writes Raft frames to it. Replies
 * come back on the peer's own outbound connection to us (transport_inbound.ts), so each socket
 * carries data one way and needs no request/response bookkeeping.
 *
 * Lifecycle: idle → connecting (TCP, HTTP upgrade, handshake) → open → (lost) → backoff → idle.
 * Dialing is lazy: an idle link dials when it has queued messages. Backoff doubles from
 * reconnectDelayMinMs to reconnectDelayMaxMs with jitter, and resets after a successful handshake.
 * What waits in the queue while the connection does not drain is dropped once stale, never
 * replayed in a burst (transport_freshness.ts).
 */
import { randomBytes } from "node:crypto";
import { isIP, connect as netConnect, type NetConnectOpts, type Socket } from "node:net";
import * as E from "fp-ts/lib/Either.js";
import WebSocket from "ws";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { encodeFrame } from "../codec.js";
import { type Message, messageSizeBytes, type NodeId } from "../types.js";
import {
  buildClientHello,
  checkServerAccept,
  checkServerHello,
  CLOSE_CODES,
  type CloseKind,
  closeReason,
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_FRAME_BYTES_MAX,
  type HandshakeFrame,
  type MacInput,
  NONCE_BYTES,
  quote,
  type Refusal,
} from "./handshake.js";
import type { Flushable, TransportContext } from "./transport_context.js";
import { headVerdict } from "./transport_freshness.js";
import { MessageQueue } from "./transport_queue.js";

export const RAFT_PATH = "/raft";

export interface PeerStatus {
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly lastConnectedAt: number | null;
  readonly droppedMessages: number;
  /** Queued messages dropped because they waited too long, or a newer one of their kind waited behind them. */
  readonly expiredMessages: number;
  readonly supersededMessages: number;
}

/** "host:port" or "[v6 address]:port" → the WebSocket URL of the peer's Raft endpoint. */
export function peerUrl(address: string): E.Either<string, string> {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]@?#]+):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    return E.left(`invalid peer address ${quote(address)}: expected host:port or [ipv6]:port`);
  }
  return E.right(`ws://${match[1]!}:${port}${RAFT_PATH}`);
}

type LinkState = "idle" | "connecting" | "open" | "backoff" | "closed";

const SEND_OPTIONS = { binary: true, compress: false } as const;
/** How long past a ping interval an answer may take before a returning peer makes us redial. */
const PING_ANSWER_GRACE_MS = 500;

export class OutboundLink implements Flushable {
  private state: LinkState = "idle";
  private socket: WebSocket | null = null;
  private url: E.Either<string, string>;
  private macInput: MacInput | null = null;
  private clientNonce: Uint8Array = new Uint8Array(0);
  private lastError: string | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  /** Until the dial's TCP connection is established (connectTimeoutMs). */
  private connectTimer: NodeJS.Timeout | null = null;
  /** The dial's TCP connection is established (the upgrade and the handshake may still run). */
  private tcpConnected = false;
  /** Dials begun: a late 'connect' of an abandoned one is ignored. */
  private dials = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  /** When the peer last showed it is alive: a pong, or our send buffer draining. */
  private lastAliveAt = 0;
  private lastBufferedBytes = 0;
  private reconnectDelayMs: number;
  /** The last state logged at info, so that up/down is logged once per transition. */
  private reported: "unknown" | "up" | "down" = "unknown";
  private snapshotSentOnConnection = false;
  private unreachablePending = false;
  private snapshotFailurePending = false;
  private droppedMessages = 0;
  private expiredMessages = 0;
  private supersededMessages = 0;
  private lastConnectedAt: number | null = null;
  private readonly queue: MessageQueue;
  /** Reused for every frame: encodeFrame reads it, then it is emptied. */
  private readonly batch: Message[] = [];
  private readonly log: Logger;
  private readonly dropWarningKey: string;

  constructor(
    private readonly context: TransportContext,
    readonly peer: NodeId,
    private address: string,
  ) {
    assert(peer !== context.selfId, "a node is not its own peer");
    this.queue = new MessageQueue(context.limits.queueMessagesMax, context.limits.queueBytesMax);
    this.reconnectDelayMs = context.limits.reconnectDelayMinMs;
    this.log = context.logger.child({ peer });
    this.dropWarningKey = `${peer}|drop`;
    this.url = peerUrl(address);
    if (E.isLeft(this.url)) this.log.error({ address }, `cannot dial node ${peer}: ${this.url.left}`);
  }

  status(): PeerStatus {
    return {
      connected: this.state === "open",
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.queuedBytes,
      lastConnectedAt: this.lastConnectedAt,
      droppedMessages: this.droppedMessages,
      expiredMessages: this.expiredMessages,
      supersededMessages: this.supersededMessages,
    };
  }

  /**
   * Queues a message for the next flush. When the queue is full the NEW message is dropped (as
   * etcd's rafthttp does): the queue stays a gap-free prefix of what the core sent, so the peer
   * sees no hole in an append stream (a hole costs a rejection and a probe round trip); the core
   * learns of the loss through onPeerUnreachable, falls back to probing, and resends from the
   * peer's match index; a dropped vote or heartbeat is repeated at the next timeout. Appends
   * beyond queueAppendsMax are dropped the same way: a connection that does not drain gets no
   * backlog of them.
   */
  enqueue(message: Message): void {
    const nowMs = performance.now();
    this.discardStale(nowMs);
    if (message.type === "append" && this.queue.countOf("append") >= this.context.limits.queueAppendsMax) this.drop(message, "appendsQueued");
    else if (!this.queue.tryPush(message, messageSizeBytes(message), nowMs)) this.drop(message, "queueFull");
    this.context.flushSoon(this);
  }

  /** Run by the Transport from setImmediate: dial, write frames, then deliver pending reports. */
  flush(): void {
    if (this.state === "closed") return;
    if (this.state === "idle" && this.queue.length > 0) this.dial();
    else if (this.state === "open") this.writeFrames();
    if (this.unreachablePending) {
      this.unreachablePending = false;
      this.context.handlers.onPeerUnreachable(this.peer);
    }
    if (this.snapshotFailurePending) {
      this.snapshotFailurePending = false;
      this.context.handlers.onSnapshotFailed(this.peer);
    }
  }

  /** The peer moved: drop the connection (the queue stays) and dial the new address. */
  retarget(address: string): void {
    if (address === this.address || this.state === "closed") return;
    this.log.info({ address, previousAddress: this.address }, `node ${this.peer} moved to ${address}`);
    this.address = address;
    this.reported = "unknown";
    this.url = peerUrl(address);
    if (E.isLeft(this.url)) this.log.error({ address }, `cannot dial node ${this.peer}: ${this.url.left}`);
    const socket = this.socket;
    this.detach();
    socket?.close(1000, "peer address changed");
    this.clearReconnectTimer();
    this.state = "idle";
    this.context.flushSoon(this);
  }

  /** Removed from the membership, or the transport stops: close for good, no more reports. */
  close(stopping: boolean): void {
    if (this.state === "closed") return;
    if (this.state === "open" && !stopping) {
      this.log.info({ address: this.address }, `closing connection to node ${this.peer}: removed from the membership`);
    }
    this.state = "closed";
    this.clearReconnectTimer();
    const socket = this.socket;
    this.detach();
    if (socket !== null) {
      if (stopping) socket.terminate();
      else socket.close(CLOSE_CODES.peerRemoved, closeReason("peerRemoved"));
    }
    this.queue.clear();
  }

  private drop(message: Message, why: "queueFull" | "appendsQueued" | "tooLarge"): void {
    this.droppedMessages++;
    this.unreachablePending = true;
    if (message.type === "snapshot") this.snapshotFailurePending = true;
    // Under overload this runs for every message sent: build nothing unless the warning is logged.
    this.context.warnLimited(this.dropWarningKey, { peer: this.peer, droppedMessages: this.droppedMessages }, () => {
      const reason = why === "queueFull"
        ? `its queue is full (${this.queue.length} messages, ${this.queue.queuedBytes} bytes) while the link is ${this.state}`
        : why === "appendsQueued"
          ? `${this.queue.countOf("append")} appends wait in its queue already while the link is ${this.state}`
          : "the message exceeds the frame limit";
      return `dropping messages to node ${this.peer}: ${reason}; Raft will resend what it still needs`;
    });
  }

  /**
   * Drops the oldest queued messages while they are stale (transport_freshness.ts). The core
   * hears of a dropped append or snapshot, as of any other drop, and probes again.
   */
  private discardStale(nowMs: number): void {
    const { queueMessageAgeMaxMs } = this.context.limits;
    for (;;) {
      const verdict = headVerdict(this.queue, nowMs, queueMessageAgeMaxMs);
      if (verdict === "send") return;
      const message = this.queue.shift();
      if (verdict === "superseded") {
        this.supersededMessages++;
        continue;
      }
      this.expiredMessages++;
      if (message.type === "append" || message.type === "snapshot") this.unreachablePending = true;
      if (message.type === "snapshot") this.snapshotFailurePending = true;
      this.context.warnLimited(`${this.peer}|expired`, { peer: this.peer, expiredMessages: this.expiredMessages }, () =>
        `dropping messages to node ${this.peer} that waited over ${queueMessageAgeMaxMs} ms while the link is ${this.state}; Raft will resend what it still needs`);
    }
  }

  private writeFrames(): void {
    const socket = this.socket;
    assert(socket !== null, "an open link has a socket");
    const { bufferedBytesHighWater, frameBytesMax } = this.context.limits;
    // Above the high-water mark the kernel is not keeping up: leave messages in the bounded
    // queue, where drops are counted. onFrameWritten flushes again as the socket drains.
    // A socket that is closing keeps the messages queued for the next connection.
    while (this.queue.length > 0 && socket.readyState === WebSocket.OPEN && socket.bufferedAmount < bufferedBytesHighWater) {
      const hasSnapshot = this.takeBatch();
      if (this.batch.length === 0) break; // everything left was stale
      const frame = encodeFrame(this.batch);
      if (frame.length > frameBytesMax) {
        // transport_limits.ts bounds a batch's encoding, so only a lone message gets here.
        assert(this.batch.length === 1, "only a single message can exceed the frame limit");
        const message = this.batch[0]!;
        this.log.error({ type: message.type, bytes: frame.length }, `cannot send a ${message.type} message of ${frame.length} bytes to node ${this.peer}: frames are limited to ${frameBytesMax} bytes`);
        this.drop(message, "tooLarge");
      } else {
        if (hasSnapshot) this.snapshotSentOnConnection = true;
        socket.send(frame, SEND_OPTIONS, this.onFrameWritten);
      }
      this.batch.length = 0;
    }
  }

  /** Moves the next frame's messages into this.batch; returns whether it holds a snapshot. */
  private takeBatch(): boolean {
    const { frameMessagesMax, frameBytesTarget } = this.context.limits;
    const nowMs = performance.now();
    let bytes = 0;
    while (this.batch.length < frameMessagesMax) {
      this.discardStale(nowMs);
      if (this.queue.length === 0) break;
      const next = this.queue.peek()!;
      const size = this.queue.peekSizeBytes();
      // A snapshot travels alone: its encoded size is not within the estimate's bounded excess.
      if (this.batch.length > 0 && (next.type === "snapshot" || bytes + size > frameBytesTarget)) break;
      this.batch.push(this.queue.shift());
      bytes += size;
      if (next.type === "snapshot") return true;
    }
    return false;
  }

  private readonly onFrameWritten = (error?: Error): void => {
    // A failed write means the socket is closing; its close event handles the rest.
    if (error === undefined && this.state === "open" && this.queue.length > 0) this.context.flushSoon(this);
  };

  private dial(): void {
    if (E.isLeft(this.url)) {
      this.connectionLost(this.url.left, false);
      return;
    }
    const { handshakeTimeoutMs } = this.context.limits;
    // This socket only receives the two handshake frames, so its payload limit is theirs.
    const socket = new WebSocket(this.url.right, {
      perMessageDeflate: false,
      maxPayload: HANDSHAKE_FRAME_BYTES_MAX,
      handshakeTimeout: handshakeTimeoutMs,
      followRedirects: false,
      // ws calls it with one options object only; the type is net.connect's, overloads and all.
      createConnection: ((options: NetConnectOpts) => this.connectTcp(options)) as typeof netConnect,
    });
    this.context.track(socket);
    this.socket = socket;
    this.state = "connecting";
    this.macInput = null;
    this.lastError = null;
    this.clientNonce = randomBytes(NONCE_BYTES);
    this.handshakeTimer = setTimeout(() => {
      this.abort(socket, "handshakeTimeout", `the handshake did not finish within ${handshakeTimeoutMs} ms`);
    }, handshakeTimeoutMs);
    socket.on("message", (data, isBinary) => this.onSocketMessage(socket, data, isBinary));
    socket.on("error", (error) => {
      if (this.socket === socket) this.lastError = error.message;
    });
    socket.on("pong", () => {
      if (this.socket === socket) this.lastAliveAt = Date.now();
    });
    socket.on("close", (code, reason) => this.onSocketClose(socket, code, reason.toString()));
  }

  /** The dial's TCP connection; its 'connect' ends the connect timeout. */
  private connectTcp(options: NetConnectOpts): Socket {
    this.tcpConnected = false;
    const dial = ++this.dials;
    const tcp = netConnect(options);
    // The bound is on the TCP handshake only: a slow name lookup is not a lost SYN.
    const host = "host" in options ? options.host : undefined;
    if (host !== undefined && isIP(host) === 0) tcp.once("lookup", () => this.armConnectTimer(dial));
    else this.armConnectTimer(dial);
    tcp.once("connect", () => {
      if (dial !== this.dials) return;
      this.tcpConnected = true;
      this.clearConnectTimer();
    });
    return tcp;
  }

  private armConnectTimer(dial: number): void {
    if (dial !== this.dials) return;
    this.clearConnectTimer();
    const { connectTimeoutMs } = this.context.limits;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      const socket = this.socket;
      if (dial !== this.dials || this.tcpConnected || socket === null || this.state !== "connecting") return;
      this.abort(socket, "handshakeTimeout", `no TCP connection within ${connectTimeoutMs} ms`);
    }, connectTimeoutMs);
  }

  /**
   * The peer just authenticated a connection of its own to us: the path between us works now.
   * A dial of ours still waiting for its TCP connection, a backoff, or an open connection that
   * has not answered a ping since the last one was sent are all left over from before (a
   * partition, a restart of the peer): dial again now instead of waiting for a timeout or for
   * TCP's backed-off retransmissions.
   */
  peerReachedUs(): void {
    const { keepaliveIntervalMs, reconnectDelayMinMs } = this.context.limits;
    if (this.state === "backoff") {
      this.clearReconnectTimer();
      this.reconnectDelayMs = reconnectDelayMinMs;
      this.state = "idle";
      this.context.flushSoon(this);
      return;
    }
    const socket = this.socket;
    if (socket === null) return;
    if (this.state === "connecting" && !this.tcpConnected) {
      this.redialNow(socket, "handshakeTimeout", "it connected to us while our dial still waited for TCP");
      return;
    }
    const silentMs = Date.now() - this.lastAliveAt;
    if (this.state === "open" && silentMs > keepaliveIntervalMs + PING_ANSWER_GRACE_MS) {
      this.redialNow(socket, "keepaliveTimeout", `it connected to us while this connection had not answered a ping for ${silentMs} ms`);
    }
  }

  /** Drops the socket and dials again at once (the link's queue stays). */
  private redialNow(socket: WebSocket, kind: CloseKind, detail: string): void {
    this.reconnectDelayMs = this.context.limits.reconnectDelayMinMs;
    this.abort(socket, kind, detail);
  }

  private onSocketMessage(socket: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (this.socket !== socket) return;
    if (this.state === "open") {
      this.refuse(socket, { kind: "protocolViolation", detail: "it sent data on a connection that only carries our messages" });
      return;
    }
    const decoded: E.Either<Refusal, HandshakeFrame> = isBinary && Buffer.isBuffer(data)
      ? decodeHandshake(data)
      : E.left({ kind: "protocolViolation", detail: "expected a binary handshake frame" });
    if (E.isLeft(decoded)) return this.refuse(socket, decoded.left);
    if (this.macInput === null) {
      const hello = checkServerHello(decoded.right, { clusterId: this.context.clusterId, selfId: this.context.selfId, peerId: this.peer });
      if (E.isLeft(hello)) return this.refuse(socket, hello.left);
      this.macInput = {
        secret: this.context.secret,
        clusterId: this.context.clusterId,
        clientId: this.context.selfId,
        serverId: this.peer,
        serverNonce: hello.right.serverNonce,
        clientNonce: this.clientNonce,
        clientStoreId: this.context.storeId,
      };
      socket.send(encodeHandshake(buildClientHello(this.macInput)), SEND_OPTIONS);
      return;
    }
    const known = this.context.knownStore(this.peer);
    const accepted = checkServerAccept(decoded.right, this.macInput, known);
    if (E.isLeft(accepted)) return this.refuse(socket, accepted.left);
    if (known === null) this.context.handlers.onPeerStore?.(this.peer, accepted.right);
    this.established();
  }

  private established(): void {
    this.clearHandshakeTimer();
    this.state = "open";
    this.reconnectDelayMs = this.context.limits.reconnectDelayMinMs;
    this.lastConnectedAt = Date.now();
    this.lastAliveAt = this.lastConnectedAt;
    this.lastBufferedBytes = 0;
    this.keepaliveTimer = setInterval(this.keepalive, this.context.limits.keepaliveIntervalMs);
    this.snapshotSentOnConnection = false;
    if (this.reported !== "up") {
      this.reported = "up";
      this.log.info({ address: this.address }, `connected to node ${this.peer} at ${this.address}`);
    }
    if (this.queue.length > 0) this.context.flushSoon(this);
  }

  private readonly keepalive = (): void => {
    const socket = this.socket;
    if (socket === null || this.state !== "open") return;
    const now = Date.now();
    // Bytes buffered in this process leave only when the kernel has room, that is when the peer
    // acknowledges data: a shrinking buffer shows the peer is alive even if a pong is stuck
    // behind megabytes of frames on a slow link.
    const buffered = socket.bufferedAmount;
    if (buffered < this.lastBufferedBytes) this.lastAliveAt = now;
    this.lastBufferedBytes = buffered;
    const silentMs = now - this.lastAliveAt;
    if (silentMs > this.context.limits.keepaliveTimeoutMs) {
      this.abort(socket, "keepaliveTimeout", `no answer to keepalive pings for ${silentMs} ms`);
      return;
    }
    socket.ping();
  };

  private refuse(socket: WebSocket, refusal: Refusal): void {
    this.context.warnLimited(
      `${this.peer}|${refusal.kind}`,
      { peer: this.peer, address: this.address, reason: refusal.kind },
      `refusing connection to node ${this.peer} at ${this.address}: ${refusal.detail}`,
    );
    this.abort(socket, refusal.kind, refusal.detail);
  }

  /** Closes the socket with a code and treats the connection as lost right away. */
  private abort(socket: WebSocket, kind: CloseKind, detail: string): void {
    if (this.socket !== socket) return;
    const wasOpen = this.state === "open";
    this.detach();
    if (socket.readyState === WebSocket.OPEN) socket.close(CLOSE_CODES[kind], closeReason(kind));
    else socket.terminate();
    this.connectionLost(detail, wasOpen);
  }

  private onSocketClose(socket: WebSocket, code: number, reason: string): void {
    if (this.socket !== socket) return;
    const wasOpen = this.state === "open";
    this.detach();
    const refused = code >= 4000 && code < 5000;
    const detail = refused
      ? `it closed the connection: ${reason} (code ${code}); its log says why`
      : this.lastError ?? `connection closed (code ${code}${reason === "" ? "" : `: ${reason}`})`;
    if (code === CLOSE_CODES.storeChanged && !wasOpen) this.context.handlers.onStoreRefused?.(this.peer);
    if (refused && !wasOpen) {
      this.context.warnLimited(
        `${this.peer}|refused|${code}`,
        { peer: this.peer, address: this.address, code, reason },
        `node ${this.peer} at ${this.address} refused our connection: ${reason} (code ${code}); its log says why`,
      );
    }
    this.connectionLost(detail, wasOpen);
  }

  private connectionLost(detail: string, wasOpen: boolean): void {
    // Whether a snapshot written to a lost connection arrived is unknown: report it failed. A
    // spurious report is harmless (the core ignores it unless it still waits on the snapshot).
    if (wasOpen && this.snapshotSentOnConnection) this.snapshotFailurePending = true;
    this.snapshotSentOnConnection = false;
    if (this.reported !== "down") {
      this.reported = "down";
      const message = wasOpen
        ? `lost connection to node ${this.peer} at ${this.address}: ${detail}`
        : `cannot connect to node ${this.peer} at ${this.address}: ${detail}; retrying with backoff`;
      this.log.info({ address: this.address }, message);
    } else {
      this.log.debug({ address: this.address }, `connection attempt to node ${this.peer} failed: ${detail}`);
    }
    this.unreachablePending = true;
    this.context.flushSoon(this);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.state = "backoff";
    const base = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(base * 2, this.context.limits.reconnectDelayMaxMs);
    // "Equal jitter": half the delay fixed, half random, so restarted nodes do not redial in step.
    const delayMs = Math.round(base / 2 + (Math.random() * base) / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state !== "backoff") return;
      this.state = "idle";
      if (this.queue.length > 0) this.context.flushSoon(this);
    }, delayMs);
  }

  /** Forgets the current socket; its late events are ignored (they check this.socket). */
  private detach(): void {
    this.clearHandshakeTimer();
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
    this.socket = null;
    this.macInput = null;
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    this.clearConnectTimer();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
