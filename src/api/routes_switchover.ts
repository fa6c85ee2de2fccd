/**
 * Planned switchovers and forced failovers (patroni-behaviour.md §1.4, Patroni's do_POST_failover
 * and poll_failover_result): the request is validated here for what only the API knows (body
 * types, the schedule, pause), then written to the cluster state, whose rules check the leader
 * and the candidates and give a reason for every candidate refused. An unscheduled request waits
 * for the new primary, up to 2 × max(10, loop_wait) s.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import type { Command } from "../dcs/commands.js";
import type { JsonObject } from "../dcs/json.js";
import { configNumber, type MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { type BodySchema, noKeys, readBody, rule } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, fromDcsFailure, sendError, sendMessage } from "./errors.js";
import { isMember, memberList, unknownMemberProblem } from "./known_members.js";
import { parseSchedule } from "./schedule.js";
import { syncModeOf } from "../dcs/sync_mode.js";

type Action = "switchover" | "failover";

interface SwitchoverRequest {
  readonly action: Action;
  readonly leader: MemberName | null;
  readonly candidate: MemberName | null;
  readonly scheduledAtMs: number | null;
  /** A failover to a target that may be behind (body `allow_data_loss: true`). */
  readonly allowDataLoss: boolean;
}

/** Patroni's keys (member is candidate's old name); allow_data_loss is raftgres's, for a failover. */
function schema(action: Action): BodySchema {
  return {
    route: `POST /${action}`,
    optional: false,
    fields: { leader: rule.memberName(true), candidate: rule.memberName(true), member: rule.memberName(true), scheduled_at: rule.any, allow_data_loss: rule.boolean },
  };
}

/** A name the schema let through: null, "" (none) or a valid member name. */
function memberName(body: JsonObject, key: string): MemberName | null {
  const value = body[key];
  return typeof value === "string" && value !== "" ? (value as MemberName) : null;
}

const bad = (message: string): E.Either<ApiError, never> => E.left(apiError("badRequest", message));

/** Patroni's checks, in its order; `requested` is what the path asked (a failover naming a leader is a switchover). */
function validate(body: JsonObject, requested: Action, view: ScopeView | null): E.Either<ApiError, SwitchoverRequest> {
  const leader = memberName(body, "leader");
  const candidate = body["candidate"] === undefined ? memberName(body, "member") : memberName(body, "candidate");
  const paused = view?.paused ?? false;
  if (requested === "failover" && candidate === null) return bad("Failover could be performed only to a specific candidate");
  if (requested === "switchover" && leader === null) return bad("Switchover could be performed only from a specific leader");
  let scheduledAtMs: number | null = null;
  const scheduledAt = body["scheduled_at"];
  if (scheduledAt !== undefined && scheduledAt !== null && scheduledAt !== "") {
    if (requested === "failover") return bad("Failover can't be scheduled");
    if (paused) return bad("Can't schedule switchover in the paused state");
    const at = parseSchedule(scheduledAt, "switchover", Date.now());
    if (E.isLeft(at)) return at;
    scheduledAtMs = at.right;
  }
  if (paused && candidate === null) return bad("Switchover is possible only to a specific candidate in a paused state");
  const action: Action = requested === "failover" && leader !== null ? "switchover" : requested;
  if (leader !== null && leader === candidate) return bad(`Switchover target and source are the same (${leader})`);
  const allow = body["allow_data_loss"];
  if (allow === true && action !== "failover") return bad("allow_data_loss applies to a failover only; a switchover never loses data");
  return E.right({ action, leader: leader, candidate: candidate, scheduledAtMs, allowDataLoss: allow === true });
}

/** Names that are not members: Patroni's 412, listing the members it could have named. */
function membersProblem(request: SwitchoverRequest, view: ScopeView | null): ApiError | null {
  if (request.leader !== null) {
    const problem = unknownMemberProblem(view, "leader", request.leader);
    if (problem !== null) return apiError("notPossible", `leader name does not match: ${problem}`);
  }
  if (request.candidate === null || isMember(view, request.candidate)) return null;
  const reason = `${request.candidate} is not a member of the cluster`;
  return apiError("notPossible", `${title(request.action)} is not possible: ${reason} (members: ${memberList(view)})`, [{ member: request.candidate, reason }]);
}

/** In priority synchronous mode only a synchronous standby may take over in a switchover (Patroni). */
function syncProblem(request: SwitchoverRequest, view: ScopeView | null): ApiError | null {
  if (view === null || request.action !== "switchover" || request.candidate === null) return null;
  const priorityMode = syncModeOf(view.config).mode === "on";
  const sync = view.sync;
  if (!priorityMode || sync.quorum === 0 || sync.standbys.length === 0 || sync.standbys.includes(request.candidate)) return null;
  return apiError("notPossible", `candidate name does not match with sync_standby: ${request.candidate} is not a synchronous standby (synchronous standbys: ${sync.standbys.join(", ")})`, [{ member: request.candidate, reason: `${request.candidate} is not a synchronous standby` }]);
}

