/**
 * Actions on this node's PostgreSQL (patroni-behaviour.md §1.4): POST /restart (now or scheduled,
 * with Patroni's filters), DELETE /restart, POST /reload, POST /reinitialize. The node carries
 * them out; the API checks the request and says what happened.
 */
import type { FastifyInstance } from "fastify";
import { either as E } from "fp-ts";
import { parseBool, readJsonObject } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, sendError, sendMessage } from "./errors.js";
import type { NodeFailure } from "./node_api.js";
import { parseRestartRequest, restartMismatch, type RestartFilters } from "./restart_request.js";

const failed = (what: string, failure: NodeFailure): ApiError => apiError("actionFailed", `${what}: ${failure.message}`);

/** Restarts now if the filters match; the status and sentence for the operator. */
export async function restartNow(ctx: ApiContext, filters: RestartFilters): Promise<{ status: number; message: string } | ApiError> {
  const mismatch = restartMismatch(filters, ctx.node.local());
  if (mismatch !== null) return apiError("actionFailed", `restart conditions are not satisfied: ${mismatch}`);
  const done = await ctx.node.restart({ timeoutMs: filters.timeoutMs });
  return E.isRight(done) ? { status: 200, message: done.right } : failed("restart failed", done.left);
}

export function registerActionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { node } = ctx;
  app.post("/restart", async (request, reply) => {
    const body = readJsonObject(request.body, true);
    if (E.isLeft(body)) return sendError(reply, body.left);
    if (node.view()?.paused === true && body.right["schedule"] !== undefined) {
      return sendError(reply, apiError("paused", "Can't schedule restart in the paused state"));
    }
    const filters = parseRestartRequest(body.right, Date.now());
    if (E.isLeft(filters)) return sendError(reply, filters.left);
    if (filters.right.scheduleMs !== null) {
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
    if (!ctx.restarts.cancel()) return sendError(reply, apiError("notFound", "no restarts are scheduled"));
    ctx.logger.info({ author: authorOf(request) }, "the scheduled restart was deleted");
    return sendMessage(reply, 200, "scheduled restart deleted");
  });

  app.post("/reload", async (request, reply) => {
    ctx.logger.info({ author: authorOf(request) }, "reload requested");
    const done = await node.reload();
    return E.isRight(done) ? sendMessage(reply, 202, done.right) : sendError(reply, failed("reload failed", done.left));
  });

  app.post("/reinitialize", async (request, reply) => {
    const body = readJsonObject(request.body, true);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const force = parseBool(body.right["force"] ?? false);
    const fromLeader = parseBool(body.right["from_leader"] ?? body.right["from-leader"] ?? false);
    if (force === null || fromLeader === null) return sendError(reply, apiError("badRequest", "force and from_leader must be true or false"));
    const from = body.right["from"] ?? null;
    if (from !== null && (typeof from !== "string" || from === "")) return sendError(reply, apiError("badRequest", `from must name the member to clone from, not ${JSON.stringify(from)}`));
    if (from !== null && fromLeader) return sendError(reply, apiError("badRequest", "from and from_leader exclude each other"));
    ctx.logger.info({ author: authorOf(request), force, fromLeader, from }, "reinitialize requested");
    const done = await node.reinitialize({ force, fromLeader, from });
    return E.isRight(done) ? sendMessage(reply, 200, "reinitialize started") : sendError(reply, failed("reinitialize refused", done.left));
  });
}
