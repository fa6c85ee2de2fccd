/**
 * Admission (transport_admission.ts) on its own, with a clock the test moves and sockets that
 * are plain event emitters: the caps, the admission rates, the byte budget after the upgrade,
 * and the deadline. The same rules on real sockets are in transport_preauth.test.ts.
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import t from "tap";
import { Admission, type HandshakeDeadlineTarget } from "../../src/raft/runtime/transport_admission.js";
import { resolveTransportLimits, type TransportLimits } from "../../src/raft/runtime/transport_limits.js";
import { TokenBucket } from "../../src/raft/runtime/transport_rate_limit.js";

class FakeSocket extends EventEmitter {
  bytesRead = 0;
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
  /** What arrives from the peer: counted, then seen by 'data' listeners. */
  receive(bytes: number): void {
    this.bytesRead += bytes;
    this.emit("data", Buffer.alloc(0));
  }
}

interface Setup {
  readonly admission: Admission;
  readonly warnings: string[];
  readonly clock: { nowMs: number };
  admit(address: string): FakeSocket;
}

function setup(t: { teardown(fn: () => unknown): void }, overrides: Partial<TransportLimits>): Setup {
  const limits = resolveTransportLimits({ handshakeTimeoutMs: 60_000, ...overrides });
  const warnings: string[] = [];
  const clock = { nowMs: 0 };
  const admission = new Admission(limits, (_key, _fields, message) => warnings.push(typeof message === "string" ? message : message()), () => clock.nowMs);
  t.teardown(() => admission.stop());
  return {
    admission,
    warnings,
    clock,
    admit: (address) => {
      const socket = new FakeSocket(address);
      admission.admit(socket as unknown as Socket);
      return socket;
    },
  };
}

const target = (calls: string[]): HandshakeDeadlineTarget => ({ handshakeDeadline: () => calls.push("deadline") });

t.test("TokenBucket allows a burst, then refills at its rate, never above the burst", async (t) => {
  const bucket = new TokenBucket(2, 3, 0);
  t.same([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true, false]);
  t.notOk(bucket.take(499), "half a token after 499 ms at 2 per second is not enough");
  t.ok(bucket.take(500));
  t.notOk(bucket.isFull(500));
  t.ok(bucket.isFull(10_000), "full again after a long pause");
  t.same([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)], [true, true, true, false], "still only the burst");
  t.notOk(bucket.take(5_000), "a clock that went backwards refills nothing");
});

t.test("the total admission rate holds across addresses; its burst is the total cap", async (t) => {
  const s = setup(t, { unauthenticatedConnectionsMax: 4, unauthenticatedConnectionsPerAddressMax: 2, unauthenticatedConnectionsPerSecondMax: 2, unauthenticatedConnectionsPerAddressPerSecondMax: 2 });
  const first = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((a) => s.admit(a));
  t.equal(s.admission.unauthenticated, 4);
  for (const socket of first) socket.destroy();
  t.equal(s.admission.unauthenticated, 0);
  t.ok(s.admit("10.0.0.5").destroyed, "the total bucket is empty");
  t.same(s.warnings, ["refusing a connection from 10.0.0.5: more than 2 new connections per second (unauthenticatedConnectionsPerSecondMax)"]);
  s.clock.nowMs = 500;
  t.notOk(s.admit("10.0.0.6").destroyed, "one token after half a second");
});

t.test("the per-address rate and cap hold for one address while others are admitted", async (t) => {
  const s = setup(t, { unauthenticatedConnectionsPerAddressMax: 3, unauthenticatedConnectionsPerAddressPerSecondMax: 1 });
  const three = [s.admit("10.0.0.1"), s.admit("10.0.0.1"), s.admit("10.0.0.1")];
  t.ok(s.admit("10.0.0.1").destroyed, "over the per-address cap");
  for (const socket of three) socket.destroy();
  t.ok(s.admit("10.0.0.1").destroyed, "over the per-address rate");
  t.notOk(s.admit("10.0.0.2").destroyed, "another address is admitted");
  s.clock.nowMs = 1000;
  t.notOk(s.admit("10.0.0.1").destroyed, "one more after a second");
  t.same(s.warnings, [
    "refusing a connection from 10.0.0.1: 3 connections from that address have not authenticated yet (unauthenticatedConnectionsPerAddressMax)",
    "refusing a connection from 10.0.0.1: more than 1 new connections per second from that address (unauthenticatedConnectionsPerAddressPerSecondMax)",
  ]);
});

t.test("an upgraded socket may send a hello's worth of bytes; more drops it, and authentication lifts the budget", async (t) => {
  const s = setup(t, {});
  const calls: string[] = [];
  const chatty = s.admit("10.0.0.1");
  chatty.bytesRead = 300; // the HTTP request
  t.ok(s.admission.upgraded(chatty as unknown as Socket, target(calls)));
  chatty.receive(4096);
  t.notOk(chatty.destroyed, "exactly the budget");
  chatty.receive(1);
  t.ok(chatty.destroyed);
  t.match(s.warnings[0], /^closing a connection from 10\.0\.0\.1: it sent 4097 bytes before it authenticated \(at most 4096\)$/);
  const peer = s.admit("10.0.0.2");
  s.admission.upgraded(peer as unknown as Socket, target(calls));
  peer.receive(1000);
  t.ok(s.admission.authenticated(peer as unknown as Socket));
  t.equal(s.admission.unauthenticated, 0, "an authenticated socket does not count");
  peer.receive(10_000_000);
  t.notOk(peer.destroyed, "no budget once authenticated");
});

t.test("the deadline closes an upgraded socket through its connection, then destroys it after the grace", async (t) => {
  const s = setup(t, { handshakeTimeoutMs: 40, handshakeClosingMs: 20 });
  const calls: string[] = [];
  const silent = s.admit("10.0.0.1");
  const upgraded = s.admit("10.0.0.2");
  s.admission.upgraded(upgraded as unknown as Socket, target(calls));
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(silent.destroyed, "never upgraded: destroyed at the deadline");
  t.same(calls, ["deadline"], "the upgraded one was told to close");
  t.notOk(upgraded.destroyed, "and gets the grace to answer the close frame");
  t.notOk(s.admission.authenticated(upgraded as unknown as Socket), "a socket past its deadline cannot authenticate");
  await new Promise((resolve) => setTimeout(resolve, 40));
  t.ok(upgraded.destroyed, "destroyed after the grace");
  t.equal(s.admission.unauthenticated, 0);
  t.match(s.warnings[0], /no WebSocket upgrade within 40 ms/);
});
