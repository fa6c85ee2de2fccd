/**
 * What the Raft fuzzer sends, as pure functions of a seeded PRNG (src/lib/prng.ts), so a seed
 * replays the same sequence of inputs: hostile bytes before the handshake, frames after it, and
 * command payloads for the DCS. Mutations are the usual byte-level ones (flips, boundary values,
 * inserted, deleted and duplicated ranges, truncation) plus "huge" u32s written over what may be
 * a borsh length or count.
 */
import { type Command, encodeCommand } from "../../src/dcs/commands.js";
import type { Lsn, Scope } from "../../src/dcs/model.js";
import type { Prng } from "../../src/lib/prng.js";
import { encodeFrame } from "../../src/raft/codec.js";
import { type Entry, type LogIndex, makeMessage, type Message, MESSAGE_TYPES, type NodeId, nodeId, type Term } from "../../src/raft/types.js";
import { m, status } from "../dcs/fixtures.js";

/** u32 values that stand for lengths and counts no input can back. */
const HUGE_U32 = [0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x0100_0000, 0x0001_0000, 4097, 65_536];
const BOUNDARY_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
/** The sender of generated Raft messages: a third node, so that the transport drops what decodes. */
export const FORGED_SENDER = nodeId("mallory");

export function randomBytes(prng: Prng, lengthMax: number): Uint8Array {
  const bytes = new Uint8Array(prng.int(0, lengthMax + 1));
  for (let i = 0; i < bytes.length; i++) bytes[i] = prng.int(0, 256);
  return bytes;
}

function pick<T>(prng: Prng, values: readonly T[]): T {
  return values[prng.int(0, values.length)]!;
}

/** One to four byte-level mutations of a copy of `input`. */
export function mutate(prng: Prng, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(input);
  const count = prng.int(1, 5);
  for (let i = 0; i < count; i++) bytes = mutateOnce(prng, bytes);
  return bytes;
}

function mutateOnce(prng: Prng, bytes: Uint8Array): Uint8Array {
  const at = bytes.length === 0 ? 0 : prng.int(0, bytes.length);
  switch (prng.int(0, 8)) {
    case 0:
      if (bytes.length > 0) bytes[at]! ^= 1 << prng.int(0, 8);
      return bytes;
    case 1:
      if (bytes.length > 0) bytes[at] = pick(prng, BOUNDARY_BYTES);
      return bytes;
    case 2:
      return concat(bytes.subarray(0, at), randomBytes(prng, 16), bytes.subarray(at));
    case 3:
      return concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + prng.int(1, 17))));
    case 4:
      return bytes.subarray(0, at);
    case 5:
      return concat(bytes.subarray(0, at), bytes.subarray(at, at + prng.int(1, 33)), bytes.subarray(at));
    case 6: {
      if (bytes.length < 4) return bytes;
      const position = prng.int(0, bytes.length - 3);
      new DataView(bytes.buffer, bytes.byteOffset, bytes.length).setUint32(position, pick(prng, HUGE_U32), true);
      return bytes;
    }
    default:
      return concat(bytes, randomBytes(prng, 32));
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Writes a huge u32 at one of the first `limit` 4-byte positions: where a frame's counts sit. */
export function withHugeLength(prng: Prng, bytes: Uint8Array, limit = 64): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (out.length < 4) return out;
  const position = prng.int(0, Math.min(limit, out.length - 3));
  new DataView(out.buffer).setUint32(position, pick(prng, HUGE_U32), true);
  return out;
}

function randomTerm(prng: Prng): number {
  return prng.chance(0.1) ? Number.MAX_SAFE_INTEGER - prng.int(0, 3) : prng.int(0, 50);
}

function randomEntries(prng: Prng, forwarded: boolean): Entry[] {
  const first = prng.int(1, 1000);
  const term = randomTerm(prng);
  return Array.from({ length: prng.int(0, 5) }, (_, i) => ({
    term: (forwarded ? 0 : term) as Term,
    index: (forwarded ? 0 : first + i) as LogIndex,
    type: prng.chance(0.9) ? "normal" as const : "config" as const,
    timeMs: prng.int(0, 2_000_000_000),
    data: randomBytes(prng, 64),
  }));
}

