/**
 * Commands: what a member or an operator asks of the cluster state. Each travels through the
 * Raft log as a borsh envelope (schema version, scope, author, command); every node decodes and
 * validates it against its state at apply time (decide.ts), so decoding must never throw and must
 * refuse exactly the same bytes on every node.
 *
 * Schema evolution: a new command or field gets a new variant or a new schema version; a node
 * refuses, deterministically, an envelope of a schema newer than it knows. Activating a new
 * schema therefore waits until every member runs a version that knows it.
 */
import { deserialize, field, option, serialize, variant, vec } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { assert } from "../lib/assert.js";
import { COMMAND_BYTES_MAX, CONFIG_JSON_CHARS_MAX, envelopeProblem } from "./command_bounds.js";
import { canonicalJson, type JsonObject, parseJsonObject } from "./json.js";
import {
  type Lsn,
  MEMBER_ROLES,
  MEMBER_STATES,
  type MemberName,
  type MemberStatus,
  type MemberTags,
  type PendingRestartParameter,
  type Scope,
  TIMELINE_REASONS,
  type TimelineReason,
  type WalPosition,
} from "./model.js";

export const SCHEMA_VERSION = 1;

export type Command =
  | { readonly kind: "initializeCluster"; readonly member: MemberName; readonly systemId: string }
  | { readonly kind: "upsertMember"; readonly status: MemberStatus }
  | { readonly kind: "removeMember"; readonly name: MemberName }
  | { readonly kind: "acquireLease"; readonly member: MemberName; readonly ttlMs: number; readonly position?: WalPosition }
  | { readonly kind: "renewLease"; readonly member: MemberName; readonly ttlMs: number; readonly generation: number }
  | { readonly kind: "releaseLease"; readonly member: MemberName; readonly generation: number }
  /**
   * Another member reports that the holder's own watchdog killed its PostgreSQL (a signed fence
   * report): the lease is released before its expiry, so a failover need not wait for the ttl.
   */
  | { readonly kind: "fenceLease"; readonly holder: MemberName; readonly generation: number; readonly reason: string }
  | { readonly kind: "setConfig"; readonly expectedVersion: number | null; readonly mode: "patch" | "replace"; readonly value: JsonObject }
  | { readonly kind: "requestSwitchover"; readonly from: MemberName | null; readonly to: MemberName | null; readonly scheduledAtMs: number | null }
  /** allowDataLoss: the target may be behind (lag, or not known to hold the synchronous commits). */
  | { readonly kind: "requestFailover"; readonly to: MemberName; readonly allowDataLoss: boolean }
  | { readonly kind: "cancelSwitchover" }
  | { readonly kind: "setSyncState"; readonly expectedVersion: number | null; readonly leader: MemberName | null; readonly standbys: readonly MemberName[]; readonly quorum: number }
  | { readonly kind: "recordTimeline"; readonly timeline: number; readonly parent?: number; readonly lsn: Lsn; readonly reason: TimelineReason; readonly newPrimary: MemberName }
  | { readonly kind: "setPause"; readonly paused: boolean }
  | { readonly kind: "setMaintenance"; readonly member: MemberName; readonly on: boolean }
  /**
   * Forget the envelope's scope: members, lease, config, histories, initialization (an
   * operator's `raftgres remove`; decide.ts says when it is allowed).
   */
  | { readonly kind: "removeScope" };

export type CommandKind = Command["kind"];

export interface CommandEnvelope {
  readonly scope: Scope;
  /** Who asks: a member name, or "api:<user>" / "cli:<user>" for operators. */
  readonly author: string;
  readonly command: Command;
}

// ---- wire classes ----------------------------------------------------------------------------

class WireTags {
  @field({ type: "bool" }) nofailover: boolean;
  @field({ type: "u32" }) failoverPriority: number;
  @field({ type: "bool" }) nosync: boolean;
  @field({ type: "bool" }) noloadbalance: boolean;
  @field({ type: "bool" }) clonefrom: boolean;
  @field({ type: option("string") }) replicatefrom: string | undefined;
  constructor(tags: MemberTags) {
    this.nofailover = tags.nofailover;
    this.failoverPriority = tags.failoverPriority;
    this.nosync = tags.nosync;
    this.noloadbalance = tags.noloadbalance;
    this.clonefrom = tags.clonefrom;
    this.replicatefrom = tags.replicatefrom ?? undefined;
  }
}

