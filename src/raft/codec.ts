/**
 * Borsh encodings of the Raft vocabulary, shared by the wire (runtime/transport) and the disk
 * (runtime/log_store). Decoding never trusts its input: every decode returns an Either whose left
 * side says what was wrong, and every decoded value is checked for the invariants the core relies
 * on (known message type, valid node ids, contiguous entries, safe integers).
 *
 * Integers that can grow without bound (terms, indexes, times) are borsh u64, read back as JS
 * numbers and refused above 2^53.
 */
import { BinaryReader, BinaryWriter, deserialize, field, option, serialize, vec } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import {
  type ConfChange,
  type ConfChangeKind,
  type ConfMember,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  isValidNodeId,
  type LogIndex,
  type MemberRole,
  type Message,
  MESSAGE_TYPES,
  type NodeId,
  type Snapshot,
  type Term,
} from "./types.js";

const TWO_POW_32 = 0x1_0000_0000;

class UnsafeIntegerError extends Error {}

/** u64 on the wire, a safe JS number in memory (u64 little-endian = low u32 then high u32). */
const u64Number = {
  serialize: (value: number, writer: BinaryWriter): void => {
    writer.u32(value % TWO_POW_32);
    writer.u32(Math.floor(value / TWO_POW_32));
  },
  deserialize: (reader: BinaryReader): number => {
    const low = reader.u32();
    const high = reader.u32();
    if (high >= 0x20_0000) throw new UnsafeIntegerError("integer above 2^53");
    return high * TWO_POW_32 + low;
  },
};

const ENTRY_TYPES: readonly EntryType[] = ["normal", "config"];
const MEMBER_ROLES: readonly MemberRole[] = ["voter", "learner"];
const CONF_CHANGE_KINDS: readonly ConfChangeKind[] = ["addVoter", "addLearner", "remove"];

class WireEntry {
  @field(u64Number) term: number;
  @field(u64Number) index: number;
  @field({ type: "u8" }) type: number;
  @field(u64Number) timeMs: number;
  @field({ type: Uint8Array }) data: Uint8Array;
  constructor(entry: Entry) {
    this.term = entry.term;
    this.index = entry.index;
    this.type = ENTRY_TYPES.indexOf(entry.type);
    this.timeMs = entry.timeMs;
    this.data = entry.data;
  }
}

class WireConfMember {
  @field({ type: "string" }) id: string;
  @field({ type: "u8" }) role: number;
  @field({ type: "string" }) address: string;
  constructor(member: ConfMember) {
    this.id = member.id;
    this.role = MEMBER_ROLES.indexOf(member.role);
    this.address = member.address;
  }
}

class WireSnapshot {
  @field(u64Number) index: number;
  @field(u64Number) term: number;
  @field(u64Number) timeMs: number;
  @field({ type: vec(WireConfMember) }) members: WireConfMember[];
  @field({ type: Uint8Array }) data: Uint8Array;
  constructor(snapshot: Snapshot) {
    this.index = snapshot.meta.index;
    this.term = snapshot.meta.term;
    this.timeMs = snapshot.meta.timeMs;
    this.members = snapshot.meta.confState.members.map((m) => new WireConfMember(m));
    this.data = snapshot.data;
  }
}

class WireHardState {
  @field(u64Number) term: number;
  @field({ type: option("string") }) vote: string | undefined;
  @field(u64Number) commit: number;
  constructor(state: HardState) {
    this.term = state.term;
    this.vote = state.vote ?? undefined;
    this.commit = state.commit;
  }
}

class WireConfChange {
  @field({ type: "u8" }) kind: number;
  @field({ type: "string" }) id: string;
  @field({ type: "string" }) address: string;
  constructor(change: ConfChange) {
    this.kind = CONF_CHANGE_KINDS.indexOf(change.kind);
    this.id = change.id;
    this.address = change.address;
  }
}

class WireMessage {
  @field({ type: "u8" }) type: number;
  @field({ type: "string" }) from: string;
  @field({ type: "string" }) to: string;
  @field(u64Number) term: number;
  @field(u64Number) logTerm: number;
  @field(u64Number) index: number;
  @field(u64Number) commit: number;
  @field({ type: "bool" }) reject: boolean;
  @field(u64Number) rejectHint: number;
  @field({ type: "bool" }) force: boolean;
  @field(u64Number) context: number;
  @field({ type: option("string") }) transferTarget: string | undefined;
  @field({ type: vec(WireEntry) }) entries: WireEntry[];
  @field({ type: option(WireSnapshot) }) snapshot: WireSnapshot | undefined;
  constructor(message: Message) {
    this.type = MESSAGE_TYPES.indexOf(message.type);
    this.from = message.from;
    this.to = message.to;
    this.term = message.term;
    this.logTerm = message.logTerm;
    this.index = message.index;
    this.commit = message.commit;
    this.reject = message.reject;
    this.rejectHint = message.rejectHint;
    this.force = message.force;
    this.context = message.context;
    this.transferTarget = message.transferTarget ?? undefined;
    this.entries = message.entries.map((e) => new WireEntry(e));
    this.snapshot = message.snapshot === null ? undefined : new WireSnapshot(message.snapshot);
  }
}

/** Several messages for one peer in one transport frame. */
class WireFrame {
  @field({ type: vec(WireMessage) }) messages: WireMessage[];
  constructor(messages: readonly Message[]) {
    this.messages = messages.map((m) => new WireMessage(m));
  }
}

