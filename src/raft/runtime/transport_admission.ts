/**
 * What an unauthenticated connection may cost the Raft port: the transport counts every TCP
 * connection from the listener's 'connection' event until it authenticates, in total and per
 * source address, limits how many it admits per second, and gives each one deadline.
 *
 * - Over a cap or a rate, a new connection is destroyed at once, before anything is read from it
 *   (a rate-limited warning says which limit). Established peers are not counted, so a flood
 *   never closes them.
 * - Once upgraded, a connection may send HANDSHAKE_WEBSOCKET_BYTES_MAX before it authenticated;
 *   then it is destroyed.
 * - At handshakeTimeoutMs after it was accepted, a connection that has not authenticated is
 *   closed whatever it is doing. Node's headersTimeout and requestTimeout cover only the HTTP
 *   phase (measured on Node 20.20: an idle socket, half a request line and trickled headers get
 *   408 after about the timeout plus connectionsCheckingInterval; once upgraded, a socket that
 *   sent half a WebSocket frame stayed open indefinitely), so this deadline is the only one, for
 *   every phase. A socket still in its HTTP request is destroyed; an upgraded connection is told
 *   why (close 4001, by its InboundConnection) and destroyed handshakeClosingMs later unless
 *   it closed by then.
 *
 * So every unauthenticated socket is gone within handshakeTimeoutMs + handshakeClosingMs, and at
 * most unauthenticatedConnectionsMax exist at once (transport_limits.ts bounds their memory).
 */
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { assert, assertNever } from "../../lib/assert.js";
import type { LogFields } from "../../lib/logger.js";
import { HANDSHAKE_WEBSOCKET_BYTES_MAX, type TransportLimits } from "./transport_limits.js";
import { TokenBucket } from "./transport_rate_limit.js";

type WarnLimited = (key: string, fields: LogFields, message: string | (() => string)) => void;

/** The part of an upgraded, unauthenticated connection the deadline talks to. */
export interface HandshakeDeadlineTarget {
  /** The deadline passed: send the close frame (the socket is destroyed after the grace). */
  handshakeDeadline(): void;
}

interface Pending {
  readonly address: string;
  timer: NodeJS.Timeout;
  target: HandshakeDeadlineTarget | null;
  /** socket.bytesRead when the upgrade completed (the WebSocket bytes are counted from there). */
  bytesReadAtUpgrade: number;
  onData: (() => void) | null;
}

interface AddressState {
  /** Unauthenticated connections from the address now. */
  pending: number;
  readonly bucket: TokenBucket;
}

/**
 * Addresses remembered for their rate, beyond those with pending connections. When the map
 * reaches this, addresses without pending connections are forgotten: they get a full bucket
 * again, which at worst admits one burst more from each.
 */
const ADDRESSES_REMEMBERED_MAX = 1024;

type Limit = "total" | "perAddress" | "rate" | "ratePerAddress";

export class Admission {
  private readonly pending = new Map<Socket, Pending>();
  private readonly addresses = new Map<string, AddressState>();
  private readonly bucket: TokenBucket;

  constructor(
    private readonly limits: TransportLimits,
    private readonly warnLimited: WarnLimited,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.bucket = new TokenBucket(limits.unauthenticatedConnectionsPerSecondMax, limits.unauthenticatedConnectionsMax, nowMs());
  }

  /** How many accepted connections have not authenticated yet. */
  get unauthenticated(): number {
    return this.pending.size;
  }

  /**
   * From the listener's 'connection' event: counts the socket and returns true, or destroys it
   * when it is over a cap and returns false.
   */
  admit(socket: Socket): boolean {
    socket.on("error", () => {});
    const address = socket.remoteAddress;
    if (address === undefined) {
      socket.destroy(); // Already closed by the other side: nothing to count.
      return false;
    }
    const state = this.addressState(address);
    const limit = this.overLimit(state);
    if (limit !== null) {
      this.warnLimited(`unauthenticated|${limit}`, { remote: address, limit }, () => refusalMessage(limit, address, state.pending, this.limits));
      socket.destroy();
      if (state.pending === 0 && state.bucket.isFull(this.nowMs())) this.addresses.delete(address);
      return false;
    }
    const timer = setTimeout(() => this.deadline(socket), this.limits.handshakeTimeoutMs);
    this.pending.set(socket, { address, timer, target: null, bytesReadAtUpgrade: 0, onData: null });
    state.pending++;
    socket.once("close", () => this.release(socket));
    return true;
  }

  /**
   * The client sent data before the server answered its upgrade request, which RFC 6455 §4.1
   * forbids and our client never does (it waits for the server hello): the socket is destroyed.
   */
  earlyData(socket: Socket, bytes: number): void {
    const address = this.pending.get(socket)?.address ?? "?";
    this.warnLimited(
      "unauthenticated|earlyData",
      { remote: address, bytes },
      () => `closing a connection from ${address}: it sent ${bytes} bytes before its WebSocket upgrade was answered`,
    );
    socket.destroy();
  }

