/**
 * Events: what a validated command changed. The state is the fold of them (evolve.ts). Every node
 * derives the same events from the same log, so events need not be stored; they are returned to
 * whoever executed the command, handed to subscribers, and have a borsh form for export.
 */
import { deserialize, field, option, serialize, variant, vec } from "@dao-xyz/borsh";
import * as E from "fp-ts/lib/Either.js";
import { canonicalJson, isJsonObject, type JsonObject, parseJsonObject } from "./json.js";
import { jsonBoundsProblem, STATE_JSON_BOUNDS } from "./json_bounds.js";
import type { Lsn, MemberName, MemberStatus, PendingSwitchover, PrimaryChange, Scope, SyncState, Takeover, TimelineReason } from "./model.js";
import { isValidName, TIMELINE_REASONS } from "./model.js";

export type Event =
  | { readonly kind: "clusterInitialized"; readonly by: MemberName; readonly systemId: string }
  | { readonly kind: "systemIdRecorded"; readonly systemId: string }
  | { readonly kind: "memberUpdated"; readonly status: MemberStatus }
  | { readonly kind: "memberRemoved"; readonly name: MemberName }
  | { readonly kind: "leaseAcquired"; readonly holder: MemberName; readonly ttlMs: number; readonly expiresAtMs: number; readonly generation: number }
  | { readonly kind: "leaseRenewed"; readonly holder: MemberName; readonly ttlMs: number; readonly expiresAtMs: number; readonly generation: number }
  | { readonly kind: "leaseReleased"; readonly holder: MemberName; readonly generation: number }
  | { readonly kind: "takeoverRecorded"; readonly takeover: Takeover }
  | { readonly kind: "configChanged"; readonly version: number; readonly config: JsonObject; readonly patch: JsonObject; readonly author: string }
  | { readonly kind: "switchoverRequested"; readonly pending: PendingSwitchover }
  | { readonly kind: "switchoverCancelled"; readonly by: string }
  | { readonly kind: "switchoverCleared"; readonly reason: string }
  | { readonly kind: "syncStateChanged"; readonly sync: SyncState }
  | { readonly kind: "timelineRecorded"; readonly change: PrimaryChange }
  | { readonly kind: "pauseChanged"; readonly paused: boolean; readonly by: string }
  | { readonly kind: "maintenanceChanged"; readonly member: MemberName; readonly on: boolean }
  /** The scope's whole state is gone (decide.ts decideRemoveScope); `by` asked for it. */
  | { readonly kind: "scopeRemoved"; readonly by: string };

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

/** timelineRecorded with the parent timeline (variant 2 is the same without it). */
@variant(3)
class WireTimelineWithParentEvent extends WireEvent {
  @field({ type: "u32" }) timeline: number;
  @field({ type: "u32" }) parent: number;
  @field({ type: "u64" }) lsn: bigint;
  @field({ type: "f64" }) atMs: number;
  @field({ type: "u8" }) reason: number;
  @field({ type: "string" }) newPrimary: string;
  constructor(change: PrimaryChange, parent: number) {
    super();
    this.timeline = change.timeline;
    this.parent = parent;
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

/** A {"$bigint": "<decimal>"} object's bigint, or undefined. */
function bigintOf(value: unknown): bigint | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const big = (value as { $bigint?: unknown }).$bigint;
  return Object.keys(value).length === 1 && typeof big === "string" && /^\d+$/.test(big) ? BigInt(big) : undefined;
}

/**
 * The inverse of toJson. Iterative: JSON.parse without a reviver keeps its own stack (a reviver
 * would recurse as deep as the text nests), and the {"$bigint"} objects are replaced walking an
 * explicit stack. The text is trusted for its shape, not its depth: callers bound it.
 */
export function fromJson(text: string): unknown {
  const root = JSON.parse(text) as unknown;
  const top = bigintOf(root);
  if (top !== undefined) return top;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const container = stack.pop();
    if (typeof container !== "object" || container === null) continue;
    const slots = container as Record<string, unknown>;
    for (const key of Object.keys(slots)) {
      const big = bigintOf(slots[key]);
      if (big !== undefined) slots[key] = big;
      else stack.push(slots[key]);
    }
  }
  return root;
}

function toWire(event: Event): WireEvent {
  switch (event.kind) {
    case "leaseAcquired":
    case "leaseRenewed":
      return new WireLeaseEvent(event.kind, event.holder, event.ttlMs, event.expiresAtMs, event.generation);
    case "leaseReleased":
      return new WireLeaseEvent(event.kind, event.holder, 0, 0, event.generation);
    case "timelineRecorded":
      return event.change.parent === undefined ? new WireTimelineEvent(event.change) : new WireTimelineWithParentEvent(event.change, event.change.parent);
    case "configChanged":
      return new WireJsonEvent(event.kind, canonicalJson({ version: event.version, config: event.config, patch: event.patch, author: event.author }));
    default: {
      const { kind, ...rest } = event;
      return new WireJsonEvent(kind, toJson(rest));
    }
  }
}

