/**
 * Every bound of the Raft network transport in one place (shared/STYLE.md, "Assertions and
 * limits"): frame sizes, per-peer queues, backpressure, handshake and reconnect timing, and what
 * a connection that has not authenticated may cost. resolveTransportLimits() merges overrides
 * (tests use small values) and asserts how the limits relate, so a bad combination fails at
 * start, not under load.
 */
import { assert, assertSafeInteger } from "../../lib/assert.js";
import { HANDSHAKE_FRAME_BYTES_MAX } from "./handshake.js";

export interface TransportLimits {
  /**
   * The largest frame an authenticated peer may send us. Before the handshake completes the
   * limit is HANDSHAKE_FRAME_BYTES_MAX (transport_payload_limit.ts). A frame holding a single
   * message larger than this (a huge snapshot) cannot be sent: it is dropped and reported.
   */
  readonly frameBytesMax: number;
  /**
   * Batches are cut when their estimated size (messageSizeBytes) reaches this, so one frame does
   * not hold the socket for long and the receiver's decode buffer stays small.
   */
  readonly frameBytesTarget: number;
  /** The most messages in one frame, enforced on both ends. */
  readonly frameMessagesMax: number;
  /** Per-peer queue bound, in messages. When it is full, new messages are dropped. */
  readonly queueMessagesMax: number;
  /** Per-peer queue bound, in estimated bytes (messageSizeBytes). */
  readonly queueBytesMax: number;
  /**
   * A queued message that waited longer than this is dropped instead of sent
   * (transport_freshness.ts): when a connection stops draining, what piles up must not be
   * replayed in a burst when it drains again. The Raft runtime sets it to the election timeout.
   */
  readonly queueMessageAgeMaxMs: number;
  /**
   * Appends queued for one peer, at most; more are dropped when queued and the core probes
   * again. The Raft runtime's in-flight window (maxInflightMessages) fits under it, so only
   * appends the core sends while a connection is not draining are ever dropped.
   */
  readonly queueAppendsMax: number;
  /**
   * When a socket holds more than this many unsent bytes (ws `bufferedAmount`), messages wait in
   * the queue instead: the kernel is not keeping up, and the queue is where drops are accounted.
   */
  readonly bufferedBytesHighWater: number;
  /**
   * A TCP connection that has not authenticated this long after it was accepted is closed,
   * whatever it is doing: silent, half an HTTP request, or half a WebSocket frame after the
   * upgrade (transport_admission.ts).
   */
  readonly handshakeTimeoutMs: number;
  /**
   * A connection refused or timed out before it authenticated gets its close frame, and this
   * long to answer it; then its socket is destroyed. A peer that never answers (it is in the
   * middle of a huge frame, or hostile) would otherwise hold its slot for ws's 30 s close timeout.
   */
  readonly handshakeClosingMs: number;
  /**
   * An open outbound connection is pinged this often. A peer that answers neither pings nor
   * (by draining our send buffer) data within keepaliveTimeoutMs is presumed gone: the socket is
   * closed and redialed. Without this, a silently partitioned peer (packets dropped, no RST)
   * would hold a dead connection until TCP gives up, many minutes later.
   */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  /**
   * A dial whose TCP connection is not established this long after it began is abandoned and
   * made again (after the reconnect backoff). Behind a partition, the kernel retransmits a SYN
   * after 1, 2, 4 … s: without this bound a node whose partition healed could wait seconds for
   * the next retransmission (issue 14: the Raft leader unknown for 3.5 s after a heal). The
   * handshake's own timeout still bounds the whole dial when it is the shorter.
   */
  readonly connectTimeoutMs: number;
  /**
   * Accepted TCP connections that have not authenticated yet, counted from the server's
   * 'connection' event. One more is destroyed at once (with a rate-limited warning).
   */
  readonly unauthenticatedConnectionsMax: number;
  /** The same, per source address: one noisy host cannot take every slot. */
  readonly unauthenticatedConnectionsPerAddressMax: number;
  /**
   * New unauthenticated connections admitted per second (a token bucket whose burst is
   * unauthenticatedConnectionsMax); more are destroyed at once. The caps above bound what live
   * connections hold; this bounds what ended ones leave behind until the garbage collector runs
   * (UNAUTHENTICATED_READ_BYTES_MAX each), and the CPU a flood of short connections costs.
   */
  readonly unauthenticatedConnectionsPerSecondMax: number;
  /** The same, per source address (burst unauthenticatedConnectionsPerAddressMax). */
  readonly unauthenticatedConnectionsPerAddressPerSecondMax: number;
  /** Reconnect backoff: the first delay, doubled after every failure up to the maximum. */
  readonly reconnectDelayMinMs: number;
  readonly reconnectDelayMaxMs: number;
  /** Identical warnings (same peer, same reason) are logged at most once per interval. */
  readonly warningIntervalMs: number;
  /** The warning rate limiter remembers at most this many (peer, reason) keys. */
  readonly warningKeysMax: number;
}

