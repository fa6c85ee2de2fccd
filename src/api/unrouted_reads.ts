/**
 * GET paths the API has no route for, answered as Patroni 4 answers them (patroni/api.py):
 *
 * - RestApiHandler.parse_request routes a request by the first segment of its path, so
 *   GET /cluster/ or /cluster/anything is GET /cluster: `readUnder` registers a read route for
 *   the path and every path under it;
 * - any other GET (and HEAD, OPTIONS) falls to do_GET, the health check, which picks its check by
 *   substrings of the path ("/replica-x" is /replica, "/x/leader" is /leader) and answers 503 when
 *   none matches — a load balancer probing a mistyped path sees the node down, never a 404 it
 *   may count as up.
 *
 * Only reads: a change to a path without a route is still a 404 that says so (edge.ts notFound).
 */
import type { FastifyInstance, RouteHandlerMethod } from "fastify";
import type { HealthCheck } from "./health_checks.js";

/** Registers GET `path` and GET `path/*` (fastify's wildcard: "/cluster/" and "/cluster/x/y"). */
export function readUnder(app: FastifyInstance, path: string, handler: RouteHandlerMethod): void {
  app.get(path, handler);
  app.get(`${path}/*`, handler);
}

/**
 * The check do_GET runs for a path no route names, in its order: standby leader, leader, primary
 * (and the legacy "master"), replica, read-only (but not the sync or quorum ones), health. Null
 * when no substring matches: the answer is 503. The exact paths (/sync, /async, /quorum …) have
 * routes of their own (routes_health.ts), so they never come here.
 */
export function healthCheckOfPath(path: string): HealthCheck | null {
  if (path.includes("standby_leader") || path.includes("standby-leader")) return "standbyLeader";
  if (path.includes("leader")) return "leader";
  if (path.includes("master") || path.includes("primary") || path.includes("read-write")) return "primary";
  if (path.includes("replica")) return "replica";
  if (path.includes("read-only") && !path.includes("sync") && !path.includes("quorum")) return "readOnly";
  if (path.includes("health")) return "health";
  return null;
}