abstract class WireCommand {}

@variant(0)
class WireInitializeCluster extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "string" }) systemId: string;
  constructor(member: string, systemId: string) {
    super();
    this.member = member;
    this.systemId = systemId;
  }
}

@variant(1)
class WireUpsertMember extends WireCommand {
  @field({ type: "string" }) name: string;
  @field({ type: "string" }) apiUrl: string;
  @field({ type: "string" }) connUrl: string;
  @field({ type: "u8" }) role: number;
  @field({ type: "u8" }) state: number;
  @field({ type: "u32" }) timeline: number;
  @field({ type: option("u64") }) walWritten: bigint | undefined;
  @field({ type: option("u64") }) walReceived: bigint | undefined;
  @field({ type: option("u64") }) walReplayed: bigint | undefined;
  @field({ type: WireTags }) tags: WireTags;
  @field({ type: "string" }) agentVersion: string;
  constructor(status: MemberStatus) {
    super();
    this.name = status.name;
    this.apiUrl = status.apiUrl;
    this.connUrl = status.connUrl;
    this.role = MEMBER_ROLES.indexOf(status.role);
    this.state = MEMBER_STATES.indexOf(status.state);
    this.timeline = status.timeline;
    this.walWritten = status.walWritten ?? undefined;
    this.walReceived = status.walReceived ?? undefined;
    this.walReplayed = status.walReplayed ?? undefined;
    this.tags = new WireTags(status.tags);
    this.agentVersion = status.agentVersion;
  }
}

class WirePendingParameter {
  @field({ type: "string" }) name: string;
  @field({ type: "string" }) oldValue: string;
  @field({ type: "string" }) newValue: string;
  constructor(parameter: PendingRestartParameter) {
    this.name = parameter.name;
    this.oldValue = parameter.oldValue;
    this.newValue = parameter.newValue;
  }
}

/**
 * upsertMember with a pending restart (variant 1 is the same report without one): sent only
 * while a restart is pending, so a cluster without one writes exactly what older versions read.
 */
@variant(18)
class WireUpsertMemberPendingRestart extends WireCommand {
  @field({ type: "string" }) name: string;
  @field({ type: "string" }) apiUrl: string;
  @field({ type: "string" }) connUrl: string;
  @field({ type: "u8" }) role: number;
  @field({ type: "u8" }) state: number;
  @field({ type: "u32" }) timeline: number;
  @field({ type: option("u64") }) walWritten: bigint | undefined;
  @field({ type: option("u64") }) walReceived: bigint | undefined;
  @field({ type: option("u64") }) walReplayed: bigint | undefined;
  @field({ type: WireTags }) tags: WireTags;
  @field({ type: "string" }) agentVersion: string;
  @field({ type: vec(WirePendingParameter) }) pendingRestart: WirePendingParameter[];
  constructor(status: MemberStatus, pendingRestart: readonly PendingRestartParameter[]) {
    super();
    const base = new WireUpsertMember(status);
    this.name = base.name;
    this.apiUrl = base.apiUrl;
    this.connUrl = base.connUrl;
    this.role = base.role;
    this.state = base.state;
    this.timeline = base.timeline;
    this.walWritten = base.walWritten;
    this.walReceived = base.walReceived;
    this.walReplayed = base.walReplayed;
    this.tags = base.tags;
    this.agentVersion = base.agentVersion;
    this.pendingRestart = pendingRestart.map((p) => new WirePendingParameter(p));
  }
}

@variant(2)
class WireRemoveMember extends WireCommand {
  @field({ type: "string" }) name: string;
  constructor(name: string) {
    super();
    this.name = name;
  }
}

@variant(3)
class WireAcquireLease extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "u32" }) ttlMs: number;
  constructor(member: string, ttlMs: number) {
    super();
    this.member = member;
    this.ttlMs = ttlMs;
  }
}

