/**
 * What an unauthenticated connection may cost the Raft port: the transport counts every TCP
 * connection from the server's 'connection' event until it authenticates, in total and per
 * source address, and gives it one deadline.
 *
 * - Over a cap, a new connection is destroyed at once (a rate-limited warning says which cap).
 *   Established peers are not counted, so a flood never closes them.
 * - At handshakeTimeoutMs after it was accepted, a connection that has not authenticated is
 *   closed whatever it is doing. Node's headersTimeout and requestTimeout cover only the HTTP
 *   phase (measured on Node 20.20: an idle socket, half a request line and trickled headers get
 *   408 after about the timeout plus connectionsCheckingInterval; once upgraded, a socket that
 *   sent half a WebSocket frame stayed open indefinitely), so this deadline is the one that
 *   holds for every phase. An upgraded connection is told why (close 4001, by its
 *   InboundConnection); any connection still open handshakeClosingMs later is destroyed.
 *
 * So every unauthenticated socket is gone within handshakeTimeoutMs + handshakeClosingMs, and at
 * most unauthenticatedConnectionsMax exist at once (transport_limits.ts bounds their memory).
 */
import type { Socket } from "node:net";
import { assert } from "../../lib/assert.js";
import type { LogFields } from "../../lib/logger.js";
import type { TransportLimits } from "./transport_limits.js";

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
}

export class Admission {
  private readonly pending = new Map<Socket, Pending>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: TransportLimits,
    private readonly warnLimited: WarnLimited,
  ) {}

  /** How many accepted connections have not authenticated yet. */
  get unauthenticated(): number {
    return this.pending.size;
  }

  /** From the server's 'connection' event: count the socket, or destroy it when over a cap. */
  admit(socket: Socket): void {
    socket.on("error", () => {});
    const address = socket.remoteAddress;
    if (address === undefined) {
      socket.destroy(); // Already closed by the other side: nothing to count.
      return;
    }
    const refusal = this.overCap(address);
    if (refusal !== null) {
      this.warnLimited(`unauthenticated|${refusal.cap}`, { remote: address, cap: refusal.cap }, refusal.message);
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => this.deadline(socket), this.limits.handshakeTimeoutMs);
    this.pending.set(socket, { address, timer, target: null });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once("close", () => this.release(socket));
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
    assert(this.perAddress.size === 0, "every address released");
  }

  private overCap(address: string): { cap: string; message: string } | null {
    const { unauthenticatedConnectionsMax, unauthenticatedConnectionsPerAddressMax } = this.limits;
    if (this.pending.size >= unauthenticatedConnectionsMax) {
      return {
        cap: "total",
        message: `refusing a connection from ${address}: ${this.pending.size} connections have not authenticated yet (unauthenticatedConnectionsMax)`,
      };
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= unauthenticatedConnectionsPerAddressMax) {
      return {
        cap: "perAddress",
        message: `refusing a connection from ${address}: ${fromAddress} connections from that address have not authenticated yet (unauthenticatedConnectionsPerAddressMax)`,
      };
    }
    return null;
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
    this.pending.delete(socket);
    const count = this.perAddress.get(entry.address)! - 1;
    assert(count >= 0, "per-address count");
    if (count === 0) this.perAddress.delete(entry.address);
    else this.perAddress.set(entry.address, count);
  }
}