const MIB = 1024 * 1024;

export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  frameBytesMax: 64 * MIB,
  frameBytesTarget: 4 * MIB,
  frameMessagesMax: 4096,
  queueMessagesMax: 8192,
  queueBytesMax: 128 * MIB,
  queueMessageAgeMaxMs: 1000,
  queueAppendsMax: 64,
  bufferedBytesHighWater: 8 * MIB,
  handshakeTimeoutMs: 5000,
  handshakeClosingMs: 1000,
  // A link silent for 4 s is given up: TCP's retransmissions back off exponentially, so a
  // connection that outlived a partition of some seconds may carry nothing for seconds after
  // the heal (issue 14). Redialing costs one handshake.
  keepaliveIntervalMs: 1000,
  keepaliveTimeoutMs: 4000,
  connectTimeoutMs: 1000,
  unauthenticatedConnectionsMax: 64,
  unauthenticatedConnectionsPerAddressMax: 16,
  unauthenticatedConnectionsPerSecondMax: 32,
  unauthenticatedConnectionsPerAddressPerSecondMax: 8,
  reconnectDelayMinMs: 50,
  reconnectDelayMaxMs: 1000,
  warningIntervalMs: 10_000,
  warningKeysMax: 1024,
};

/**
 * How much the borsh encoding of one message may exceed its messageSizeBytes() estimate, when it
 * carries no snapshot: two node ids of up to 63 bytes, a transfer target, fixed fields and length
 * prefixes come to under 300 bytes against the 64 estimated; entries are estimated above their
 * encoding. Snapshots travel alone in a frame, so their (unbounded) member list does not count.
 */
export const MESSAGE_ENCODING_EXCESS_BYTES_MAX = 512;

/** ws keeps payload lengths in JS numbers and Buffers; stay far below the Buffer size limit. */
const FRAME_BYTES_CEILING = 1024 * MIB;

/**
 * What one unauthenticated connection may hold in this process, at most: one 64 KiB read from
 * the kernel (libuv's read buffer), the HTTP parser's header buffer (Node's maxHeaderSize is
 * 16 KiB), a handshake frame, and the socket, parser and ws objects. Whatever the peer sends
 * beyond that waits in the kernel's socket buffer, not in our heap: ws refuses a larger frame
 * at its header.
 */
export const UNAUTHENTICATED_CONNECTION_BYTES_ESTIMATE = 128 * 1024;

/**
 * All unauthenticated connections together may cost at most this much memory: a flood of them
 * must not push the agent towards swap or the OOM killer (issue 12: 40 connections with one
 * 60 MB frame each took an agent from 148 MB to 2.6 GB).
 */
export const UNAUTHENTICATED_BYTES_MAX = 16 * MIB;

/**
 * Node reads a socket 64 KiB at a time, and its HTTP server copies the whole read that holds an
 * upgrade request into the upgrade's `head`. A client that sends data behind its request (an
 * attack: RFC 6455 §4.1 has it wait for the answer) so costs 64 KiB even when the transport
 * refuses it at once, and that memory returns only when V8 collects it.
 */
export const UNAUTHENTICATED_READ_BYTES_MAX = 64 * 1024;

/**
 * What admitted unauthenticated connections may leave for the garbage collector per second.
 * V8 collects when the young generation fills or external memory grew by tens of MB, which a
 * flood that allocates little JavaScript may take many seconds to reach.
 */
