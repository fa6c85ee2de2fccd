/**
 * The fold: each event changes the projections of its scope. Deterministic and total — an event
 * decide() produced always applies — and bounded: histories keep their last `historyMax` entries.
 * The state is mutated in place (replaying a million events must be fast); callers that need the
 * old state keep a copy (snapshot.ts clones through the snapshot encoding).
 */
import { assert, assertNever } from "../lib/assert.js";
import type { Event } from "./events.js";
import type { DcsState, MemberRecord, MemberStatus, Scope, ScopeState } from "./model.js";
import { emptyScope } from "./model.js";

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

/** Field by field, not by spread: one object shape for every record, and the hot path of replay. */
function memberRecord(status: MemberStatus, lastSeenMs: number): MemberRecord {
  return {
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
}

export function evolve(state: DcsState, scopeName: Scope, event: Event, atMs: number): void {
  const scope = scopeFor(state, scopeName);
  const max = state.limits.historyMax;
  switch (event.kind) {
    case "clusterInitialized":
      assert(scope.initialization === null, "initialized twice");
      scope.initialization = { by: event.by, systemId: event.systemId, atMs };
      return;
    case "systemIdRecorded":
      assert(scope.initialization !== null, "system id before initialization");
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
      assert(event.generation > scope.leaseGeneration, "lease generations only grow");
      scope.leaseGeneration = event.generation;
      scope.lease = { holder: event.holder, acquiredAtMs: atMs, renewedAtMs: atMs, ttlMs: event.ttlMs, expiresAtMs: event.expiresAtMs, generation: event.generation };
      return;
    case "leaseRenewed":
      assert(scope.lease !== null && scope.lease.holder === event.holder && scope.lease.generation === event.generation, "renewing a lease that is not held");
      scope.lease = { ...scope.lease, renewedAtMs: atMs, ttlMs: event.ttlMs, expiresAtMs: event.expiresAtMs };
      return;
    case "leaseReleased":
      scope.lease = null;
      return;
    case "configChanged":
      assert(event.version === scope.config.version + 1, "config versions grow by one");
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
