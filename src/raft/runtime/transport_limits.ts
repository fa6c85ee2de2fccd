/**
 * Every bound of the Raft network transport in one place (shared/STYLE.md, "Assertions and
 * limits"): frame sizes, per-peer queues, backpressure, handshake and reconnect timing.
 * resolveTransportLimits() merges overrides (tests use small values) and asserts how the limits
 * relate, so a bad combination fails at start, not under load.
 */
import { assert, assertSafeInteger } from "../../lib/assert.js";

export interface TransportLimits {
  /**
   * The largest frame a peer may send us (ws `maxPayload` on the server side). A frame holding a
   * single message larger than this (a huge snapshot) cannot be sent: it is dropped and reported.
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
   * When a socket holds more than this many unsent bytes (ws `bufferedAmount`), messages wait in
   * the queue instead: the kernel is not keeping up, and the queue is where drops are accounted.
   */
  readonly bufferedBytesHighWater: number;
  /** A connection that has not finished the handshake by then is closed. */
  readonly handshakeTimeoutMs: number;
  /**
   * An open outbound connection is pinged this often. A peer that answers neither pings nor
   * (by draining our send buffer) data within keepaliveTimeoutMs is presumed gone: the socket is
   * closed and redialed. Without this, a silently partitioned peer (packets dropped, no RST)
   * would hold a dead connection until TCP gives up, many minutes later.
   */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Inbound connections still in their handshake; further upgrade requests get HTTP 503. */
  readonly pendingHandshakesMax: number;
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
  bufferedBytesHighWater: 8 * MIB,
  handshakeTimeoutMs: 5000,
  keepaliveIntervalMs: 2000,
  keepaliveTimeoutMs: 10000,
  pendingHandshakesMax: 64,
  reconnectDelayMinMs: 50,
  reconnectDelayMaxMs: 2000,
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

export function resolveTransportLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_TRANSPORT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    assertSafeInteger(value as number, `transport limit ${name}`);
    assert((value as number) > 0, `transport limit ${name} must be positive`);
  }
  assert(limits.frameBytesMax <= FRAME_BYTES_CEILING, "frameBytesMax must stay below 1 GiB");
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
  return limits;
}
