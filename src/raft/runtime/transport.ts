/**
 * The network transport of the Raft runtime, on WebSockets (`ws`).
 *
 * Every node dials each peer (an outbound connection that only carries frames to that peer,
 * transport_outbound.ts) and accepts connections from its peers on path /raft (each only carries
 * frames from that peer, transport_inbound.ts). Both directions start with a mutually
 * authenticated, replay-safe handshake over a shared secret (handshake.ts); nodes of another
 * cluster and nodes outside the membership are refused.
 *
 * send() never blocks and never throws for a down peer: messages go to a bounded per-peer queue
 * and leave in one frame per peer per flush. The flush runs from setImmediate, so everything the
 * runtime sends in one turn of the event loop is batched without adding timer latency. Raft
 * tolerates message loss, so a full queue drops messages and tells the core (onPeerUnreachable,
 * onSnapshotFailed), which then probes and resends. Handlers are never called from inside
 * send() or setPeers(): always from the event loop, so the core is not re-entered.
 *
 * Before a peer authenticated it may cost little (issue 12): frames are limited to the handshake
 * frame size (transport_payload_limit.ts); every accepted TCP connection counts against caps and
 * admission rates, in total and per source address, and has one deadline until it authenticates;
 * data sent before the upgrade was answered, or more than a hello's worth after it, drops the
 * connection (transport_admission.ts).
 *
 * Bounds are in transport_limits.ts. ws sets TCP_NODELAY on every socket it opens or accepts
 * (WebSocket#setSocket), and permessage-deflate is off on both ends.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import * as E from "fp-ts/lib/Either.js";
import WebSocket, { WebSocketServer } from "ws";
import { assert } from "../../lib/assert.js";
import type { LogFields, Logger } from "../../lib/logger.js";
import { isValidNodeId, type Message, type NodeId } from "../types.js";
import { assertClusterId, HANDSHAKE_FRAME_BYTES_MAX } from "./handshake.js";
import { Admission } from "./transport_admission.js";
import type { Flushable, TransportContext, TransportHandlers } from "./transport_context.js";
import { InboundConnection, type InboundRegistry } from "./transport_inbound.js";
import { resolveTransportLimits, type TransportLimits } from "./transport_limits.js";
import { OutboundLink, type PeerStatus, RAFT_PATH } from "./transport_outbound.js";
import { assertPayloadLimitSupported } from "./transport_payload_limit.js";
import { WarningLimiter } from "./transport_warnings.js";
import { newStoreId } from "./log_store_peers.js";

export type { TransportHandlers } from "./transport_context.js";
export type { PeerStatus } from "./transport_outbound.js";

export interface TransportOptions {
  readonly selfId: NodeId;
  /** Nodes of another cluster are refused. */
  readonly clusterId: string;
  /** Shared secret; peers prove knowledge of it with HMAC-SHA256 (handshake.ts). */
  readonly secret: string;
  readonly listenHost: string;
  /** 0 picks a free port (tests); the bound port is Transport#port. */
  readonly listenPort: number;
  readonly logger: Logger;
  readonly limits?: Partial<TransportLimits>;
  /**
   * Accept authenticated connections from nodes outside the current membership. The Raft runtime
   * sets it: a node that missed the entry adding a new member must still hear from that member
   * when it has become leader, or it could never learn the entry (etcd's peer transport accepts
   * such members too). Authentication (cluster id and shared secret) still applies.
   */
  readonly admitNonMembers?: boolean;
  /** This node's Raft data directory's id (log_store_peers.ts); a random one when not given. */
  readonly storeId?: string;
  /** The store ids this node remembers for its peers; none when not given. */
  readonly knownStore?: (peer: NodeId) => string | null;
}

export type TransportErrorCode = "addressInUse" | "addressNotAvailable" | "permissionDenied" | "listenFailed";

export interface TransportError {
  readonly code: TransportErrorCode;
  readonly message: string;
}

export class Transport {
  private readonly links = new Map<NodeId, OutboundLink>();
  /** Every inbound connection, in its handshake or established. */
  private readonly inbound = new Set<InboundConnection>();
  /** The established inbound connection of each peer (a newer one replaces an older one). */
  private readonly inboundByPeer = new Map<NodeId, InboundConnection>();
  /** Every socket not yet closed, in or out, including those in their closing handshake. */
  private readonly sockets = new Set<WebSocket>();
  private dirty = new Set<Flushable>();
  private flushing = new Set<Flushable>();
  private flushImmediate: NodeJS.Immediate | null = null;
  /** Messages for nodes that are not peers: reported unreachable on the next flush. */
  private readonly unknownRecipients = new Map<NodeId, boolean>();
  private stopped = false;
  private readonly log: Logger;
  private readonly context: TransportContext;
  private readonly webSocketServer: WebSocketServer;
  private readonly admission: Admission;