/** acquireLease with where the candidate's WAL stands (variant 3 is the same request without it). */
@variant(17)
class WireAcquireLeaseAt extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "u32" }) ttlMs: number;
  @field({ type: "u32" }) timeline: number;
  @field({ type: "u64" }) lsn: bigint;
  constructor(member: string, ttlMs: number, position: WalPosition) {
    super();
    this.member = member;
    this.ttlMs = ttlMs;
    this.timeline = position.timeline;
    this.lsn = position.lsn;
  }
}

@variant(4)
class WireRenewLease extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "u32" }) ttlMs: number;
  @field({ type: "f64" }) generation: number;
  constructor(member: string, ttlMs: number, generation: number) {
    super();
    this.member = member;
    this.ttlMs = ttlMs;
    this.generation = generation;
  }
}

@variant(5)
class WireReleaseLease extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "f64" }) generation: number;
  constructor(member: string, generation: number) {
    super();
    this.member = member;
    this.generation = generation;
  }
}

@variant(14)
class WireFenceLease extends WireCommand {
  @field({ type: "string" }) holder: string;
  @field({ type: "f64" }) generation: number;
  @field({ type: "string" }) reason: string;
  constructor(holder: string, generation: number, reason: string) {
    super();
    this.holder = holder;
    this.generation = generation;
    this.reason = reason;
  }
}

/** requestFailover with allowDataLoss (variant 8 is the same request without it). */
@variant(15)
class WireRequestFailoverAllowingLoss extends WireCommand {
  @field({ type: "string" }) to: string;
  constructor(to: string) {
    super();
    this.to = to;
  }
}

@variant(6)
class WireSetConfig extends WireCommand {
  @field({ type: option("f64") }) expectedVersion: number | undefined;
  @field({ type: "bool" }) replace: boolean;
  @field({ type: "string" }) json: string;
  constructor(expectedVersion: number | null, replace: boolean, json: string) {
    super();
    this.expectedVersion = expectedVersion ?? undefined;
    this.replace = replace;
    this.json = json;
  }
}

@variant(7)
class WireRequestSwitchover extends WireCommand {
  @field({ type: option("string") }) from: string | undefined;
  @field({ type: option("string") }) to: string | undefined;
  @field({ type: option("f64") }) scheduledAtMs: number | undefined;
  constructor(from: string | null, to: string | null, scheduledAtMs: number | null) {
    super();
    this.from = from ?? undefined;
    this.to = to ?? undefined;
    this.scheduledAtMs = scheduledAtMs ?? undefined;
  }
}

@variant(8)
class WireRequestFailover extends WireCommand {
  @field({ type: "string" }) to: string;
  constructor(to: string) {
    super();
    this.to = to;
  }
}

@variant(9)
class WireCancelSwitchover extends WireCommand {}

@variant(10)
class WireSetSyncState extends WireCommand {
  @field({ type: option("f64") }) expectedVersion: number | undefined;
  @field({ type: option("string") }) leader: string | undefined;
  @field({ type: vec("string") }) standbys: string[];
  @field({ type: "u32" }) quorum: number;
  constructor(expectedVersion: number | null, leader: string | null, standbys: readonly string[], quorum: number) {
    super();
    this.expectedVersion = expectedVersion ?? undefined;
    this.leader = leader ?? undefined;
    this.standbys = [...standbys];
    this.quorum = quorum;
  }
}

@variant(11)
class WireRecordTimeline extends WireCommand {
  @field({ type: "u32" }) timeline: number;
  @field({ type: "u64" }) lsn: bigint;
  @field({ type: "u8" }) reason: number;
  @field({ type: "string" }) newPrimary: string;
  constructor(timeline: number, lsn: bigint, reason: TimelineReason, newPrimary: string) {
    super();
    this.timeline = timeline;
    this.lsn = lsn;
    this.reason = TIMELINE_REASONS.indexOf(reason);
    this.newPrimary = newPrimary;
  }
}

