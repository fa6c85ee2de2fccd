/**
 * The per-socket frame limit of inbound connections: HANDSHAKE_FRAME_BYTES_MAX until the peer
 * authenticated, frameBytesMax afterwards.
 *
 * Why a private field of ws: `maxPayload` is an option of the WebSocketServer, copied into each
 * socket's Receiver (`websocket._receiver._maxPayload`) when the upgrade completes, and ws has no
 * public way to change it for one socket (a pull request adding one, websockets/ws#1473, was
 * declined: the maintainers advise authenticating before the upgrade). Our handshake is a
 * challenge-response over the open WebSocket (handshake.ts), so moving it into the HTTP upgrade
 * would need a second round trip and server-side nonce state, and a wire change. The other
 * supported options do not bound what matters: a server-wide 64 MiB limit lets every
 * unauthenticated socket make ws buffer 64 MiB (issue 12), and counting raw bytes on the socket
 * refuses a huge frame only after part of it arrived. With the server-wide limit at the
 * handshake size, ws refuses a larger frame at its header (close 1009) before it buffers any
 * payload, and only an authenticated socket gets the large limit.
 *
 * ws 8.23 checks `_maxPayload` in Receiver#haveLength each time a frame header is parsed, so a
 * change applies from the next frame on. assertPayloadLimitSupported() runs at Transport.start
 * and raisePayloadLimit() asserts the field on every socket: an upgrade of ws that moves or
 * renames it fails every transport test loudly instead of silently keeping a limit.
 */
import type WebSocket from "ws";
// The namespace, for Receiver: ws exports it (wrapper.mjs) but @types/ws does not declare it.
import * as ws from "ws";
import { assert } from "../../lib/assert.js";
import { HANDSHAKE_FRAME_BYTES_MAX } from "./handshake.js";

/** The private shape this module relies on (ws 8.23, lib/websocket.js and lib/receiver.js). */
interface ReceiverInternals {
  _maxPayload: unknown;
}

interface WebSocketInternals {
  _receiver?: ReceiverInternals | null;
}

type ReceiverConstructor = new (options: { maxPayload: number }) => ReceiverInternals;

/** Fails at start when the installed ws keeps its payload limit elsewhere. */
export function assertPayloadLimitSupported(): void {
  const Receiver = (ws as unknown as { Receiver?: ReceiverConstructor }).Receiver;
  assert(typeof Receiver === "function", "ws exports no Receiver (see transport_payload_limit.ts)");
  const probe = new Receiver({ maxPayload: HANDSHAKE_FRAME_BYTES_MAX + 1 });
  assert(
    probe._maxPayload === HANDSHAKE_FRAME_BYTES_MAX + 1,
    "ws keeps no Receiver#_maxPayload: this version of ws cannot raise the frame limit of one socket (see transport_payload_limit.ts)",
  );
}

/** The frame limit currently in force on an accepted socket. */
export function payloadLimit(socket: WebSocket): number {
  const receiver = (socket as unknown as WebSocketInternals)._receiver;
  assert(receiver !== undefined && receiver !== null, "ws keeps no WebSocket#_receiver (see transport_payload_limit.ts)");
  assert(typeof receiver._maxPayload === "number", "ws keeps no Receiver#_maxPayload (see transport_payload_limit.ts)");
  return receiver._maxPayload;
}

/** Raises the frame limit of one authenticated socket from the handshake size to `bytes`. */
export function raisePayloadLimit(socket: WebSocket, bytes: number): void {
  assert(Number.isSafeInteger(bytes) && bytes >= HANDSHAKE_FRAME_BYTES_MAX, () => `frame limit of ${bytes} bytes`);
  assert(payloadLimit(socket) === HANDSHAKE_FRAME_BYTES_MAX, "an unauthenticated socket has the handshake frame limit");
  (socket as unknown as WebSocketInternals)._receiver!._maxPayload = bytes;
}