  private constructor(
    private readonly options: TransportOptions,
    private readonly handlers: TransportHandlers,
    private readonly limits: TransportLimits,
    /** Listens; admits each accepted socket (or destroys it) before HTTP sees it. */
    private readonly listener: NetServer,
    /** Never listens: it parses the upgrade requests of admitted sockets only. */
    private readonly http: HttpServer,
    readonly port: number,
  ) {
    this.log = options.logger.child({ component: "raft-transport" });
    this.storeId = options.storeId ?? newStoreId();
    this.context = this.createContext();
    this.admission = new Admission(limits, this.context.warnLimited);
    // Every socket starts with the handshake frame limit; InboundConnection raises it for a
    // socket whose peer authenticated (transport_payload_limit.ts).
    this.webSocketServer = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: HANDSHAKE_FRAME_BYTES_MAX,
      clientTracking: false,
    });
    // A socket over a cap is destroyed before the HTTP server allocates its parser and state:
    // in a flood of connections that is most of them (Node documents emitting 'connection' to
    // hand a socket to an HTTP server).
    listener.on("connection", (socket: Socket) => {
      if (this.stopped) socket.destroy();
      else if (this.admission.admit(socket)) http.emit("connection", socket);
    });
    http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(request, socket, head));
    listener.on("error", (error) => this.log.error({ error: error.message }, `raft transport server error: ${error.message}`));
    this.log.info({ host: options.listenHost, port }, `listening for raft peers on ${options.listenHost}:${port}`);
  }

  /**
   * Binds the listening socket. A bind failure is returned at once (never retried): it usually
   * means another raftgres runs with the same configuration.
   */
  static async start(options: TransportOptions, handlers: TransportHandlers): Promise<E.Either<TransportError, Transport>> {
    assert(isValidNodeId(options.selfId), () => `invalid node id ${JSON.stringify(options.selfId)}`);
    assertClusterId(options.clusterId);
    assert(options.secret.length > 0, "the shared secret must not be empty");
    assert(Number.isInteger(options.listenPort) && options.listenPort >= 0 && options.listenPort <= 65535, "listen port out of range");
    const limits = resolveTransportLimits(options.limits);
    assertPayloadLimitSupported();
    // No headersTimeout or requestTimeout: Node enforces them only on a server that listens
    // itself (its connection tracking starts on 'listening'), and they would cover the HTTP phase
    // only. Measured on Node 20.20, they do close an idle socket and half a request line (408),
    // but an upgraded socket that sent half a frame stayed open indefinitely. The deadline of
    // transport_admission.ts holds from the TCP accept to authentication, in every phase.
    const http = createHttpServer((_request, response) => {
      response.writeHead(426, { "content-type": "text/plain", connection: "close" });
      response.end(`raftgres raft transport: WebSocket connections to ${RAFT_PATH} only\n`);
    });
    const listener = createNetServer();
    const bound = await listen(listener, options.listenHost, options.listenPort);
    if (E.isLeft(bound)) return bound;
    return E.right(new Transport(options, handlers, limits, listener, http, bound.right));
  }

  /**
   * The current membership minus this node, with the "host:port" of each. Connections to removed
   * nodes are closed and their queues dropped (without reports: the core no longer tracks them);
   * new peers are dialed when there is something to send to them.
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    assert(!peers.has(this.options.selfId), "setPeers() must not include this node");
    if (this.stopped) return;
    for (const [id, link] of this.links) {
      if (peers.has(id)) continue;
      link.close(false);
      this.links.delete(id);
      this.inboundByPeer.get(id)?.close("peerRemoved");
    }
    for (const [id, address] of peers) {
      assert(isValidNodeId(id), () => `invalid peer id ${JSON.stringify(id)}`);
      const link = this.links.get(id);
      if (link === undefined) this.links.set(id, new OutboundLink(this.context, id, address));
      else link.retarget(address);
    }
  }

  /** Queues messages (all from this node) for their recipients; they leave on the next flush. */
  send(messages: readonly Message[]): void {
    // After stop() the runtime may still be winding down: its messages go nowhere, quietly.
    if (this.stopped) return;
    const selfId = this.options.selfId;
    for (const message of messages) {
      assert(message.from === selfId, () => `send(): a ${message.type} message from ${message.from}, this is ${selfId}`);
      const link = this.links.get(message.to);
      if (link !== undefined) {
        link.enqueue(message);
      } else {
        assert(message.to !== selfId, "send(): a message to this node itself");
        this.dropForUnknownRecipient(message);
      }
    }
  }

  peerStatus(): ReadonlyMap<NodeId, PeerStatus> {
    const status = new Map<NodeId, PeerStatus>();
    for (const [id, link] of this.links) status.set(id, link.status());
    return status;
  }

  /** Accepted TCP connections that have not authenticated yet (transport_admission.ts). */
  get unauthenticatedConnections(): number {
    return this.admission.unauthenticated;
  }

  /** Closes the server and every socket and clears every timer. No handler runs afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.flushImmediate !== null) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    for (const link of this.links.values()) link.close(true);
    for (const connection of [...this.inbound]) connection.close("terminate");
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
    this.admission.stop();
    this.webSocketServer.close();
    // Every socket the HTTP server holds is unauthenticated, so admission.stop() destroyed it.
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.log.info({ port: this.port }, "raft transport stopped");
  }

  private readonly storeId: string;

  private createContext(): TransportContext {
    const limiter = new WarningLimiter(this.limits.warningIntervalMs, this.limits.warningKeysMax);
    return {
      selfId: this.options.selfId,
      clusterId: this.options.clusterId,
      secret: this.options.secret,
      storeId: this.storeId,
      knownStore: (peer) => this.options.knownStore?.(peer) ?? null,
      limits: this.limits,
      logger: this.log,
      handlers: this.handlers,
      warnLimited: (key: string, fields: LogFields, message: string | (() => string)): void => {
        const suppressed = limiter.admit(key, Date.now());
        if (suppressed === null) return;
        const text = typeof message === "string" ? message : message();
        this.log.warn(suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields, text);
      },
      isPeer: (id) => this.links.has(id) || this.options.admitNonMembers === true,
      isStopped: () => this.stopped,
      track: (socket) => this.track(socket),
      flushSoon: (target) => {
        this.dirty.add(target);
        this.scheduleFlush();
      },
    };
  }

  private track(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
  }

  private scheduleFlush(): void {
    if (this.flushImmediate === null && !this.stopped) this.flushImmediate = setImmediate(this.flush);
  }

  /** One flush for everything queued in this turn of the event loop. */
  private readonly flush = (): void => {
    this.flushImmediate = null;
    if (this.stopped) return;
    // Swap sets: handlers called from a flush may queue more, for the next flush.
    const targets = this.dirty;
    this.dirty = this.flushing;
    this.flushing = targets;
    for (const target of targets) {
      if (this.stopped) break;
      target.flush();
    }
    targets.clear();
    for (const [peer, hadSnapshot] of this.unknownRecipients) {
      if (this.stopped) break;
      this.handlers.onPeerUnreachable(peer);
      if (hadSnapshot) this.handlers.onSnapshotFailed(peer);
    }
    this.unknownRecipients.clear();
  };

  private dropForUnknownRecipient(message: Message): void {
    const hadSnapshot = this.unknownRecipients.get(message.to) === true || message.type === "snapshot";
    this.unknownRecipients.set(message.to, hadSnapshot);
    this.context.warnLimited(
      `${message.to}|unknown-recipient`,
      { peer: message.to, type: message.type },
      () => `dropping a ${message.type} message to node ${message.to}: it is not a peer (not in setPeers)`,
    );
    this.scheduleFlush();
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Errors of the raw socket surface through ws (or do not matter before the upgrade).
    socket.on("error", () => {});
    const remote = `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? "?"}`;
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if ((request.url ?? "").split("?")[0] !== RAFT_PATH) {
      rejectUpgrade(socket, 404, "Not Found");
      return;
    }
    const rawSocket = request.socket;
    if (head.length > 0) {
      this.admission.earlyData(rawSocket, head.length);
      return;
    }
    this.webSocketServer.handleUpgrade(request, socket, head, (webSocket) => {
      this.track(webSocket);
      if (this.stopped) {
        webSocket.terminate();
        return;
      }
      const guard = {
        authenticated: () => this.admission.authenticated(rawSocket),
        closing: () => this.admission.closing(rawSocket),
      };
      const connection = new InboundConnection(this.context, webSocket, remote, this.registry, guard);
      this.inbound.add(connection);
      // Destroyed by its deadline while the upgrade completed: nothing may outlive it uncounted.
      if (!this.admission.upgraded(rawSocket, connection)) connection.close("terminate");
    });
  }

  private readonly registry: InboundRegistry = {
    established: (connection) => {
      const peer = connection.peer;
      assert(peer !== null, "an established connection has a peer");
      const previous = this.inboundByPeer.get(peer);
      this.inboundByPeer.set(peer, connection);
      // The peer redialed (it restarted, or lost the old connection first): keep the newer one.
      previous?.close("replaced");
      // And our own connection to it may be a leftover of the same outage.
      this.links.get(peer)?.peerReachedUs();
    },
    closed: (connection) => {
      this.inbound.delete(connection);
      const peer = connection.peer;
      if (peer !== null && this.inboundByPeer.get(peer) === connection) this.inboundByPeer.delete(peer);
    },
  };
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function listen(server: NetServer, host: string, port: number): Promise<E.Either<TransportError, number>> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      resolve(E.left(listenError(error, host, port)));
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve(E.right((server.address() as AddressInfo).port));
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host, port, exclusive: true });
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): TransportError {
  const where = `cannot listen for raft peers on ${host}:${port}`;
  switch (error.code) {
    case "EADDRINUSE":
      return { code: "addressInUse", message: `${where}: the address is in use (another process listens there; is another raftgres running?)` };
    case "EADDRNOTAVAIL":
      return { code: "addressNotAvailable", message: `${where}: the address is not on this machine (check the listen address)` };
    case "EACCES":
      return { code: "permissionDenied", message: `${where}: permission denied (ports below 1024 need privileges)` };
    default:
      return { code: "listenFailed", message: `${where}: ${error.message}` };
  }
}