/** recordTimeline with the parent timeline (variant 11 is the same record without it). */
@variant(16)
class WireRecordTimelineWithParent extends WireCommand {
  @field({ type: "u32" }) timeline: number;
  @field({ type: "u32" }) parent: number;
  @field({ type: "u64" }) lsn: bigint;
  @field({ type: "u8" }) reason: number;
  @field({ type: "string" }) newPrimary: string;
  constructor(timeline: number, parent: number, lsn: bigint, reason: TimelineReason, newPrimary: string) {
    super();
    this.timeline = timeline;
    this.parent = parent;
    this.lsn = lsn;
    this.reason = TIMELINE_REASONS.indexOf(reason);
    this.newPrimary = newPrimary;
  }
}

@variant(12)
class WireSetPause extends WireCommand {
  @field({ type: "bool" }) paused: boolean;
  constructor(paused: boolean) {
    super();
    this.paused = paused;
  }
}

@variant(13)
class WireSetMaintenance extends WireCommand {
  @field({ type: "string" }) member: string;
  @field({ type: "bool" }) on: boolean;
  constructor(member: string, on: boolean) {
    super();
    this.member = member;
    this.on = on;
  }
}

@variant(19)
class WireRemoveScope extends WireCommand {}

class WireEnvelope {
  @field({ type: "u8" }) schemaVersion: number;
  @field({ type: "string" }) scope: string;
  @field({ type: "string" }) author: string;
  @field({ type: WireCommand }) command: WireCommand;
  constructor(scope: string, author: string, command: WireCommand) {
    this.schemaVersion = SCHEMA_VERSION;
    this.scope = scope;
    this.author = author;
    this.command = command;
  }
}

function toWire(command: Command): WireCommand {
  switch (command.kind) {
    case "initializeCluster":
      return new WireInitializeCluster(command.member, command.systemId);
    case "upsertMember":
      // Without a pending restart the older variant, which every node decodes.
      return command.status.pendingRestart === undefined ? new WireUpsertMember(command.status) : new WireUpsertMemberPendingRestart(command.status, command.status.pendingRestart);
    case "removeMember":
      return new WireRemoveMember(command.name);
    case "acquireLease":
      return command.position === undefined ? new WireAcquireLease(command.member, command.ttlMs) : new WireAcquireLeaseAt(command.member, command.ttlMs, command.position);
    case "renewLease":
      return new WireRenewLease(command.member, command.ttlMs, command.generation);
    case "releaseLease":
      return new WireReleaseLease(command.member, command.generation);
    case "fenceLease":
      return new WireFenceLease(command.holder, command.generation, command.reason);
    case "setConfig":
      return new WireSetConfig(command.expectedVersion, command.mode === "replace", canonicalJson(command.value));
    case "requestSwitchover":
      return new WireRequestSwitchover(command.from, command.to, command.scheduledAtMs);
    case "requestFailover":
      // Without the flag the older variant, which every node decodes.
      return command.allowDataLoss ? new WireRequestFailoverAllowingLoss(command.to) : new WireRequestFailover(command.to);
    case "cancelSwitchover":
      return new WireCancelSwitchover();
    case "setSyncState":
      return new WireSetSyncState(command.expectedVersion, command.leader, command.standbys, command.quorum);
    case "recordTimeline":
      return command.parent === undefined
        ? new WireRecordTimeline(command.timeline, command.lsn, command.reason, command.newPrimary)
        : new WireRecordTimelineWithParent(command.timeline, command.parent, command.lsn, command.reason, command.newPrimary);
    case "setPause":
      return new WireSetPause(command.paused);
    case "setMaintenance":
      return new WireSetMaintenance(command.member, command.on);
    case "removeScope":
      return new WireRemoveScope();
  }
}

/**
 * The envelope as bytes, or why it cannot be sent: a bound it breaks (command_bounds.ts) or a
 * config whose JSON text is too long. Never throws, whatever the envelope holds: this is how
 * client data is encoded (DcsClient.execute).
 */
