import { either as E } from "fp-ts";
import t from "tap";
import {
  DEFAULT_TRANSPORT_LIMITS,
  resolveTransportLimits,
  UNAUTHENTICATED_BYTES_MAX,
  UNAUTHENTICATED_BYTES_PER_SECOND_MAX,
  UNAUTHENTICATED_CONNECTION_BYTES_ESTIMATE,
  UNAUTHENTICATED_READ_BYTES_MAX,
} from "../../src/raft/runtime/transport_limits.js";
import { peerUrl } from "../../src/raft/runtime/transport_outbound.js";
import { headVerdict } from "../../src/raft/runtime/transport_freshness.js";
import { MessageQueue } from "../../src/raft/runtime/transport_queue.js";
import { WarningLimiter } from "../../src/raft/runtime/transport_warnings.js";
import { makeMessage, type Message, nodeId, type Term } from "../../src/raft/types.js";

function message(context: number, type: Message["type"] = "heartbeat"): Message {
  return makeMessage({ type, from: nodeId("a"), to: nodeId("b"), term: 1 as Term, context });
}

t.test("MessageQueue is FIFO across growth and wrap-around", async (t) => {
  const queue = new MessageQueue(100, 1_000_000);
  const out: number[] = [];
  for (let i = 0; i < 10; i++) t.ok(queue.tryPush(message(i), 10, 0));
  for (let i = 0; i < 5; i++) out.push(queue.shift().context);
  for (let i = 10; i < 60; i++) t.ok(queue.tryPush(message(i), 10, 0));
  t.equal(queue.length, 55);
  t.equal(queue.queuedBytes, 550);
  t.equal(queue.peek()?.context, 5);
  t.equal(queue.peekSizeBytes(), 10);
  while (queue.length > 0) out.push(queue.shift().context);
  t.same(out, Array.from({ length: 60 }, (_, i) => i));
  t.equal(queue.queuedBytes, 0);
  t.equal(queue.peek(), undefined);
  t.throws(() => queue.shift(), /empty queue/);
});

t.test("MessageQueue refuses a message beyond its message or byte bound", async (t) => {
  const byCount = new MessageQueue(3, 1000);
  for (let i = 0; i < 3; i++) t.ok(byCount.tryPush(message(i), 1, 0));
  t.notOk(byCount.tryPush(message(3), 1, 0), "fourth message refused");
  const byBytes = new MessageQueue(100, 100);
  t.ok(byBytes.tryPush(message(0), 60, 0));
  t.notOk(byBytes.tryPush(message(1), 41, 0), "would exceed 100 bytes");
  t.ok(byBytes.tryPush(message(2), 40, 0), "exactly 100 bytes fits");
});

t.test("MessageQueue.clear() empties the queue and counts the snapshots it removed", async (t) => {
  const queue = new MessageQueue(10, 1000);
  queue.tryPush(message(0), 1, 0);
  queue.tryPush(message(1, "snapshot"), 1, 0);
  queue.tryPush(message(2, "snapshot"), 1, 0);
  t.equal(queue.clear(), 2);
  t.equal(queue.length, 0);
  t.equal(queue.queuedBytes, 0);
});

t.test("MessageQueue counts what it holds of each type", async (t) => {
  const queue = new MessageQueue(10, 1000);
  queue.tryPush(message(0), 1, 0);
  queue.tryPush(message(1, "snapshot"), 1, 0);
  queue.tryPush(message(2), 1, 0);
  t.equal(queue.countOf("heartbeat"), 2);
  t.equal(queue.countOf("snapshot"), 1);
  t.equal(queue.countOf("append"), 0);
  queue.shift();
  t.equal(queue.countOf("heartbeat"), 1);
  queue.clear();
  t.equal(queue.countOf("heartbeat") + queue.countOf("snapshot"), 0);
});

t.test("headVerdict() drops the oldest message when it is too old or a newer one of its kind waits", async (t) => {
  const queue = new MessageQueue(10, 1000);
  t.equal(headVerdict(queue, 0, 100), "send", "nothing to drop in an empty queue");
  queue.tryPush(message(0, "appendResponse"), 1, 1000);
  queue.tryPush(message(1, "appendResponse"), 1, 1000);
  t.equal(headVerdict(queue, 1100, 100), "send", "exactly the age bound is still fresh");
  t.equal(headVerdict(queue, 1101, 100), "expired");
  queue.clear();
  for (const type of ["heartbeat", "heartbeatResponse", "preVote", "vote", "snapshot"] as const) {
    queue.tryPush(message(0, type), 1, 0);
    t.equal(headVerdict(queue, 0, 100), "send", `a lone ${type} is sent`);
    queue.tryPush(message(1, type), 1, 0);
    t.equal(headVerdict(queue, 0, 100), "superseded", `an older ${type} is not`);
    queue.clear();
  }
  for (const type of ["append", "appendResponse", "readIndex", "readIndexResponse", "propose", "timeoutNow"] as const) {
    queue.tryPush(message(0, type), 1, 0);
    queue.tryPush(message(1, type), 1, 0);
    t.equal(headVerdict(queue, 0, 100), "send", `every ${type} counts`);
    queue.clear();
  }
});

