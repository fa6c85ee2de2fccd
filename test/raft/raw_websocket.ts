/**
 * A WebSocket client by hand on a raw TCP socket, for tests that must send what no library
 * would: half a request line, a frame header that announces 60 MB, half a frame, a hello with a
 * huge length prefix. It parses what the server sends (unmasked frames: RFC 6455 §5.2) and keeps
 * at most RECEIVED_BYTES_MAX of it, so a test that floods never buffers much itself.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { either as E } from "fp-ts";
import {
  buildClientHello,
  checkServerAccept,
  decodeHandshake,
  encodeHandshake,
  type MacInput,
  NONCE_BYTES,
  ServerHello,
} from "../../src/raft/runtime/handshake.js";
import { newStoreId } from "../../src/raft/runtime/log_store_peers.js";

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

const RECEIVED_BYTES_MAX = 64 * 1024;

export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** The HTTP request that opens a WebSocket on `path` (the key is RFC 6455's sample). */
export function upgradeRequest(path = "/raft"): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

export interface FrameOptions {
  readonly fin?: boolean;
  /** The length the header announces; the payload given may be shorter (half a frame). */
  readonly declaredLength?: number;
  /** A zero mask leaves the payload as it is (cheap for huge payloads); RFC 6455 allows any. */
  readonly mask?: Uint8Array;
}

/** A client frame (masked, as RFC 6455 §5.3 requires of clients): header and payload. */
export function clientFrame(opcode: number, payload: Uint8Array, options: FrameOptions = {}): Buffer {
  const length = options.declaredLength ?? payload.length;
  const mask = options.mask ?? Uint8Array.from([0x12, 0x34, 0x56, 0x78]);
  const extended = length < 126 ? 0 : length < 0x1_0000 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + 4);
  header[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  header[1] = 0x80 | (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(length, 2);
  if (extended === 8) header.writeBigUInt64BE(BigInt(length), 2);
  header.set(mask, 2 + extended);
  const masked = Buffer.from(payload);
  if (mask.some((byte) => byte !== 0)) for (let i = 0; i < masked.length; i++) masked[i]! ^= mask[i & 3]!;
  return Buffer.concat([header, masked]);
}

/** The frames complete in `bytes`, and how many bytes they took. */
export function parseServerFrames(bytes: Buffer): { frames: ServerFrame[]; used: number } {
  const frames: ServerFrame[] = [];
  let offset = 0;
  for (;;) {
    if (bytes.length - offset < 2) break;
    const short = bytes[offset + 1]! & 0x7f;
    const start = offset + (short === 126 ? 4 : short === 127 ? 10 : 2);
    if (bytes.length < start) break;
    const length = short === 126 ? bytes.readUInt16BE(offset + 2) : short === 127 ? Number(bytes.readBigUInt64BE(offset + 2)) : short;
    if (bytes.length < start + length) break;
    frames.push({ opcode: bytes[offset]! & 0x0f, payload: bytes.subarray(start, start + length) });
    offset = start + length;
  }
  return { frames, used: offset };
}

export class RawPeer {
  /** Frames the server sent after its 101 response. */
  readonly frames: ServerFrame[] = [];
  /** The HTTP status line of the server's answer, once it arrived. */
  statusLine: string | null = null;
  ended = false;
  private pending = Buffer.alloc(0);
  private headersDone = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => socket.once("close", () => {
      this.ended = true;
      resolve();
    }));
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once("connect", () => resolve(new RawPeer(socket)));
      socket.once("error", reject);
    });
  }

  /** The close code of the server's close frame, if it sent one. */
  get closeCode(): number | null {
    const close = this.frames.find((f) => f.opcode === OPCODE.close);
    return close === undefined ? null : close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  write(bytes: Uint8Array | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends the upgrade request and waits for the server's 101. */
  async upgrade(path = "/raft", timeoutMs = 5000): Promise<void> {
    this.write(upgradeRequest(path));
    await this.until(() => this.statusLine !== null, timeoutMs, "the server's answer to the upgrade");
    if (!this.statusLine!.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${this.statusLine}`);
  }

  /** Waits until `check` holds or the socket closed; throws after timeoutMs. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.ended) throw new Error(`the connection closed while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.pending.length + chunk.length > RECEIVED_BYTES_MAX) {
      this.socket.destroy(); // A test server never sends this much before authentication.
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    if (!this.headersDone) {
      const end = this.pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.statusLine = this.pending.subarray(0, this.pending.indexOf("\r\n")).toString("latin1");
      this.headersDone = true;
      this.pending = this.pending.subarray(end + 4);
    }
    const { frames, used } = parseServerFrames(this.pending);
    this.frames.push(...frames);
    this.pending = Buffer.from(this.pending.subarray(used));
  }
}

/** Who the raw peer claims to be, and what it knows. */
export interface RawIdentity {
  readonly secret: string;
  readonly clusterId: string;
  readonly clientId: string;
  readonly serverId: string;
}

/**
 * Upgrades and runs the client side of the handshake; resolves once the server accepted (and
 * checked the server's mac), so Raft frames may follow.
 */
export async function authenticateRaw(peer: RawPeer, identity: RawIdentity, timeoutMs = 5000): Promise<void> {
  await peer.upgrade("/raft", timeoutMs);
  await peer.until(() => peer.frames.length >= 1, timeoutMs, "the server hello");
  const hello = decodeHandshake(peer.frames[0]!.payload);
  if (E.isLeft(hello) || !(hello.right instanceof ServerHello)) throw new Error("expected a server hello");
  const input: MacInput = { ...identity, serverNonce: hello.right.serverNonce, clientNonce: randomBytes(NONCE_BYTES), clientStoreId: newStoreId() };
  peer.write(clientFrame(OPCODE.binary, encodeHandshake(buildClientHello(input))));
  await peer.until(() => peer.frames.length >= 2, timeoutMs, "the server accept");
  const accept = decodeHandshake(peer.frames[1]!.payload);
  if (E.isLeft(accept) || E.isLeft(checkServerAccept(accept.right, input, null))) throw new Error("the server's accept does not check out");
}