/** The kinds whose payload travels as JSON (WireJsonEvent). */
const JSON_EVENT_KINDS: readonly string[] = ["clusterInitialized", "systemIdRecorded", "memberUpdated", "memberRemoved", "configChanged", "switchoverRequested", "switchoverCancelled", "switchoverCleared", "syncStateChanged", "pauseChanged", "maintenanceChanged", "takeoverRecorded", "scopeRemoved"];

function checkedName(value: string, what: string): MemberName {
  if (!isValidName(value)) throw new Error(`${what} ${JSON.stringify(value.slice(0, 80))} is not a valid name`);
  return value as MemberName;
}

/** The JSON payload of an exported event: an object within the state's bounds, without a kind of its own. */
function payload(kind: string, text: string): Record<string, unknown> {
  const value = JSON.parse(text) as unknown;
  const problem = jsonBoundsProblem(value, STATE_JSON_BOUNDS, kind);
  if (problem !== null) throw new Error(problem);
  if (!isJsonObject(value) || "kind" in value) throw new Error(`the payload of ${kind} is not an object of its fields`);
  return fromJson(text) as Record<string, unknown>;
}

function fromWireJson(wire: WireJsonEvent): Event {
  if (!JSON_EVENT_KINDS.includes(wire.kind)) throw new Error(`unknown event ${JSON.stringify(wire.kind.slice(0, 40))}`);
  const fields = payload(wire.kind, wire.json);
  if (wire.kind === "configChanged") {
    const { version, config, patch, author } = fields;
    if (typeof version !== "number" || !Number.isSafeInteger(version) || !isJsonObject(config) || !isJsonObject(patch) || typeof author !== "string") {
      throw new Error("configChanged needs a version, a config, a patch and an author");
    }
    // Config values keep {"$bigint"} objects as they are: parsed again, without revival.
    const parsed = parseJsonObject(wire.json);
    if (!parsed.ok) throw new Error(parsed.reason);
    const v = parsed.value as { config: JsonObject; patch: JsonObject };
    return { kind: "configChanged", version, config: v.config, patch: v.patch, author };
  }
  return { kind: wire.kind, ...fields } as Event;
}

/**
 * Exported events are not replicated state: this decodes them for tools and tests. Hostile
 * bytes are answered as a Left by decodeEvents (everything here throws inside its try).
 */
function fromWire(wire: WireEvent): Event {
  if (wire instanceof WireLeaseEvent) {
    const holder = checkedName(wire.holder, "lease holder");
    if (wire.kind === "leaseReleased") return { kind: "leaseReleased", holder, generation: wire.generation };
    if (wire.kind === "leaseAcquired" || wire.kind === "leaseRenewed") return { kind: wire.kind, holder, ttlMs: wire.ttlMs, expiresAtMs: wire.expiresAtMs, generation: wire.generation };
    throw new Error(`unknown lease event ${JSON.stringify(wire.kind.slice(0, 40))}`);
  }
  if (wire instanceof WireTimelineEvent || wire instanceof WireTimelineWithParentEvent) {
    const reason = TIMELINE_REASONS[wire.reason] as TimelineReason | undefined;
    if (reason === undefined) throw new Error(`unknown timeline reason ${wire.reason}`);
    const parent = wire instanceof WireTimelineWithParentEvent ? { parent: wire.parent } : {};
    return { kind: "timelineRecorded", change: { timeline: wire.timeline, ...parent, lsn: wire.lsn as Lsn, atMs: wire.atMs, reason, newPrimary: checkedName(wire.newPrimary, "new primary") } };
  }
  if (wire instanceof WireJsonEvent) return fromWireJson(wire);
  throw new Error("unknown event variant");
}

export function encodeEvents(events: readonly Recorded[]): Uint8Array {
  return serialize(new WireRecordedList(events));
}

export function decodeEvents(bytes: Uint8Array): E.Either<string, Recorded[]> {
  try {
    const list = deserialize(bytes, WireRecordedList);
    return E.right(list.events.map((e) => ({ scope: checkedName(e.scope, "scope") as string as Scope, atMs: e.atMs, event: fromWire(e.event) })));
  } catch (error: unknown) {
    return E.left(`malformed events: ${error instanceof Error ? error.message : String(error)}`);
  }
}
