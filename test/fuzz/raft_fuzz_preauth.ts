/**
 * One hostile connection before the handshake, chosen by the PRNG, against one node of the
 * fuzzed group. The node may close first at any point (that is its job): a step that finds the
 * connection closed ends the input quietly. Nothing here checks the node's answer; the fuzzer
 * checks the group afterwards.
 */
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { either as E } from "fp-ts";
import type { Prng } from "../../src/lib/prng.js";
import { buildClientHello, decodeHandshake, encodeHandshake, NONCE_BYTES, ServerHello } from "../../src/raft/runtime/handshake.js";
import { clientFrame, OPCODE, RawPeer, upgradeRequest } from "../raft/raw_websocket.js";
import { FUZZ_CLUSTER_ID, FUZZ_SECRET, type FuzzNode } from "./raft_fuzz_group.js";
import { mutate, randomBytes, withHugeLength } from "./raft_fuzz_inputs.js";

const PRE_AUTH_KINDS = [
  "garbageInsteadOfHttp",
  "randomFrame",
  "rawBytesAfterUpgrade",
  "textFrame",
  "truncatedHello",
  "hugeLengthHello",
  "mutatedHello",
  "wrongSecretHello",
  "ownIdHello",
  "oversizedFrameHeader",
  "fragments",
  "pings",
  "dataBeforeUpgradeAnswer",
] as const;

export type PreAuthKind = (typeof PRE_AUTH_KINDS)[number];

/** How long the fuzzer waits for the node's reaction before it moves on. */
const LINGER_MS = 30;

/** Runs one input; returns its kind. */
export async function preAuthInput(prng: Prng, victim: FuzzNode): Promise<PreAuthKind> {
  const kind = PRE_AUTH_KINDS[prng.int(0, PRE_AUTH_KINDS.length)]!;
  // The bytes are drawn before connecting, so the sequence does not depend on what the node does.
  const noise = randomBytes(prng, 2048);
  const choice = prng.int(0, 1 << 30);
  const peer = await RawPeer.connect(victim.port).catch(() => null);
  if (peer === null) return kind;
  try {
    await send(kind, peer, victim, noise, choice, prng);
    await Promise.race([peer.closed, new Promise((resolve) => setTimeout(resolve, LINGER_MS))]);
  } catch {
    // Closed by the node before the input was complete.
  } finally {
    peer.destroy();
  }
  return kind;
}

async function send(kind: PreAuthKind, peer: RawPeer, victim: FuzzNode, noise: Uint8Array, choice: number, prng: Prng): Promise<void> {
  const frame = noise.subarray(0, choice % 1200);
  switch (kind) {
    case "garbageInsteadOfHttp":
      peer.write(noise.subarray(0, 1 + (choice % 512)));
      return;
    case "dataBeforeUpgradeAnswer":
      peer.write(Buffer.concat([Buffer.from(upgradeRequest()), clientFrame(OPCODE.binary, frame)]));
      return;
    default:
      break;
  }
  await peer.upgrade("/raft", 2000);
  switch (kind) {
    case "randomFrame":
      peer.write(clientFrame(OPCODE.binary, frame));
      return;
    case "rawBytesAfterUpgrade":
      peer.write(noise);
      return;
    case "textFrame":
      peer.write(clientFrame(OPCODE.text, frame));
      return;
    case "oversizedFrameHeader":
      peer.write(clientFrame(OPCODE.binary, frame.subarray(0, 64), { declaredLength: [1025, 65_536, 60_000_000, 2 ** 31, 2 ** 40][choice % 5]! }));
      return;
    case "fragments":
      sendFragments(peer, frame, choice);
      return;
    case "pings":
      for (let i = 0; i < 1 + (choice % 64); i++) peer.write(clientFrame(OPCODE.ping, frame.subarray(0, 125)));
      return;
    default:
      peer.write(clientFrame(OPCODE.binary, await hostileHello(kind, peer, victim, prng)));
  }
}

/** A fragmented message, or a control frame broken the way RFC 6455 §5.5 forbids. */
function sendFragments(peer: RawPeer, payload: Uint8Array, choice: number): void {
  const half = payload.length >> 1;
  switch (choice % 4) {
    case 0:
      peer.write(clientFrame(OPCODE.binary, payload.subarray(0, half), { fin: false }));
      peer.write(clientFrame(OPCODE.continuation, payload.subarray(half)));
      return;
    case 1:
      peer.write(clientFrame(OPCODE.continuation, payload));
      return;
    case 2:
      peer.write(clientFrame(OPCODE.ping, payload.subarray(0, 10), { fin: false }));
      return;
    default:
      peer.write(clientFrame(OPCODE.ping, payload.subarray(0, 200)));
  }
}

/** A client hello for the nonce the node just sent, then made hostile. */
async function hostileHello(kind: PreAuthKind, peer: RawPeer, victim: FuzzNode, prng: Prng): Promise<Uint8Array> {
  await peer.until(() => peer.frames.length >= 1, 2000, "the server hello");
  const decoded = decodeHandshake(peer.frames[0]!.payload);
  if (E.isLeft(decoded) || !(decoded.right instanceof ServerHello)) throw new Error("expected a server hello");
  const input = {
    secret: kind === "wrongSecretHello" ? "not-the-secret" : FUZZ_SECRET,
    clusterId: FUZZ_CLUSTER_ID,
    clientId: kind === "ownIdHello" ? victim.id : "fuzzer",
    serverId: victim.id,
    serverNonce: decoded.right.serverNonce,
    clientNonce: cryptoRandomBytes(NONCE_BYTES),
    clientStoreId: cryptoRandomBytes(16).toString("hex"),
  };
  const hello = encodeHandshake(buildClientHello(input));
  switch (kind) {
    case "truncatedHello":
      return hello.subarray(0, prng.int(0, hello.length));
    case "hugeLengthHello":
      return withHugeLength(prng, hello);
    case "mutatedHello":
      return mutate(prng, hello);
    default:
      return hello;
  }
}
