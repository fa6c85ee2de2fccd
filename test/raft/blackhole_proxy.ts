/**
 * Partitions between Raft nodes of one test process on 127.0.0.1, the way a firewall that drops
 * packets makes them (issue 14): connections are not closed, they stop carrying data. Each node
 * is advertised at a proxy that forwards to its real port. isolate(x) holds every connection into
 * x and every connection from x: both sockets are paused, so what the two ends write waits in
 * kernel buffers and the writers' own, as it would behind a black hole, and new connections
 * hang before their handshake. heal() resumes them all, and what waited flows at once, as TCP's
 * retransmissions deliver it; a side that gave up meanwhile closes its end, which the other end
 * learns then.
 *
 * A proxy in front of node y tells x's connections from the others' by the node id in the
 * client hello of the Raft handshake (handshake.ts), the first WebSocket frame the client sends.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { either as E } from "fp-ts";
import { ClientHello, decodeHandshake } from "../../src/raft/runtime/handshake.js";

/** The client hello is under 400 bytes; a client that sends more without one is not a Raft node. */
const SNIFF_BYTES_MAX = 16 * 1024;

interface Link {
  readonly client: Socket;
  upstream: Socket | null;
  /** The node that dialed, once its hello was read; "" if it sent something else. */
  from: string | null;
  /** Bytes from the client not yet forwarded: its hello while it is read, or while the link is held. */
  pending: Buffer;
  /** Whether the client's HTTP upgrade request went through (the server answers it with its hello). */
  upgraded: boolean;
  held: boolean;
}

class NodeProxy {
  readonly links = new Set<Link>();
  targetPort = 0;

  constructor(
    readonly node: string,
    readonly server: Server,
    private readonly network: BlackholeNetwork,
  ) {
    server.on("connection", (client) => this.accept(client));
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy is not listening");
    return address.port;
  }

  private accept(client: Socket): void {
    const link: Link = { client, upstream: null, from: null, pending: Buffer.alloc(0), upgraded: false, held: false };
    this.links.add(link);
    client.on("error", () => {});
    client.on("close", () => {
      this.links.delete(link);
      link.upstream?.destroy();
    });
    client.on("data", (chunk: Buffer) => this.fromClient(link, chunk));
    if (this.network.isolated.has(this.node)) this.hold(link);
    else this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const upstream = connect({ host: "127.0.0.1", port: this.targetPort });
    link.upstream = upstream;
    upstream.on("error", () => {});
    upstream.on("close", () => link.client.destroy());
    upstream.on("data", (chunk: Buffer) => forward(link, upstream, link.client, chunk));
    upstream.on("end", () => link.client.end());
    if (link.held) upstream.pause();
  }

  private fromClient(link: Link, chunk: Buffer): void {
    if (link.from !== null) {
      forward(link, link.client, link.upstream!, chunk);
      return;
    }
    // Until the client said who it is, its frames wait here: a partitioned node's must not pass.
    // Its upgrade request goes through, or the server would never send the hello it answers.
    link.pending = Buffer.concat([link.pending, chunk]);
    if (!link.upgraded) {
      const headersEnd = link.pending.indexOf("\r\n\r\n");
      if (headersEnd < 0) return;
      link.upstream!.write(link.pending.subarray(0, headersEnd + 4));
      link.pending = link.pending.subarray(headersEnd + 4);
      link.upgraded = true;
    }
    const from = clientHelloSender(link.pending);
    if (from === null) return;
    link.from = from;
    if (this.network.isolated.has(from)) this.hold(link);
    else this.flushPending(link);
  }

  private flushPending(link: Link): void {
    if (link.pending.length > 0) link.upstream!.write(link.pending);
    link.pending = Buffer.alloc(0);
  }

  hold(link: Link): void {
    link.held = true;
    link.client.pause();
    link.upstream?.pause();
  }

  release(link: Link): void {
    link.held = false;
    if (link.upstream === null) this.connectUpstream(link);
    if (link.from !== null) this.flushPending(link);
    link.upstream!.resume();
    link.client.resume();
  }
}

/** Writes with backpressure; a held link stays paused after its writes drain. */
function forward(link: Link, from: Socket, to: Socket, chunk: Buffer): void {
  if (to.write(chunk)) return;
  from.pause();
  to.once("drain", () => {
    if (!link.held) from.resume();
  });
}

/** The node id in the client hello (a masked WebSocket frame) at the start of `bytes`, or null while incomplete. */
function clientHelloSender(bytes: Buffer): string | null {
  if (bytes.length > SNIFF_BYTES_MAX) return "";
  let offset = 0;
  if (bytes.length < offset + 2) return null;
  const short = bytes[offset + 1]! & 0x7f;
  const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
  const masked = (bytes[offset + 1]! & 0x80) !== 0;
  const headerBytes = 2 + extended + (masked ? 4 : 0);
  if (bytes.length < offset + headerBytes) return null;
  const length = short === 126 ? bytes.readUInt16BE(offset + 2) : short === 127 ? Number(bytes.readBigUInt64BE(offset + 2)) : short;
  if (bytes.length < offset + headerBytes + length) return null;
  const mask = masked ? bytes.subarray(offset + 2 + extended, offset + headerBytes) : null;
  offset += headerBytes;
  const payload = Buffer.from(bytes.subarray(offset, offset + length));
  if (mask !== null) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
  const hello = decodeHandshake(payload);
  return E.isRight(hello) && hello.right instanceof ClientHello ? hello.right.fromId : "";
}

export class BlackholeNetwork {
  readonly isolated = new Set<string>();
  private readonly proxies = new Map<string, NodeProxy>();

  /** Starts the proxy that will stand for `node`; returns the port to advertise. */
  async add(node: string): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
    });
    const proxy = new NodeProxy(node, server, this);
    this.proxies.set(node, proxy);
    return proxy.port;
  }

  /** Where the proxy of `node` forwards to: the node's own port. */
  setTarget(node: string, port: number): void {
    this.proxy(node).targetPort = port;
  }

  /** Holds every connection into or out of `node` and every new one, without closing any. */
  isolate(node: string): void {
    this.isolated.add(node);
    for (const proxy of this.proxies.values()) {
      for (const link of proxy.links) if (proxy.node === node || link.from === node) proxy.hold(link);
    }
  }

  /** Releases every held connection: what waited flows at once. */
  heal(): void {
    this.isolated.clear();
    for (const proxy of this.proxies.values()) for (const link of proxy.links) if (link.held) proxy.release(link);
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      for (const link of proxy.links) {
        link.client.destroy();
        link.upstream?.destroy();
      }
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    }
  }

  private proxy(node: string): NodeProxy {
    const proxy = this.proxies.get(node);
    if (proxy === undefined) throw new Error(`no proxy for ${node}`);
    return proxy;
  }
}