export function encodeCommandChecked(envelope: CommandEnvelope): E.Either<string, Uint8Array> {
  const problem = envelopeProblem(envelope);
  if (problem !== null) return E.left(problem);
  try {
    const wire = toWire(envelope.command);
    if (wire instanceof WireSetConfig && wire.json.length > CONFIG_JSON_CHARS_MAX) {
      return E.left(`config is ${wire.json.length} characters of JSON, over the limit of ${CONFIG_JSON_CHARS_MAX}`);
    }
    const bytes = serialize(new WireEnvelope(envelope.scope, envelope.author, wire));
    if (bytes.length > COMMAND_BYTES_MAX) return E.left(`the command is ${bytes.length} bytes encoded, over the limit of ${COMMAND_BYTES_MAX}`);
    return E.right(bytes);
  } catch (error: unknown) {
    // Unreachable once the bounds hold (every field then fits its wire type); kept so that this
    // function is total.
    return E.left(`the command cannot be encoded: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The envelope as bytes, for callers whose commands are their own (not client data): a command that breaks a bound is a bug. */
export function encodeCommand(envelope: CommandEnvelope): Uint8Array {
  const encoded = encodeCommandChecked(envelope);
  assert(E.isRight(encoded), () => `encodeCommand: ${E.isLeft(encoded) ? encoded.left : ""}`);
  return encoded.right;
}

// ---- decoding --------------------------------------------------------------------------------

/** A wire value this node cannot map to a command (an unknown enum index, bad JSON). */
class Invalid extends Error {}

function pick<T>(values: readonly T[], index: number, what: string): T {
  const value = values[index];
  if (value === undefined) throw new Invalid(`unknown ${what} ${index}`);
  return value;
}

function lsn(value: bigint | undefined): Lsn | null {
  return value === undefined ? null : (value as Lsn);
}

/** Names and numbers are taken as they are here; envelopeProblem() checks them all after. */
function fromWireStatus(wire: WireUpsertMember | WireUpsertMemberPendingRestart): MemberStatus {
  const t = wire.tags;
  const status: MemberStatus = {
    name: wire.name as MemberName,
    apiUrl: wire.apiUrl,
    connUrl: wire.connUrl,
    role: pick(MEMBER_ROLES, wire.role, "member role"),
    state: pick(MEMBER_STATES, wire.state, "member state"),
    timeline: wire.timeline,
    walWritten: lsn(wire.walWritten),
    walReceived: lsn(wire.walReceived),
    walReplayed: lsn(wire.walReplayed),
    tags: {
      nofailover: t.nofailover,
      failoverPriority: t.failoverPriority,
      nosync: t.nosync,
      noloadbalance: t.noloadbalance,
      clonefrom: t.clonefrom,
      replicatefrom: (t.replicatefrom ?? null) as MemberName | null,
    },
    agentVersion: wire.agentVersion,
  };
  if (!(wire instanceof WireUpsertMemberPendingRestart)) return status;
  return { ...status, pendingRestart: wire.pendingRestart.map((p) => ({ name: p.name, oldValue: p.oldValue, newValue: p.newValue })) };
}

function fromWireConfig(wire: WireSetConfig): Command {
  // Bounded before it is parsed; JSON.parse itself is iterative (V8 keeps its own stack), and
  // the value's depth and sizes are checked, iteratively, by envelopeProblem() afterwards.
  if (wire.json.length > CONFIG_JSON_CHARS_MAX) throw new Invalid(`config is ${wire.json.length} characters of JSON, over the limit of ${CONFIG_JSON_CHARS_MAX}`);
  const parsed = parseJsonObject(wire.json);
  if (!parsed.ok) throw new Invalid(`config: ${parsed.reason}`);
  return { kind: "setConfig", expectedVersion: wire.expectedVersion ?? null, mode: wire.replace ? "replace" : "patch", value: parsed.value };
}

const name = (value: string): MemberName => value as MemberName;
const optionalName = (value: string | undefined): MemberName | null => (value === undefined ? null : (value as MemberName));

function fromWire(wire: WireCommand): Command {
  if (wire instanceof WireInitializeCluster) return { kind: "initializeCluster", member: name(wire.member), systemId: wire.systemId };
  if (wire instanceof WireUpsertMember || wire instanceof WireUpsertMemberPendingRestart) return { kind: "upsertMember", status: fromWireStatus(wire) };
  if (wire instanceof WireRemoveMember) return { kind: "removeMember", name: name(wire.name) };
  if (wire instanceof WireAcquireLease) return { kind: "acquireLease", member: name(wire.member), ttlMs: wire.ttlMs };
  if (wire instanceof WireAcquireLeaseAt) return { kind: "acquireLease", member: name(wire.member), ttlMs: wire.ttlMs, position: { timeline: wire.timeline, lsn: wire.lsn as Lsn } };
  if (wire instanceof WireRenewLease) return { kind: "renewLease", member: name(wire.member), ttlMs: wire.ttlMs, generation: wire.generation };
  if (wire instanceof WireReleaseLease) return { kind: "releaseLease", member: name(wire.member), generation: wire.generation };
  if (wire instanceof WireFenceLease) return { kind: "fenceLease", holder: name(wire.holder), generation: wire.generation, reason: wire.reason };
  if (wire instanceof WireSetConfig) return fromWireConfig(wire);
  if (wire instanceof WireRequestSwitchover) return { kind: "requestSwitchover", from: optionalName(wire.from), to: optionalName(wire.to), scheduledAtMs: wire.scheduledAtMs ?? null };
  if (wire instanceof WireRequestFailover) return { kind: "requestFailover", to: name(wire.to), allowDataLoss: false };
  if (wire instanceof WireRequestFailoverAllowingLoss) return { kind: "requestFailover", to: name(wire.to), allowDataLoss: true };
  if (wire instanceof WireCancelSwitchover) return { kind: "cancelSwitchover" };
  if (wire instanceof WireSetSyncState) {
    return { kind: "setSyncState", expectedVersion: wire.expectedVersion ?? null, leader: optionalName(wire.leader), standbys: wire.standbys.map(name), quorum: wire.quorum };
  }
  if (wire instanceof WireRecordTimeline) {
    return { kind: "recordTimeline", timeline: wire.timeline, lsn: wire.lsn as Lsn, reason: pick(TIMELINE_REASONS, wire.reason, "timeline reason"), newPrimary: name(wire.newPrimary) };
  }
  if (wire instanceof WireRecordTimelineWithParent) {
    return { kind: "recordTimeline", timeline: wire.timeline, parent: wire.parent, lsn: wire.lsn as Lsn, reason: pick(TIMELINE_REASONS, wire.reason, "timeline reason"), newPrimary: name(wire.newPrimary) };
  }
  if (wire instanceof WireSetPause) return { kind: "setPause", paused: wire.paused };
  if (wire instanceof WireSetMaintenance) return { kind: "setMaintenance", member: name(wire.member), on: wire.on };
  if (wire instanceof WireRemoveScope) return { kind: "removeScope" };
  throw new Invalid("unknown command");
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Decodes an envelope; the left side says, in words, why the bytes are not a valid command. Never
 * throws, and refuses exactly the same bytes on every node: every step is a function of the bytes
 * alone (the size, borsh, the JSON text, then every bound of command_bounds.ts), and no step
 * recurses as deep as the bytes say.
 */
export function decodeCommand(bytes: Uint8Array): E.Either<string, CommandEnvelope> {
  if (bytes.length > COMMAND_BYTES_MAX) return E.left(`invalid command: it is ${bytes.length} bytes, over the limit of ${COMMAND_BYTES_MAX}`);
  let wire: WireEnvelope;
  try {
    wire = deserialize(bytes, WireEnvelope);
  } catch (error: unknown) {
    if (bytes.length > 0 && bytes[0]! > SCHEMA_VERSION) return E.left(`command schema ${bytes[0]} is newer than this node understands (${SCHEMA_VERSION}); upgrade this node`);
    return E.left(`malformed command: ${message(error)}`);
  }
  if (wire.schemaVersion !== SCHEMA_VERSION) return E.left(`command schema ${wire.schemaVersion} is not ${SCHEMA_VERSION}; upgrade this node`);
  let envelope: CommandEnvelope;
  try {
    envelope = { scope: wire.scope as Scope, author: wire.author, command: fromWire(wire.command) };
  } catch (error: unknown) {
    return E.left(error instanceof Invalid ? `invalid command: ${error.message}` : `malformed command: ${message(error)}`);
  }
  const problem = envelopeProblem(envelope);
  return problem === null ? E.right(envelope) : E.left(`invalid command: ${problem}`);
}
