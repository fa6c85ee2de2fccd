/**
 * The health-check endpoints (patroni-behaviour.md §1.2): GET answers 200 or 503 with the node
 * status document; HEAD and OPTIONS answer the status alone, which is all HAProxy's
 * `option httpchk` reads. fastify derives HEAD from GET but not OPTIONS, so both are declared.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import type { ApiContext } from "./context.js";
import { notFound } from "./edge.js";
import { sendError } from "./errors.js";
import { type HealthCheck, healthCheck, liveness, parseHealthQuery, readiness } from "./health_checks.js";
import { nodeFacts } from "./node_facts.js";
import { patroniStatus } from "./patroni_json.js";
import { healthCheckOfPath } from "./unrouted_reads.js";

const CHECKS: readonly (readonly [string, HealthCheck])[] = [
  ["/", "primary"],
  ["/primary", "primary"],
  ["/read-write", "primary"],
  ["/master", "primary"],
  ["/standby-leader", "standbyLeader"],
  ["/standby_leader", "standbyLeader"],
  ["/leader", "leader"],
  ["/replica", "replica"],
  ["/read-only", "readOnly"],
  ["/sync", "sync"],
  ["/synchronous", "sync"],
  ["/async", "async"],
  ["/asynchronous", "async"],
  ["/quorum", "quorum"],
  ["/read-only-sync", "readOnlySync"],
  ["/read-only-synchronous", "readOnlySync"],
  ["/read-only-quorum", "readOnlyQuorum"],
  ["/health", "health"],
];

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/** GET with a body; HEAD and OPTIONS with the status line only. */
function declare(app: FastifyInstance, path: string, answer: (request: FastifyRequest, reply: FastifyReply, withBody: boolean) => Promise<FastifyReply>): void {
  const bare: Handler = (request, reply) => answer(request, reply, false);
  app.route({ method: "GET", url: path, exposeHeadRoute: false, handler: (request, reply) => answer(request, reply, true) });
  app.route({ method: "HEAD", url: path, handler: bare });
  app.route({ method: "OPTIONS", url: path, handler: bare });
}

/** The answer of `check`; of no check (null: a path that names none), 503 with the status document. */
function checkAnswer(ctx: ApiContext, check: HealthCheck | null) {
  return async (request: FastifyRequest, reply: FastifyReply, withBody: boolean): Promise<FastifyReply> => {
    const query = parseHealthQuery(request.query as Record<string, unknown>);
    if (E.isLeft(query)) return withBody ? sendError(reply, query.left) : reply.code(query.left.status).send();
    const local = ctx.node.local();
    const view = ctx.node.view();
    const facts = nodeFacts(ctx.node, local, view);
    const status = check !== null && healthCheck(check, facts, local, view !== null, query.right) ? 200 : 503;
    if (!withBody) return reply.code(status).send();
    return reply.code(status).send(patroniStatus(ctx.node, local, view, ctx.restarts.view()));
  };
}

/**
 * The not-found handler: a read of a path no route names is the health check its path spells
 * (unrouted_reads.ts, Patroni's do_GET); anything else is a 404.
 */
export function unroutedRequest(ctx: ApiContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (request.method !== "GET" && request.method !== "HEAD" && request.method !== "OPTIONS") return notFound(request, reply);
    const path = request.url.split("?")[0] ?? request.url;
    return checkAnswer(ctx, healthCheckOfPath(path))(request, reply, request.method === "GET");
  };
}

/** /liveness and /readiness, and every path under them (Patroni routes by the first segment). */
function declareUnder(app: FastifyInstance, path: string, answer: Parameters<typeof declare>[2]): void {
  declare(app, path, answer);
  declare(app, `${path}/*`, answer);
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  for (const [path, check] of CHECKS) declare(app, path, checkAnswer(ctx, check));
  declareUnder(app, "/liveness", async (_request, reply) => {
    const local = ctx.node.local();
    const view = ctx.node.view();
    return reply.code(liveness(nodeFacts(ctx.node, local, view), local, view) ? 200 : 503).send();
  });
  declareUnder(app, "/readiness", async (request, reply, withBody) => {
    const query = parseHealthQuery(request.query as Record<string, unknown>);
    if (E.isLeft(query)) return withBody ? sendError(reply, query.left) : reply.code(query.left.status).send();
    const local = ctx.node.local();
    const view = ctx.node.view();
    const notReady = readiness(nodeFacts(ctx.node, local, view), local, view, query.right);
    if (notReady !== null) ctx.logger.debug({ reason: notReady }, "readiness check failed");
    if (!withBody) return reply.code(notReady === null ? 200 : 503).send();
    return reply.code(notReady === null ? 200 : 503).send(notReady === null ? { ready: true } : { ready: false, reason: notReady });
  });
}
