/**
 * Actions on this node's PostgreSQL (patroni-behaviour.md §1.4): POST /restart (now or scheduled,
 * with Patroni's filters), DELETE /restart, POST /reload, POST /reinitialize. The node carries
 * them out; the API checks the request and says what happened.
 *
 * Unlike Patroni, a refusal the node's state explains (filters not met: 412; busy, the primary
 * asked to reinitialize, a schedule in pause: 409) is a 4xx: a 5xx means an outage or a failed
 * action, never something the client asked for.
 */
import type { FastifyInstance } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import { type BodySchema, noKeys, parseBool, readBody, rule } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, sendError, sendMessage } from "./errors.js";
import { unknownMemberProblem } from "./known_members.js";
import type { NodeFailure } from "./node_api.js";
import { parseRestartRequest, RESTART_SCHEMA, restartMismatch, type RestartFilters } from "./restart_request.js";

/** POST /reinitialize: Patroni's force and from_leader (its docs spell it from-leader), raftgres's from. */
const REINITIALIZE_SCHEMA: BodySchema = {
  route: "POST /reinitialize",
  optional: true,
  fields: { force: rule.patroniBool, from_leader: rule.patroniBool, "from-leader": rule.patroniBool, from: rule.memberName(false) },
};

/** The node's refusal or failure, as the API answers it. */
function nodeFailure(what: string, failure: NodeFailure): ApiError {
  const message = `${what}: ${failure.message}`;
  switch (failure.code) {
    case "busy":
    case "refused":
      return apiError("conflict", message);
    case "unavailable":
      return apiError("dcsUnavailable", message);
    case "failed":
      return apiError("actionFailed", message);
  }
}

/** Restarts now if the filters match; the status and sentence for the operator. */
export async function restartNow(ctx: ApiContext, filters: RestartFilters): Promise<{ status: number; message: string } | ApiError> {
  const mismatch = restartMismatch(filters, ctx.node.local());
  if (mismatch !== null) return apiError("notPossible", `restart conditions are not satisfied: ${mismatch}`);
  const done = await ctx.node.restart({ timeoutMs: filters.timeoutMs });
  return E.isRight(done) ? { status: 200, message: done.right } : nodeFailure("restart failed", done.left);
}

function registerRestartRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post("/restart", async (request, reply) => {
    const body = readBody(request.body, RESTART_SCHEMA);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const filters = parseRestartRequest(body.right, Date.now());
    if (E.isLeft(filters)) return sendError(reply, filters.left);
    if (filters.right.scheduleMs !== null) {
      if (ctx.node.view()?.paused === true) return sendError(reply, apiError("conflict", "Can't schedule restart in the paused state"));
      if (!ctx.restarts.schedule(filters.right, filters.right.scheduleMs)) {
        return sendError(reply, apiError("conflict", `Another restart is already scheduled (at ${ctx.restarts.view()?.schedule ?? "?"}); delete it first`));
      }
      ctx.logger.info({ author: authorOf(request), at: new Date(filters.right.scheduleMs).toISOString() }, "a restart was scheduled");
      return sendMessage(reply, 202, "Restart scheduled");
    }
    ctx.logger.info({ author: authorOf(request), body: body.right }, "restart requested");
    const outcome = await restartNow(ctx, filters.right);
    return "code" in outcome ? sendError(reply, outcome) : sendMessage(reply, outcome.status, outcome.message);
  });

  app.delete("/restart", async (request, reply) => {
    const body = readBody(request.body, noKeys("DELETE /restart"));
    if (E.isLeft(body)) return sendError(reply, body.left);
    if (!ctx.restarts.cancel()) return sendError(reply, apiError("notFound", "no restarts are scheduled"));
    ctx.logger.info({ author: authorOf(request) }, "the scheduled restart was deleted");
    return sendMessage(reply, 200, "scheduled restart deleted");
  });
}

export function registerActionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { node } = ctx;
  registerRestartRoutes(app, ctx);

  app.post("/reload", async (request, reply) => {
    const body = readBody(request.body, noKeys("POST /reload"));
    if (E.isLeft(body)) return sendError(reply, body.left);
    ctx.logger.info({ author: authorOf(request) }, "reload requested");
    const done = await node.reload();
    return E.isRight(done) ? sendMessage(reply, 202, done.right) : sendError(reply, nodeFailure("reload failed", done.left));
  });

  app.post("/reinitialize", async (request, reply) => {
    const body = readBody(request.body, REINITIALIZE_SCHEMA);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const force = parseBool(body.right["force"] ?? false) === true;
    const fromLeader = parseBool(body.right["from_leader"] ?? body.right["from-leader"] ?? false) === true;
    const from = typeof body.right["from"] === "string" ? body.right["from"] : null;
    if (from !== null && fromLeader) return sendError(reply, apiError("badRequest", "from and from_leader exclude each other"));
    if (from === node.name) return sendError(reply, apiError("badRequest", `from names ${node.name} itself: name another member to clone from`));
    const unknown = from === null ? null : unknownMemberProblem(node.view(), "from", from);
    if (unknown !== null) return sendError(reply, apiError("badRequest", unknown));
    ctx.logger.info({ author: authorOf(request), force, fromLeader, from }, "reinitialize requested");
    const done = await node.reinitialize({ force, fromLeader, from });
    return E.isRight(done) ? sendMessage(reply, 200, "reinitialize started") : sendError(reply, nodeFailure("reinitialize refused", done.left));
  });
}
