/**
 * Events: what a validated command changed. The state is the fold of them (evolve.ts). Every node
 * derives the same events from the same log, so events need not be stored; they are returned to
 * whoever executed the command, handed to subscribers, and have a borsh form for export.
 */
import { deserialize, field, option, serialize, variant, vec } from "@dao-xyz/borsh";
import { either as E } from "fp-ts";
import { canonicalJson, type JsonObject, parseJsonObject } from "./json.js";
import type { Lsn, MemberName, MemberStatus, PendingSwitchover, PrimaryChange, Scope, SyncState, TimelineReason } from "./model.js";
import { TIMELINE_REASONS } from "./model.js";

export type Event =
  | { readonly kind: "clusterInitialized"; readonly by: MemberName; readonly systemId: string }
  | { readonly kind: "systemIdRecorded"; readonly systemId: string }
  | { readonly kind: "memberUpdated"; readonly status: MemberStatus }
  | { readonly kind: "memberRemoved"; readonly name: MemberName }
  | { readonly kind: "leaseAcquired"; readonly holder: MemberName; readonly ttlMs: number; readonly expiresAtMs: number; readonly generation: number }
  | { readonly kind: "leaseRenewed"; readonly holder: MemberName; readonly ttlMs: number; readonly expiresAtMs: number; readonly generation: number }
  | { readonly kind: "leaseReleased"; readonly holder: MemberName; readonly generation: number }
  | { readonly kind: "configChanged"; readonly version: number; readonly config: JsonObject; readonly patch: JsonObject; readonly author: string }
  | { readonly kind: "switchoverRequested"; readonly pending: PendingSwitchover }
  | { readonly kind: "switchoverCancelled"; readonly by: string }
  | { readonly kind: "switchoverCleared"; readonly reason: string }
  | { readonly kind: "syncStateChanged"; readonly sync: SyncState }
  | { readonly kind: "timelineRecorded"; readonly change: PrimaryChange }
  | { readonly kind: "pauseChanged"; readonly paused: boolean; readonly by: string }
  | { readonly kind: "maintenanceChanged"; readonly member: MemberName; readonly on: boolean };

export type EventKind = Event["kind"];

/** An event with where and when it happened (the entry time of its command). */
export interface Recorded {
  readonly scope: Scope;
  readonly atMs: number;
  readonly event: Event;
}

// ---- borsh form (export) -----------------------------------------------------------------------

abstract class WireEvent {}

/** Most events have a name and a number or two; the rest carry their payload as canonical JSON. */
@variant(0)
class WireJsonEvent extends WireEvent {
  @field({ type: "string" }) kind: string;
  @field({ type: "string" }) json: string;
  constructor(kind: string, json: string) {
    super();
    this.kind = kind;
    this.json = json;
  }
}

@variant(1)
class WireLeaseEvent extends WireEvent {
  @field({ type: "string" }) kind: string;
  @field({ type: "string" }) holder: string;
  @field({ type: "u32" }) ttlMs: number;
  @field({ type: "f64" }) expiresAtMs: number;
  @field({ type: "f64" }) generation: number;
  constructor(kind: string, holder: string, ttlMs: number, expiresAtMs: number, generation: number) {
    super();
    this.kind = kind;
    this.holder = holder;
    this.ttlMs = ttlMs;
    this.expiresAtMs = expiresAtMs;
    this.generation = generation;
  }
}

@variant(2)
class WireTimelineEvent extends WireEvent {
  @field({ type: "u32" }) timeline: number;
  @field({ type: "u64" }) lsn: bigint;
  @field({ type: "f64" }) atMs: number;
  @field({ type: "u8" }) reason: number;
  @field({ type: "string" }) newPrimary: string;
  constructor(change: PrimaryChange) {
    super();
    this.timeline = change.timeline;
    this.lsn = change.lsn;
    this.atMs = change.atMs;
    this.reason = TIMELINE_REASONS.indexOf(change.reason);
    this.newPrimary = change.newPrimary;
  }
}

