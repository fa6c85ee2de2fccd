/**
 * Per-member maintenance (raftgres's own; Patroni has only the cluster-wide pause):
 * POST /members/:name/maintenance takes one member out — its agent leaves PostgreSQL alone, it is
 * never promoted nor chosen as a synchronous standby — and DELETE puts it back. Taking out the
 * primary first hands its role over with a planned switchover (to the best candidate, or to
 * `candidate` in the body) and waits for the new primary; if nobody can take over, the member
 * stays in and the answer says why.
 */
import type { FastifyInstance } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import { configNumber, isValidName, type MemberName } from "../dcs/model.js";
import type { ScopeView } from "../dcs/views.js";
import { type BodySchema, noKeys, readBody, rule, shown } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, fromDcsFailure, sendError, sendMessage } from "./errors.js";
import { unknownMemberProblem } from "./known_members.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function holder(view: ScopeView | null): MemberName | null {
  const lease = view?.lease ?? null;
  return lease !== null && !lease.expired ? lease.holder : null;
}

async function handOver(ctx: ApiContext, from: MemberName, candidate: MemberName | null, author: string): Promise<MemberName | ApiError> {
  const requested = await ctx.node.execute({ kind: "requestSwitchover", from, to: candidate, scheduledAtMs: null }, author);
  if (E.isLeft(requested)) return fromDcsFailure(requested.left, `${from} is the primary and cannot hand over before its maintenance`);
  ctx.node.wake();
  const view = ctx.node.view();
  const waitMs = ctx.timing.switchoverWaitMs ?? 2 * Math.max(10, view === null ? 10 : configNumber(view.config, "loop_wait")) * 1000;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await sleep(ctx.timing.pollIntervalMs);
    const now = holder(ctx.node.view());
    if (now !== null && now !== from) return now;
  }
  return apiError("actionFailed", `${from} did not hand over within ${Math.round(waitMs / 1000)} s; it is not in maintenance (the switchover may still be pending: raftgres list)`);
}

function schema(on: boolean): BodySchema {
  const route = `${on ? "POST" : "DELETE"} /members/:name/maintenance`;
  return on ? { route, optional: true, fields: { candidate: rule.memberName(false) } } : noKeys(route);
}

/** Why the request names no member it could act on, or null. */
function namesProblem(view: ScopeView | null, name: string, candidate: string | null): ApiError | null {
  const unknown = unknownMemberProblem(view, "member", name);
  if (unknown !== null) return apiError("notFound", unknown);
  if (candidate === null) return null;
  if (candidate === name) return apiError("badRequest", `candidate ${candidate} is the member taken out: name another member to hand over to`);
  const problem = unknownMemberProblem(view, "candidate", candidate);
  return problem === null ? null : apiError("badRequest", problem);
}

export function registerMaintenanceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const on of [true, false]) {
    const route = on ? app.post.bind(app) : app.delete.bind(app);
    route("/members/:name/maintenance", async (request, reply) => {
      const name = (request.params as { name: string }).name;
      if (!isValidName(name)) return sendError(reply, apiError("badRequest", `${shown(name)} is not a valid member name (letters, digits, '_', '.', '-', at most 63)`));
      const body = readBody(request.body, schema(on));
      if (E.isLeft(body)) return sendError(reply, body.left);
      const candidate = typeof body.right["candidate"] === "string" ? body.right["candidate"] : null;
      const read = await ctx.node.readView();
      if (E.isLeft(read)) return sendError(reply, apiError("dcsUnavailable", `cannot read the cluster state: ${read.left.message}`));
      const view = read.right;
      const problem = namesProblem(view, name, candidate);
      if (problem !== null) return sendError(reply, problem);
      const author = authorOf(request);
      let note = "";
      if (on && holder(view) === name) {
        const next = await handOver(ctx, name as MemberName, candidate as MemberName | null, author);
        if (typeof next !== "string") return sendError(reply, next);
        note = ` after switching over to ${next}`;
      }
      const done = await ctx.node.execute({ kind: "setMaintenance", member: name as MemberName, on }, author);
      if (E.isLeft(done)) return sendError(reply, fromDcsFailure(done.left, `${name} could not be ${on ? "taken out" : "put back"}`));
      ctx.node.wake();
      ctx.logger.info({ member: name, on, author }, on ? `${name} is in maintenance${note}` : `${name} is out of maintenance`);
      return sendMessage(reply, 200, on ? `${name} is in maintenance${note}: its agent leaves PostgreSQL alone and it is never promoted` : `${name} is back: its agent manages PostgreSQL again`);
    });
  }
}
