/**
 * The dynamic configuration (compare-and-set on its version, merge patch or whole replacement),
 * the synchronous standby set (set by the primary only) and the primary history (timelines only
 * move forward).
 */
import * as E from "fp-ts/lib/Either.js";
import type { Command } from "./commands.js";
import type { DecideContext, Decision } from "./decide_context.js";
import { demotionProblem, splitDemoteDirective } from "./demote_cluster.js";
import { haTimingProblems } from "./ha_timing.js";
import { canonicalJson, isJsonObject, type JsonObject } from "./json.js";
import { CONFIG_JSON_BOUNDS, jsonBoundsProblem } from "./json_bounds.js";
import { diffAsMergePatch, mergePatch } from "./merge_patch.js";
import { rejection } from "./rejection.js";
import { promotedFromStandbySince, standbyClusterProblem } from "./standby_cluster.js";
import { syncModeProblem } from "./sync_mode.js";

/**
 * `postgresql`, when set, is an object, and its `parameters`, when set, an object of strings,
 * numbers and booleans. Which parameters exist and which values they take is checked at the
 * edges (the REST API and node.yml, against PostgreSQL 15's catalogue), never here: the rules
 * must decide identically on every node and on every version that replays the log, and a
 * catalogue changes with PostgreSQL's and our versions.
 */
function postgresqlProblem(config: JsonObject): string | null {
  const section = config["postgresql"];
  if (section === undefined || section === null) return null;
  if (!isJsonObject(section)) return `postgresql must be an object (such as {"parameters": {"work_mem": "16MB"}}), got ${JSON.stringify(section).slice(0, 80)}`;
  const parameters = section["parameters"];
  if (parameters === undefined || parameters === null) return null;
  if (!isJsonObject(parameters)) return `postgresql.parameters must be an object of parameter names and values, got ${JSON.stringify(parameters).slice(0, 80)}`;
  for (const [name, value] of Object.entries(parameters)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      return `postgresql.parameters.${name.slice(0, 63)} must be a string, a number or a boolean, got ${JSON.stringify(value).slice(0, 80)}`;
    }
  }
  return null;
}

/**
 * Settings the DCS and the HA loop read must have sane values, whatever else the config holds:
 * the HA timings as Patroni 3.1+ checks them (ha_timing.ts, every problem in one sentence), the
 * postgresql section's shape, the synchronous mode and the standby cluster section.
 */
function settingProblem(config: JsonObject): string | null {
  const timing = haTimingProblems(config);
  if (timing.length > 0) return timing.join("; ");
  return postgresqlProblem(config) ?? syncModeProblem(config) ?? standbyClusterProblem(config);
}

export function decideConfig(ctx: DecideContext, command: Extract<Command, { kind: "setConfig" }>): Decision {
  const current = ctx.scope.config;
  if (command.expectedVersion !== null && command.expectedVersion !== current.version) {
    return E.left(rejection("versionConflict", `the config of ${ctx.scope.scope} is at version ${current.version}, not ${command.expectedVersion}: reload it and apply the change again`));
  }
  // demote-cluster's directive is the operation's, not the config's (demote_cluster.ts).
  const { change, demote } = splitDemoteDirective(command.value);
  const next = command.mode === "replace" ? change : mergePatch(current.value, change);
  if (!isJsonObject(next)) return E.left(rejection("invalid", "the resulting config is not a JSON object"));
  // The command's value kept the bounds (command_bounds.ts); a merge can still add up keys, and
  // a config stored before the bounds existed may break them: the state keeps them either way.
  const bounds = jsonBoundsProblem(next, CONFIG_JSON_BOUNDS, "the resulting config");
  if (bounds !== null) return E.left(rejection("invalid", bounds));
  const problem = settingProblem(next);
  if (problem !== null) return E.left(rejection("invalid", problem));
  const demotion = demotionProblem(ctx.scope, ctx.nowMs, current.value, next, demote);
  if (demotion !== null) return E.left(demotion);
  const bytes = canonicalJson(next).length;
  if (bytes > ctx.state.limits.configBytesMax) return E.left(rejection("limitReached", `the config would be ${bytes} bytes, above the limit of ${ctx.state.limits.configBytesMax}`));
  const patch = diffAsMergePatch(current.value, next);
  if (Object.keys(patch).length === 0) return E.right([]);
  return E.right([{ kind: "configChanged", version: current.version + 1, config: next, patch, author: ctx.author }]);
}

export function decideSyncState(ctx: DecideContext, command: Extract<Command, { kind: "setSyncState" }>): Decision {
  const { scope } = ctx;
  if (command.expectedVersion !== null && command.expectedVersion !== scope.sync.version) {
    return E.left(rejection("versionConflict", `the synchronous state of ${scope.scope} is at version ${scope.sync.version}, not ${command.expectedVersion}`));
  }
  const lease = scope.lease;
  if (command.leader !== null && (lease === null || lease.holder !== command.leader || lease.expiresAtMs <= ctx.nowMs)) {
    return E.left(rejection("notLeaseHolder", `only the primary sets the synchronous standbys; ${command.leader} does not hold the lease`));
  }
  const standbys = new Set(command.standbys);
  if (standbys.size !== command.standbys.length) return E.left(rejection("invalid", "a synchronous standby is listed twice"));
  for (const standby of command.standbys) {
    if (!scope.members.has(standby)) return E.left(rejection("unknownMember", `synchronous standby ${standby} is not a member of ${scope.scope}`));
    if (standby === command.leader) return E.left(rejection("invalid", `${standby} is the primary; it cannot be its own synchronous standby`));
  }
  if (command.quorum > command.standbys.length) return E.left(rejection("invalid", `a quorum of ${command.quorum} needs at least as many standbys, not ${command.standbys.length}`));
  return E.right([{ kind: "syncStateChanged", sync: { version: scope.sync.version + 1, leader: command.leader, standbys: [...command.standbys].sort(), quorum: command.quorum } }]);
}

export function decideTimeline(ctx: DecideContext, command: Extract<Command, { kind: "recordTimeline" }>): Decision {
  const last = ctx.scope.primaryHistory[ctx.scope.primaryHistory.length - 1];
  // The first timeline after promote-cluster continues the remote's history, not the one on
  // record (a cluster demoted by demote-cluster was rewound onto the remote's timelines, whose
  // numbers may be lower): it starts a new line of the history, whatever its number.
  const newLine = command.reason === "manual" && last !== undefined && promotedFromStandbySince(ctx.scope.configHistory, last.atMs);
  if (last !== undefined && command.timeline <= last.timeline && !newLine) {
    return E.left(rejection("timelineNotNewer", `timeline ${command.timeline} is not after the last recorded timeline ${last.timeline}`));
  }
  if (command.parent !== undefined && command.parent >= command.timeline) {
    return E.left(rejection("invalid", `timeline ${command.timeline} cannot branch off timeline ${command.parent}: a parent comes before its child`));
  }
  const parent = command.parent === undefined ? {} : { parent: command.parent };
  return E.right([{
    kind: "timelineRecorded",
    change: { timeline: command.timeline, ...parent, lsn: command.lsn, atMs: ctx.nowMs, reason: command.reason, newPrimary: command.newPrimary },
  }]);
}