function commandFor(request: SwitchoverRequest): Command {
  return request.action === "failover"
    ? { kind: "requestFailover", to: request.candidate!, allowDataLoss: request.allowDataLoss }
    : { kind: "requestSwitchover", from: request.leader, to: request.candidate, scheduledAtMs: request.scheduledAtMs };
}

function liveHolder(view: ScopeView | null): MemberName | null {
  return view?.lease !== null && view?.lease !== undefined && !view.lease.expired ? view.lease.holder : null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for a new lease holder; the status and sentence of Patroni's poll_failover_result. */
async function awaitNewPrimary(ctx: ApiContext, request: SwitchoverRequest, from: MemberName | null): Promise<{ status: number; message: string } | ApiError> {
  const view = ctx.node.view();
  const waitMs = ctx.timing.switchoverWaitMs ?? 2 * Math.max(10, view === null ? 10 : configNumber(view.config, "loop_wait")) * 1000;
  const deadline = Date.now() + waitMs;
  const verb = request.action === "switchover" ? "switched" : "failed";
  while (Date.now() < deadline) {
    await sleep(ctx.timing.pollIntervalMs);
    const now = ctx.node.view();
    const holder = liveHolder(now);
    if (holder !== null && holder !== from) {
      if (request.candidate === null || request.candidate === holder) return { status: 200, message: `Successfully ${verb} over to "${holder}"` };
      return { status: 200, message: `${verb[0]!.toUpperCase()}${verb.slice(1)} over to "${holder}" instead of "${request.candidate}"` };
    }
    if (now?.pending === null) return apiError("actionFailed", `${title(request.action)} failed: the request was withdrawn and ${holder ?? "nobody"} holds the lease`);
  }
  const target = request.candidate ?? "the best candidate";
  return apiError("actionFailed", `${title(request.action)} status unknown: after ${Math.round(waitMs / 1000)} s ${from ?? "nobody"} still holds the lease; the ${request.action} to ${target} is still pending`);
}

const title = (action: Action): string => `${action[0]!.toUpperCase()}${action.slice(1)}`;

async function handle(ctx: ApiContext, httpRequest: FastifyRequest, requested: Action): Promise<{ status: number; message: string } | ApiError> {
  const body = readBody(httpRequest.body, schema(requested));
  if (E.isLeft(body)) return body.left;
  const read = await ctx.node.readView();
  if (E.isLeft(read)) return apiError("dcsUnavailable", `cannot read the cluster state: ${read.left.message}`);
  const view = read.right;
  const request = validate(body.right, requested, view);
  if (E.isLeft(request)) return request.left;
  const members = membersProblem(request.right, view);
  if (members !== null) return members;
  const sync = syncProblem(request.right, view);
  if (sync !== null) return sync;
  const from = liveHolder(view);
  const author = authorOf(httpRequest);
  ctx.logger.info({ leader: request.right.leader, candidate: request.right.candidate, scheduledAtMs: request.right.scheduledAtMs, author }, `received a ${request.right.action} request`);
  const done = await ctx.node.execute(commandFor(request.right), author);
  if (E.isLeft(done)) {
    const prefix = done.left.code === "notPrimary" ? "leader name does not match" : `${title(request.right.action)} is not possible`;
    return fromDcsFailure(done.left, prefix);
  }
  ctx.node.wake();
  if (request.right.scheduledAtMs !== null) return { status: 202, message: `${title(request.right.action)} scheduled` };
  return awaitNewPrimary(ctx, request.right, from);
}

export function registerSwitchoverRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const action of ["switchover", "failover"] as const) {
    app.post(`/${action}`, async (request, reply) => {
      const outcome = await handle(ctx, request, action);
      if ("code" in outcome) return sendError(reply, outcome);
      return sendMessage(reply, outcome.status, outcome.message);
    });
  }

  app.delete("/switchover", async (request, reply) => {
    const body = readBody(request.body, noKeys("DELETE /switchover"));
    if (E.isLeft(body)) return sendError(reply, body.left);
    const pending = ctx.node.view()?.pending ?? null;
    if (pending === null) return sendError(reply, apiError("notFound", "no switchover is scheduled"));
    const done = await ctx.node.execute({ kind: "cancelSwitchover" }, authorOf(request));
    if (E.isLeft(done)) return sendError(reply, fromDcsFailure(done.left, "the switchover was not cancelled"));
    const what = pending.scheduledAtMs === null ? `pending ${pending.kind}` : `scheduled ${pending.kind}`;
    return sendMessage(reply, 200, `${what} deleted (it was to ${pending.to ?? "the best candidate"}, requested by ${pending.requestedBy})`);
  });
}
