/**
 * The fold: each event changes the projections of its scope. Deterministic and total — an event
 * decide() produced always applies — and bounded: histories keep their last `historyMax` entries.
 * The state is mutated in place (replaying a million events must be fast); callers that need the
 * old state keep a copy (snapshot.ts clones through the snapshot encoding).
 *
 * Because the fold mutates, a decision of several events must not stop half-way: the state
 * machine asks decisionFoldProblem() first, which walks the decision's events over the few
 * fields evolve's assertions read (no copy of the state), so the assertions below cannot fire
 * on a decision that passed it. Both use eventFoldProblem(), so they cannot drift apart.
 */
import { assert, assertNever } from "../lib/assert.js";
import type { Event } from "./events.js";
import type { DcsState, MemberName, MemberRecord, MemberStatus, Scope, ScopeState } from "./model.js";
import { emptyScope } from "./model.js";

/** The fields of a scope that evolve's assertions read. ScopeState is one. */
interface FoldView {
  readonly initialization: object | null;
  readonly leaseGeneration: number;
  readonly lease: { readonly holder: MemberName; readonly generation: number } | null;
  readonly config: { readonly version: number };
}

const EMPTY_VIEW: FoldView = { initialization: null, leaseGeneration: 0, lease: null, config: { version: 0 } };

/** Why folding `event` into a scope that looks like `view` would break an assertion of evolve(), or null. */
export function eventFoldProblem(view: FoldView, event: Event): string | null {
  switch (event.kind) {
    case "clusterInitialized":
      return view.initialization === null ? null : "initialized twice";
    case "systemIdRecorded":
      return view.initialization !== null ? null : "system id before initialization";
    case "leaseAcquired":
      return event.generation > view.leaseGeneration ? null : `lease generations only grow (${event.generation} after ${view.leaseGeneration})`;
    case "leaseRenewed": {
      const lease = view.lease;
      return lease !== null && lease.holder === event.holder && lease.generation === event.generation ? null : "renewing a lease that is not held";
    }
    case "configChanged":
      return event.version === view.config.version + 1 ? null : `config versions grow by one (${event.version} after ${view.config.version})`;
    case "takeoverRecorded": {
      const lease = view.lease;
      return lease !== null && lease.holder === event.takeover.holder && lease.generation === event.takeover.generation ? null : "a takeover point without its grant";
    }
    default:
      return null;
  }
}

/** `view` after `event`, as far as eventFoldProblem() looks. */
function foldedView(view: FoldView, event: Event): FoldView {
  switch (event.kind) {
    case "clusterInitialized":
      return { ...view, initialization: {} };
    case "leaseAcquired":
      return { ...view, leaseGeneration: event.generation, lease: { holder: event.holder, generation: event.generation } };
    case "leaseReleased":
      return { ...view, lease: null };
    case "configChanged":
      return { ...view, config: { version: event.version } };
    default:
      return view;
  }
}

/**
 * Why the events of one decision cannot all be folded into `scopeName`, in order, or null when
 * they can: checked before the first is folded, so a decision folds whole or not at all.
 */
export function decisionFoldProblem(state: DcsState, scopeName: Scope, events: readonly Event[]): string | null {
  const scope = state.scopes.get(scopeName);
  if (scope === undefined && state.scopes.size >= state.limits.scopesMax) return `scope ${scopeName} would be one over the limit of ${state.limits.scopesMax}`;
  let view: FoldView = scope ?? EMPTY_VIEW;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const problem = eventFoldProblem(view, event);
    if (problem !== null) return `event ${i + 1} of ${events.length} (${event.kind}): ${problem}`;
    if (i + 1 < events.length) view = foldedView(view, event);
  }
  return null;
}

export function scopeFor(state: DcsState, scope: Scope): ScopeState {
  let existing = state.scopes.get(scope);
  if (existing === undefined) {
    existing = emptyScope(scope);
    state.scopes.set(scope, existing);
  }
  return existing;
}

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/**
 * Field by field, not by spread: one object shape for every record, and the hot path of replay.
 * A pending restart is the one field present only while it applies (snapshot.ts writes it only
 * then, so a snapshot without one is what older versions read).
 */
