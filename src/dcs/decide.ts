/**
 * The rules: a command, checked against the current state at the time of its log entry, becomes
 * events or a rejection. Deterministic — every node decides the same way from the same log — so
 * time is the entry's time (stamped by the Raft leader, never decreasing), never a local clock.
 */
import * as E from "fp-ts/lib/Either.js";
import { assertNever } from "../lib/assert.js";
import { isoTime } from "../lib/iso_time.js";
import type { Command, CommandEnvelope } from "./commands.js";
import { decideConfig, decideSyncState, decideTimeline } from "./decide_config.js";
import { decideLease } from "./decide_lease.js";
import { decideFailover, decideSwitchover } from "./decide_switchover.js";
import type { DecideContext, Decision } from "./decide_context.js";
import { type DcsState, emptyScope, type MemberName } from "./model.js";
import { rejection } from "./rejection.js";

export type { DecideContext, Decision } from "./decide_context.js";

const NONE: Decision = E.right([]);

export function decide(state: DcsState, envelope: CommandEnvelope, nowMs: number): Decision {
  const existing = state.scopes.get(envelope.scope);
  if (existing === undefined && state.scopes.size >= state.limits.scopesMax) {
    return E.left(rejection("limitReached", `this DCS already serves ${state.scopes.size} scopes, its limit; scope ${envelope.scope} cannot be added`));
  }
  const ctx: DecideContext = { scope: existing ?? emptyScope(envelope.scope), author: envelope.author, nowMs, state };
  return decideCommand(ctx, envelope.command);
}

function decideCommand(ctx: DecideContext, command: Command): Decision {
  switch (command.kind) {
    case "initializeCluster":
      return decideInitialize(ctx, command.member, command.systemId);
    case "upsertMember":
      return decideUpsert(ctx, command);
    case "removeMember":
      return decideRemove(ctx, command.name);
    case "acquireLease":
    case "renewLease":
    case "releaseLease":
    case "fenceLease":
      return decideLease(ctx, command);
    case "setConfig":
      return decideConfig(ctx, command);
    case "requestSwitchover":
      return decideSwitchover(ctx, command);
    case "requestFailover":
      return decideFailover(ctx, command);
    case "cancelSwitchover":
      return ctx.scope.pending === null
        ? E.left(rejection("noSwitchoverPending", `no switchover or failover is pending in ${ctx.scope.scope}`))
        : E.right([{ kind: "switchoverCancelled", by: ctx.author }]);
    case "setSyncState":
      return decideSyncState(ctx, command);
    case "recordTimeline":
      return decideTimeline(ctx, command);
    case "setPause":
      return ctx.scope.paused === command.paused ? NONE : E.right([{ kind: "pauseChanged", paused: command.paused, by: ctx.author }]);
    case "setMaintenance": {
      if (!ctx.scope.members.has(command.member)) return E.left(rejection("unknownMember", `${command.member} is not a member of ${ctx.scope.scope}`));
      return ctx.scope.maintenance.has(command.member) === command.on ? NONE : E.right([{ kind: "maintenanceChanged", member: command.member, on: command.on }]);
    }
    default:
      return assertNever(command, "command");
  }
}

/**
 * Exactly one member bootstraps a cluster: the first to initialize it. It records the system id
 * after initdb; the same request again is accepted and changes nothing (a retry after a lost
 * answer).
 */
function decideInitialize(ctx: DecideContext, member: MemberName, systemId: string): Decision {
  const init = ctx.scope.initialization;
  if (init === null) return E.right([{ kind: "clusterInitialized", by: member, systemId }]);
  if (init.by === member && init.systemId === systemId) return NONE;
  if (init.by === member && init.systemId === "" && systemId !== "") return E.right([{ kind: "systemIdRecorded", systemId }]);
  const id = init.systemId === "" ? "its bootstrap is still running" : `system id ${init.systemId}`;
  return E.left(rejection("alreadyInitialized", `${ctx.scope.scope} was initialized by ${init.by} (${id})`));
}

function decideUpsert(ctx: DecideContext, command: Extract<Command, { kind: "upsertMember" }>): Decision {
  const { status } = command;
  if (ctx.author !== status.name) return E.left(rejection("notAuthor", `${ctx.author} cannot report the status of ${status.name}: members report only their own`));
  if (!ctx.scope.members.has(status.name) && ctx.scope.members.size >= ctx.state.limits.membersPerScopeMax) {
    return E.left(rejection("limitReached", `${ctx.scope.scope} already has ${ctx.scope.members.size} members, its limit`));
  }
  return E.right([{ kind: "memberUpdated", status }]);
}

function decideRemove(ctx: DecideContext, name: MemberName): Decision {
  if (!ctx.scope.members.has(name)) return E.left(rejection("unknownMember", `${name} is not a member of ${ctx.scope.scope}`));
  const lease = ctx.scope.lease;
  if (lease?.holder === name && lease.expiresAtMs > ctx.nowMs) {
    return E.left(rejection("leaseHeld", `${name} holds the leader lease (until ${isoTime(lease.expiresAtMs)}); switch over or stop it first`));
  }
  return E.right([{ kind: "memberRemoved", name }]);
}