class DecodeError extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new DecodeError(what);
}

function toNodeId(value: string, what: string): NodeId {
  check(isValidNodeId(value), `${what}: invalid node id ${JSON.stringify(value.slice(0, 80))}`);
  return value as NodeId;
}

function fromWireEntry(wire: WireEntry): Entry {
  const type = ENTRY_TYPES[wire.type];
  check(type !== undefined, `entry ${wire.index}: unknown entry type ${wire.type}`);
  return {
    term: wire.term as Term,
    index: wire.index as LogIndex,
    type,
    timeMs: wire.timeMs,
    data: wire.data,
  };
}

/**
 * Log entries must be contiguous with positive indexes. Forwarded proposals ("propose" messages)
 * are the exception: the leader assigns their term, index and time, so they carry zeros.
 */
function fromWireEntries(wires: readonly WireEntry[], forwarded: boolean): Entry[] {
  const entries = wires.map(fromWireEntry);
  if (forwarded) {
    check(entries.every((e) => e.index === 0 && e.term === 0), "forwarded proposal with an index");
    return entries;
  }
  check(entries.every((e) => e.index > 0), "entry index 0");
  for (let i = 1; i < entries.length; i++) {
    check(entries[i]!.index === entries[i - 1]!.index + 1, "entries are not contiguous");
    check(entries[i]!.term >= entries[i - 1]!.term, "entry terms decrease");
  }
  return entries;
}

function fromWireSnapshot(wire: WireSnapshot): Snapshot {
  const members = wire.members.map((m): ConfMember => {
    const role = MEMBER_ROLES[m.role];
    check(role !== undefined, `snapshot member ${m.id}: unknown role ${m.role}`);
    return { id: toNodeId(m.id, "snapshot member"), role, address: m.address };
  });
  const confState: ConfState = { members };
  return {
    meta: { index: wire.index as LogIndex, term: wire.term as Term, timeMs: wire.timeMs, confState },
    data: wire.data,
  };
}

function fromWireMessage(wire: WireMessage): Message {
  const type = MESSAGE_TYPES[wire.type];
  check(type !== undefined, `unknown message type ${wire.type}`);
  return {
    type,
    from: toNodeId(wire.from, "message sender"),
    to: toNodeId(wire.to, "message recipient"),
    term: wire.term as Term,
    logTerm: wire.logTerm as Term,
    index: wire.index as LogIndex,
    commit: wire.commit as LogIndex,
    reject: wire.reject,
    rejectHint: wire.rejectHint as LogIndex,
    force: wire.force,
    context: wire.context,
    transferTarget: wire.transferTarget === undefined ? null : toNodeId(wire.transferTarget, "transfer target"),
    entries: fromWireEntries(wire.entries, type === "propose"),
    snapshot: wire.snapshot === undefined ? null : fromWireSnapshot(wire.snapshot),
  };
}

function decodeWith<W, T>(bytes: Uint8Array, wireClass: new (...args: never[]) => W, convert: (wire: W) => T, what: string): E.Either<string, T> {
  try {
    return E.right(convert(deserialize(bytes, wireClass)));
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return E.left(`malformed ${what} (${bytes.length} bytes): ${reason}`);
  }
}

export function encodeEntry(entry: Entry): Uint8Array {
  return serialize(new WireEntry(entry));
}

export function decodeEntry(bytes: Uint8Array): E.Either<string, Entry> {
  return decodeWith(bytes, WireEntry, (wire) => fromWireEntries([wire], false)[0]!, "entry");
}

export function encodeHardState(state: HardState): Uint8Array {
  return serialize(new WireHardState(state));
}

export function decodeHardState(bytes: Uint8Array): E.Either<string, HardState> {
  return decodeWith(bytes, WireHardState, (wire) => ({
    term: wire.term as Term,
    vote: wire.vote === undefined ? null : toNodeId(wire.vote, "vote"),
    commit: wire.commit as LogIndex,
  }), "hard state");
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  return serialize(new WireSnapshot(snapshot));
}

export function decodeSnapshot(bytes: Uint8Array): E.Either<string, Snapshot> {
  return decodeWith(bytes, WireSnapshot, fromWireSnapshot, "snapshot");
}

export function encodeConfChange(change: ConfChange): Uint8Array {
  return serialize(new WireConfChange(change));
}

export function decodeConfChange(bytes: Uint8Array): E.Either<string, ConfChange> {
  return decodeWith(bytes, WireConfChange, (wire): ConfChange => {
    const kind = CONF_CHANGE_KINDS[wire.kind];
    check(kind !== undefined, `unknown conf change kind ${wire.kind}`);
    return { kind, id: toNodeId(wire.id, "conf change"), address: wire.address };
  }, "conf change");
}

export function encodeMessage(message: Message): Uint8Array {
  return serialize(new WireMessage(message));
}

export function decodeMessage(bytes: Uint8Array): E.Either<string, Message> {
  return decodeWith(bytes, WireMessage, fromWireMessage, "message");
}

export function encodeFrame(messages: readonly Message[]): Uint8Array {
  return serialize(new WireFrame(messages));
}

export function decodeFrame(bytes: Uint8Array): E.Either<string, Message[]> {
  return decodeWith(bytes, WireFrame, (wire) => wire.messages.map(fromWireMessage), "frame");
}