export const UNAUTHENTICATED_BYTES_PER_SECOND_MAX = 2 * MIB;

/**
 * WebSocket bytes an upgraded connection may send before it authenticated: its hello (one
 * handshake frame) with room for a close frame. A peer that sends more (pings, frames after
 * frames) is dropped: ws would answer each ping until the deadline.
 */
export const HANDSHAKE_WEBSOCKET_BYTES_MAX = 4 * HANDSHAKE_FRAME_BYTES_MAX;

export function resolveTransportLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_TRANSPORT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    assertSafeInteger(value as number, `transport limit ${name}`);
    assert((value as number) > 0, `transport limit ${name} must be positive`);
  }
  assert(limits.frameBytesMax <= FRAME_BYTES_CEILING, "frameBytesMax must stay below 1 GiB");
  // The limit is raised from the handshake frame size after authentication, never lowered.
  assert(limits.frameBytesMax >= HANDSHAKE_FRAME_BYTES_MAX, "frameBytesMax must be at least HANDSHAKE_FRAME_BYTES_MAX");
  // A batch cut at the target must still fit in a frame after its encoding excess.
  assert(
    limits.frameBytesTarget + limits.frameMessagesMax * MESSAGE_ENCODING_EXCESS_BYTES_MAX <= limits.frameBytesMax,
    "frameBytesTarget + frameMessagesMax * MESSAGE_ENCODING_EXCESS_BYTES_MAX must not exceed frameBytesMax",
  );
  // A full frame's worth of messages must fit in the queue, or frames could never be full.
  assert(limits.frameMessagesMax <= limits.queueMessagesMax, "frameMessagesMax must not exceed queueMessagesMax");
  // The largest sendable message (one frame) must fit in the queue, or it could never be sent.
  assert(limits.frameBytesMax <= limits.queueBytesMax, "frameBytesMax must not exceed queueBytesMax");
  assert(limits.bufferedBytesHighWater <= limits.queueBytesMax, "bufferedBytesHighWater must not exceed queueBytesMax");
  assert(limits.reconnectDelayMinMs <= limits.reconnectDelayMaxMs, "reconnectDelayMinMs must not exceed reconnectDelayMaxMs");
  // A timeout shorter than two intervals would fire on a single late pong.
  assert(limits.keepaliveTimeoutMs >= 2 * limits.keepaliveIntervalMs, "keepaliveTimeoutMs must be at least twice keepaliveIntervalMs");
  assertUnauthenticatedLimits(limits);
  return limits;
}

function assertUnauthenticatedLimits(limits: TransportLimits): void {
  assert(
    limits.unauthenticatedConnectionsPerAddressMax <= limits.unauthenticatedConnectionsMax,
    "unauthenticatedConnectionsPerAddressMax must not exceed unauthenticatedConnectionsMax",
  );
  assert(
    limits.unauthenticatedConnectionsMax * UNAUTHENTICATED_CONNECTION_BYTES_ESTIMATE <= UNAUTHENTICATED_BYTES_MAX,
    "unauthenticatedConnectionsMax * UNAUTHENTICATED_CONNECTION_BYTES_ESTIMATE must not exceed UNAUTHENTICATED_BYTES_MAX",
  );
  assert(
    limits.unauthenticatedConnectionsPerAddressPerSecondMax <= limits.unauthenticatedConnectionsPerSecondMax,
    "unauthenticatedConnectionsPerAddressPerSecondMax must not exceed unauthenticatedConnectionsPerSecondMax",
  );
  assert(
    limits.unauthenticatedConnectionsPerSecondMax * UNAUTHENTICATED_READ_BYTES_MAX <= UNAUTHENTICATED_BYTES_PER_SECOND_MAX,
    "unauthenticatedConnectionsPerSecondMax * UNAUTHENTICATED_READ_BYTES_MAX must not exceed UNAUTHENTICATED_BYTES_PER_SECOND_MAX",
  );
  // A slot is held for at most handshakeTimeoutMs + handshakeClosingMs; the grace is the lesser part.
  assert(limits.handshakeClosingMs <= limits.handshakeTimeoutMs, "handshakeClosingMs must not exceed handshakeTimeoutMs");
}