  /**
   * The socket was upgraded: at the deadline its connection closes itself with a code. Returns
   * false when the socket is not counted (destroyed by a cap or the deadline meanwhile).
   */
  upgraded(socket: Socket, target: HandshakeDeadlineTarget): boolean {
    const entry = this.pending.get(socket);
    if (entry === undefined) return false;
    assert(entry.target === null, "a socket is upgraded once");
    entry.target = target;
    entry.bytesReadAtUpgrade = socket.bytesRead;
    // Runs after ws's own 'data' listener (added during the upgrade): ws has parsed the chunk,
    // and the socket is dropped before the next read.
    entry.onData = () => {
      const bytes = socket.bytesRead - entry.bytesReadAtUpgrade;
      if (bytes <= HANDSHAKE_WEBSOCKET_BYTES_MAX) return;
      this.warnLimited(
        "unauthenticated|bytes",
        { remote: entry.address, bytes },
        () => `closing a connection from ${entry.address}: it sent ${bytes} bytes before it authenticated (at most ${HANDSHAKE_WEBSOCKET_BYTES_MAX})`,
      );
      socket.destroy();
    };
    socket.on("data", entry.onData);
    return true;
  }

  /**
   * The peer proved it knows the secret: it no longer counts and has no deadline. Returns false
   * when the socket no longer counts (it closed, or its deadline passed): it must not go on.
   */
  authenticated(socket: Socket): boolean {
    const entry = this.pending.get(socket);
    if (entry === undefined || entry.target === null) return false;
    this.release(socket);
    return true;
  }

  /**
   * The connection was refused and sent its close frame: the peer has handshakeClosingMs to
   * answer it, then the socket is destroyed (it keeps its slot until then).
   */
  closing(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    entry.target = null;
    entry.timer = setTimeout(() => socket.destroy(), this.limits.handshakeClosingMs);
  }

  /** Destroys every unauthenticated socket and clears every timer (Transport.stop). */
  stop(): void {
    for (const socket of [...this.pending.keys()]) {
      this.release(socket);
      socket.destroy();
    }
    assert([...this.addresses.values()].every((state) => state.pending === 0), "every address released");
  }

  /** Which limit a new connection from this address would exceed; takes its tokens if none. */
  private overLimit(state: AddressState): Limit | null {
    if (this.pending.size >= this.limits.unauthenticatedConnectionsMax) return "total";
    if (state.pending >= this.limits.unauthenticatedConnectionsPerAddressMax) return "perAddress";
    const now = this.nowMs();
    if (!state.bucket.take(now)) return "ratePerAddress";
    if (!this.bucket.take(now)) return "rate";
    return null;
  }

  private addressState(address: string): AddressState {
    const known = this.addresses.get(address);
    if (known !== undefined) return known;
    if (this.addresses.size >= ADDRESSES_REMEMBERED_MAX) {
      for (const [key, state] of this.addresses) if (state.pending === 0) this.addresses.delete(key);
    }
    const { unauthenticatedConnectionsPerAddressPerSecondMax, unauthenticatedConnectionsPerAddressMax } = this.limits;
    const state = { pending: 0, bucket: new TokenBucket(unauthenticatedConnectionsPerAddressPerSecondMax, unauthenticatedConnectionsPerAddressMax, this.nowMs()) };
    this.addresses.set(address, state);
    return state;
  }

  private deadline(socket: Socket): void {
    const entry = this.pending.get(socket);
    assert(entry !== undefined, "a deadline fires only for a counted socket");
    const target = entry.target;
    if (target === null) {
      const { handshakeTimeoutMs } = this.limits;
      this.warnLimited(
        "unauthenticated|timeout",
        { remote: entry.address },
        `closing a connection from ${entry.address}: no WebSocket upgrade within ${handshakeTimeoutMs} ms`,
      );
      socket.destroy();
      return;
    }
    this.closing(socket);
    target.handshakeDeadline();
  }

  private release(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    if (entry.onData !== null) socket.off("data", entry.onData);
    this.pending.delete(socket);
    const state = this.addresses.get(entry.address);
    assert(state !== undefined && state.pending > 0, "per-address count");
    state.pending--;
    // An address with nothing pending and a full bucket is forgotten at no cost.
    if (state.pending === 0 && state.bucket.isFull(this.nowMs())) this.addresses.delete(entry.address);
  }
}

function refusalMessage(limit: Limit, address: string, fromAddress: number, limits: TransportLimits): string {
  const prefix = `refusing a connection from ${address}:`;
  switch (limit) {
    case "total":
      return `${prefix} ${limits.unauthenticatedConnectionsMax} connections have not authenticated yet (unauthenticatedConnectionsMax)`;
    case "perAddress":
      return `${prefix} ${fromAddress} connections from that address have not authenticated yet (unauthenticatedConnectionsPerAddressMax)`;
    case "rate":
      return `${prefix} more than ${limits.unauthenticatedConnectionsPerSecondMax} new connections per second (unauthenticatedConnectionsPerSecondMax)`;
    case "ratePerAddress":
      return `${prefix} more than ${limits.unauthenticatedConnectionsPerAddressPerSecondMax} new connections per second from that address (unauthenticatedConnectionsPerAddressPerSecondMax)`;
    default:
      return assertNever(limit);
  }
}