/** A Raft message that encodes and decodes, from FORGED_SENDER to `to`. */
export function randomMessage(prng: Prng, to: NodeId): Message {
  const type = pick(prng, MESSAGE_TYPES);
  return makeMessage({
    type,
    from: FORGED_SENDER,
    to,
    term: randomTerm(prng) as Term,
    logTerm: randomTerm(prng) as Term,
    index: prng.int(0, 10_000) as LogIndex,
    commit: prng.int(0, 10_000) as LogIndex,
    reject: prng.chance(0.5),
    context: prng.int(0, 1_000_000),
    entries: type === "append" || type === "propose" ? randomEntries(prng, type === "propose") : [],
    snapshot: type === "snapshot"
      ? { meta: { index: 5 as LogIndex, term: 2 as Term, timeMs: 0, confState: { members: [{ id: to, role: "voter", address: "127.0.0.1:1" }] } }, data: randomBytes(prng, 256) }
      : null,
  });
}

export function validFrame(prng: Prng, to: NodeId): Uint8Array {
  return encodeFrame(Array.from({ length: prng.int(1, 6) }, () => randomMessage(prng, to)));
}

export type PostAuthKind = "randomBytes" | "mutatedFrame" | "hugeLength" | "forgedValid" | "textFrame";

/** A frame for an authenticated connection: what it is, and its bytes. */
export function postAuthFrame(prng: Prng, to: NodeId): { kind: PostAuthKind; bytes: Uint8Array } {
  const roll = prng.int(0, 100);
  if (roll < 20) return { kind: "randomBytes", bytes: randomBytes(prng, 4096) };
  if (roll < 60) return { kind: "mutatedFrame", bytes: mutate(prng, validFrame(prng, to)) };
  if (roll < 85) return { kind: "hugeLength", bytes: withHugeLength(prng, validFrame(prng, to), 256) };
  if (roll < 95) return { kind: "forgedValid", bytes: validFrame(prng, to) };
  return { kind: "textFrame", bytes: new TextEncoder().encode("not a frame") };
}

const SCOPE = "fuzz" as Scope;

function sampleCommand(prng: Prng): Command {
  const name = pick(prng, ["pg1", "pg2", "pg3"]);
  switch (prng.int(0, 8)) {
    case 0:
      return { kind: "upsertMember", status: status(name, { role: prng.chance(0.3) ? "primary" : "replica", walReceived: BigInt(prng.int(0, 1e9)) as Lsn }) };
    case 1:
      return { kind: "initializeCluster", member: m(name), systemId: String(7_300_000_000_000_000_000n + BigInt(prng.int(0, 1000))) };
    case 2:
      return { kind: "acquireLease", member: m(name), ttlMs: prng.int(3000, 60_000) };
    case 3:
      return { kind: "renewLease", member: m(name), ttlMs: prng.int(3000, 60_000), generation: prng.int(0, 5) };
    case 4:
      return { kind: "setConfig", expectedVersion: null, mode: prng.chance(0.5) ? "patch" : "replace", value: { ttl: prng.int(1, 100), loop_wait: prng.int(1, 20), tags: { a: [1, "x", null] } } };
    case 5:
      return { kind: "setPause", paused: prng.chance(0.5) };
    case 6:
      return { kind: "requestSwitchover", from: m(name), to: null, scheduledAtMs: null };
    default:
      return { kind: "removeMember", name: m(name) };
  }
}

export type ProposalKind = "randomBytes" | "mutatedCommand" | "hugeLength" | "validCommand";

/** A payload to propose to the DCS: random bytes, a mutated command, or a valid one. */
export function proposal(prng: Prng): { kind: ProposalKind; bytes: Uint8Array } {
  const roll = prng.int(0, 100);
  const command = (): Uint8Array => {
    const sample = sampleCommand(prng);
    try {
      return encodeCommand({ scope: SCOPE, author: "pg1", command: sample });
    } catch {
      // The encoder refuses a command outside the DCS's bounds (src/dcs/command_bounds.ts): a
      // sample here that a tightened bound refuses becomes a plain valid command.
      return markerCommand();
    }
  };
  if (roll < 25) return { kind: "randomBytes", bytes: randomBytes(prng, 2048) };
  if (roll < 65) return { kind: "mutatedCommand", bytes: mutate(prng, command()) };
  if (roll < 80) return { kind: "hugeLength", bytes: withHugeLength(prng, command(), 512) };
  return { kind: "validCommand", bytes: command() };
}

/** A valid command, for the proposal that must commit at the end. */
export function markerCommand(): Uint8Array {
  return encodeCommand({ scope: SCOPE, author: "fuzz", command: { kind: "setPause", paused: false } });
}