function memberRecord(status: MemberStatus, lastSeenMs: number): MemberRecord {
  const record: MemberRecord = {
    name: status.name,
    apiUrl: status.apiUrl,
    connUrl: status.connUrl,
    role: status.role,
    state: status.state,
    timeline: status.timeline,
    walWritten: status.walWritten,
    walReceived: status.walReceived,
    walReplayed: status.walReplayed,
    tags: status.tags,
    agentVersion: status.agentVersion,
    lastSeenMs,
  };
  return status.pendingRestart === undefined ? record : { ...record, pendingRestart: status.pendingRestart };
}

export function evolve(state: DcsState, scopeName: Scope, event: Event, atMs: number): void {
  if (event.kind === "scopeRemoved") {
    // Everything of the scope goes, its lease generation too: a scope of that name later is a
    // new cluster (decide.ts says why no holder of an old generation can be about then).
    state.scopes.delete(scopeName);
    return;
  }
  const scope = scopeFor(state, scopeName);
  const max = state.limits.historyMax;
  switch (event.kind) {
    case "clusterInitialized":
      assert(eventFoldProblem(scope, event) === null, "initialized twice");
      scope.initialization = { by: event.by, systemId: event.systemId, atMs };
      return;
    case "systemIdRecorded":
      assert(eventFoldProblem(scope, event) === null && scope.initialization !== null, "system id before initialization");
      scope.initialization = { ...scope.initialization, systemId: event.systemId };
      return;
    case "memberUpdated": {
      scope.members.set(event.status.name, memberRecord(event.status, atMs));
      return;
    }
    case "memberRemoved":
      scope.members.delete(event.name);
      scope.maintenance.delete(event.name);
      return;
    case "leaseAcquired":
      assert(eventFoldProblem(scope, event) === null, "lease generations only grow");
      scope.leaseGeneration = event.generation;
      scope.lease = { holder: event.holder, acquiredAtMs: atMs, renewedAtMs: atMs, ttlMs: event.ttlMs, expiresAtMs: event.expiresAtMs, generation: event.generation };
      // A grant whose holder did not say where its WAL stood leaves no takeover point.
      scope.takeover = null;
      return;
    case "takeoverRecorded":
      assert(eventFoldProblem(scope, event) === null, "a takeover point follows its grant");
      scope.takeover = event.takeover;
      return;
    case "leaseRenewed":
      assert(eventFoldProblem(scope, event) === null && scope.lease !== null, "renewing a lease that is not held");
      scope.lease = { ...scope.lease, renewedAtMs: atMs, ttlMs: event.ttlMs, expiresAtMs: event.expiresAtMs };
      return;
    case "leaseReleased":
      scope.lease = null;
      return;
    case "configChanged":
      assert(eventFoldProblem(scope, event) === null, "config versions grow by one");
      scope.config = { version: event.version, value: event.config };
      pushBounded(scope.configHistory, { version: event.version, author: event.author, atMs, patch: event.patch }, max);
      return;
    case "switchoverRequested":
      scope.pending = event.pending;
      return;
    case "switchoverCancelled":
    case "switchoverCleared":
      scope.pending = null;
      return;
    case "syncStateChanged":
      scope.sync = event.sync;
      return;
    case "timelineRecorded":
      pushBounded(scope.primaryHistory, event.change, max);
      // The holder recorded where it promoted: the exact fork replaces the takeover's bound.
      if (scope.takeover !== null && event.change.newPrimary === scope.takeover.holder && event.change.timeline > scope.takeover.timeline) scope.takeover = null;
      return;
    case "pauseChanged":
      scope.paused = event.paused;
      return;
    case "maintenanceChanged":
      if (event.on) scope.maintenance.add(event.member);
      else scope.maintenance.delete(event.member);
      return;
    default:
      assertNever(event, "event");
  }
}