class WireRecorded {
  @field({ type: "string" }) scope: string;
  @field({ type: "f64" }) atMs: number;
  @field({ type: WireEvent }) event: WireEvent;
  constructor(recorded: Recorded) {
    this.scope = recorded.scope;
    this.atMs = recorded.atMs;
    this.event = toWire(recorded.event);
  }
}

class WireRecordedList {
  @field({ type: vec(WireRecorded) }) events: WireRecorded[];
  @field({ type: option("string") }) note: string | undefined;
  constructor(events: readonly Recorded[]) {
    this.events = events.map((e) => new WireRecorded(e));
    this.note = undefined;
  }
}

/** LSNs are bigints: JSON carries them as {"$bigint": "<decimal>"}. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? { $bigint: v.toString() } : v));
}

export function fromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    const big = (v as { $bigint?: unknown }).$bigint;
    return keys.length === 1 && typeof big === "string" && /^\d+$/.test(big) ? BigInt(big) : v;
  });
}

function toWire(event: Event): WireEvent {
  switch (event.kind) {
    case "leaseAcquired":
    case "leaseRenewed":
      return new WireLeaseEvent(event.kind, event.holder, event.ttlMs, event.expiresAtMs, event.generation);
    case "leaseReleased":
      return new WireLeaseEvent(event.kind, event.holder, 0, 0, event.generation);
    case "timelineRecorded":
      return new WireTimelineEvent(event.change);
    case "configChanged":
      return new WireJsonEvent(event.kind, canonicalJson({ version: event.version, config: event.config, patch: event.patch, author: event.author }));
    default: {
      const { kind, ...rest } = event;
      return new WireJsonEvent(kind, toJson(rest));
    }
  }
}

function fromWire(wire: WireEvent): Event {
  if (wire instanceof WireLeaseEvent) {
    const holder = wire.holder as MemberName;
    if (wire.kind === "leaseReleased") return { kind: "leaseReleased", holder, generation: wire.generation };
    if (wire.kind === "leaseAcquired" || wire.kind === "leaseRenewed") return { kind: wire.kind, holder, ttlMs: wire.ttlMs, expiresAtMs: wire.expiresAtMs, generation: wire.generation };
    throw new Error(`unknown lease event ${wire.kind}`);
  }
  if (wire instanceof WireTimelineEvent) {
    const reason = TIMELINE_REASONS[wire.reason] as TimelineReason | undefined;
    if (reason === undefined) throw new Error(`unknown timeline reason ${wire.reason}`);
    return { kind: "timelineRecorded", change: { timeline: wire.timeline, lsn: wire.lsn as Lsn, atMs: wire.atMs, reason, newPrimary: wire.newPrimary as MemberName } };
  }
  if (wire instanceof WireJsonEvent) {
    if (wire.kind === "configChanged") {
      const parsed = parseJsonObject(wire.json);
      if (!parsed.ok) throw new Error(parsed.reason);
      const v = parsed.value as { version: number; config: JsonObject; patch: JsonObject; author: string };
      return { kind: "configChanged", version: v.version, config: v.config, patch: v.patch, author: v.author };
    }
    return { kind: wire.kind, ...(fromJson(wire.json) as object) } as Event;
  }
  throw new Error("unknown event variant");
}

export function encodeEvents(events: readonly Recorded[]): Uint8Array {
  return serialize(new WireRecordedList(events));
}

export function decodeEvents(bytes: Uint8Array): E.Either<string, Recorded[]> {
  try {
    const list = deserialize(bytes, WireRecordedList);
    return E.right(list.events.map((e) => ({ scope: e.scope as Scope, atMs: e.atMs, event: fromWire(e.event) })));
  } catch (error: unknown) {
    return E.left(`malformed events: ${error instanceof Error ? error.message : String(error)}`);
  }
}