t.test("WarningLimiter admits one warning per key per interval and counts the rest", async (t) => {
  const limiter = new WarningLimiter(10_000, 100);
  t.equal(limiter.admit("b|auth", 0), 0);
  t.equal(limiter.admit("b|auth", 5_000), null);
  t.equal(limiter.admit("b|auth", 9_999), null);
  t.equal(limiter.admit("c|auth", 9_999), 0, "another key is independent");
  t.equal(limiter.admit("b|auth", 10_000), 2, "two were suppressed since the last one");
  t.equal(limiter.admit("b|auth", 10_001), null);
});

t.test("WarningLimiter forgets its keys instead of growing past its bound", async (t) => {
  const limiter = new WarningLimiter(10_000, 2);
  limiter.admit("x", 0);
  limiter.admit("y", 0);
  limiter.admit("z", 0);
  t.equal(limiter.admit("x", 1), 0, "x was forgotten, so it is logged again");
});

t.test("resolveTransportLimits() accepts the defaults and refuses limits that contradict each other", async (t) => {
  t.same(resolveTransportLimits(), DEFAULT_TRANSPORT_LIMITS);
  t.equal(resolveTransportLimits({ queueMessagesMax: 20, frameMessagesMax: 10 }).queueMessagesMax, 20);
  t.throws(() => resolveTransportLimits({ queueMessagesMax: 10, frameMessagesMax: 20 }), /frameMessagesMax must not exceed queueMessagesMax/);
  t.throws(() => resolveTransportLimits({ queueBytesMax: 1024 }), /frameBytesMax must not exceed queueBytesMax/);
  t.throws(() => resolveTransportLimits({ reconnectDelayMinMs: 5000 }), /reconnectDelayMinMs/);
  t.throws(() => resolveTransportLimits({ keepaliveTimeoutMs: 1500 }), /keepaliveTimeoutMs/);
  t.throws(() => resolveTransportLimits({ frameBytesMax: 1024 * 1024 }), /frameBytesTarget/);
  t.throws(() => resolveTransportLimits({ handshakeTimeoutMs: 0 }), /must be positive/);
  t.throws(() => resolveTransportLimits({ handshakeTimeoutMs: 1.5 }), /non-negative safe integer/);
});

t.test("resolveTransportLimits() bounds what unauthenticated connections may hold and keep", async (t) => {
  const limits = resolveTransportLimits();
  t.ok(
    limits.unauthenticatedConnectionsMax * UNAUTHENTICATED_CONNECTION_BYTES_ESTIMATE <= UNAUTHENTICATED_BYTES_MAX,
    "the defaults fit the memory budget",
  );
  t.ok(UNAUTHENTICATED_BYTES_MAX <= 16 * 1024 * 1024, "16 MiB at most, well inside issue 12's 50 MB bound");
  t.throws(
    () => resolveTransportLimits({ unauthenticatedConnectionsMax: 8, unauthenticatedConnectionsPerAddressMax: 9 }),
    /unauthenticatedConnectionsPerAddressMax must not exceed unauthenticatedConnectionsMax/,
  );
  t.throws(() => resolveTransportLimits({ unauthenticatedConnectionsMax: 1000 }), /UNAUTHENTICATED_BYTES_MAX/);
  t.throws(() => resolveTransportLimits({ handshakeTimeoutMs: 500, handshakeClosingMs: 501 }), /handshakeClosingMs/);
  t.ok(limits.unauthenticatedConnectionsPerSecondMax * UNAUTHENTICATED_READ_BYTES_MAX <= UNAUTHENTICATED_BYTES_PER_SECOND_MAX);
  t.throws(
    () => resolveTransportLimits({ unauthenticatedConnectionsPerSecondMax: 4, unauthenticatedConnectionsPerAddressPerSecondMax: 5 }),
    /unauthenticatedConnectionsPerAddressPerSecondMax must not exceed unauthenticatedConnectionsPerSecondMax/,
  );
  t.throws(() => resolveTransportLimits({ unauthenticatedConnectionsPerSecondMax: 64 }), /UNAUTHENTICATED_BYTES_PER_SECOND_MAX/);
  t.throws(() => resolveTransportLimits({ frameBytesMax: 512, frameBytesTarget: 1, frameMessagesMax: 1 }), /HANDSHAKE_FRAME_BYTES_MAX/);
});

t.test("peerUrl() turns host:port into the /raft URL and refuses anything else", async (t) => {
  t.same(peerUrl("10.0.0.7:7001"), E.right("ws://10.0.0.7:7001/raft"));
  t.same(peerUrl("pg-2.internal:7001"), E.right("ws://pg-2.internal:7001/raft"));
  t.same(peerUrl("[fd00::2]:7001"), E.right("ws://[fd00::2]:7001/raft"));
  for (const bad of ["10.0.0.7", "10.0.0.7:0", "10.0.0.7:70000", "fd00::2:7001", "a b:1", "user@host:1", "host:1/x", ""]) {
    t.ok(E.isLeft(peerUrl(bad)), `refuses ${JSON.stringify(bad)}`);
  }
});
