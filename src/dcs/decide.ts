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
import { isGone } from "./candidates.js";
import { configNumber, type DcsState, emptyScope, type MemberName } from "./model.js";
import { rejection } from "./rejection.js";

export type { DecideContext, Decision } from "./decide_context.js";

const NONE: Decision = E.right([]);

export function decide(state: DcsState, envelope: CommandEnvelope, nowMs: number): Decision {
  const existing = state.scopes.get(envelope.scope);
  if (existing === undefined && envelope.command.kind === "removeScope") {
    return E.left(rejection("unknownScope", `the cluster state holds nothing for scope ${envelope.scope}: there is nothing to remove`));
  }
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
    case "removeScope":
      return decideRemoveScope(ctx);
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

/**
 * `raftgres remove`: the scope's whole state goes — members, lease, config, histories, the
 * synchronous state, pause and maintenance, the initialization. Only once nothing acts on it:
 * the agents are the DCS here, and one that runs while its state goes would see a cluster never
 * initialized and adopt its data directory again as a new one (or, with an empty one, race to
 * initdb), with the default config; a primary still holding the lease would be fenced and stop.
 * So it is refused while the lease is valid and while any member has reported within the ttl
 * (isGone): every agent of the scope must be stopped first. Since no agent runs, no holder of an
 * old lease generation is about when the generations start again from 0.
 */
function decideRemoveScope(ctx: DecideContext): Decision {
  const { scope, nowMs } = ctx;
  const lease = scope.lease;
  if (lease !== null && lease.expiresAtMs > nowMs) {
    return E.left(rejection("leaseHeld", `${lease.holder} holds the leader lease of ${scope.scope} until ${isoTime(lease.expiresAtMs)}: stop the agents of ${scope.scope} first, then remove it`));
  }
  const reporting = [...scope.members.values()].filter((member) => !isGone(member, scope, nowMs)).map((member) => member.name).sort();
  if (reporting.length > 0) {
    const ttl = configNumber(scope.config, "ttl");
    const who = reporting.length === 1 ? `${reporting[0]} still reports` : `${reporting.join(", ")} still report`;
    return E.left(rejection("membersReporting", `${who} (within the ttl of ${ttl} s): stop the agents of ${scope.scope} first; an agent running when its cluster state is removed would adopt its data directory again as a new cluster`));
  }
  return E.right([{ kind: "scopeRemoved", by: ctx.author }]);
}
