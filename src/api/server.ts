/**
 * The Patroni-compatible REST API as a fastify instance, not yet listening: the agent adds its
 * internal routes (e.g. POST /internal/fenced) to the same instance and then listens.
 *
 * The API's routes live in one encapsulated plugin: Basic authentication, the raw-text body
 * parser and the error handler apply to them only, so the agent's routes keep their own (fence
 * reports are verified over their exact bytes and carry their own signature). What fastify and
 * Node answer by themselves (bad HTTP, huge headers, bad paths, no route) is in edge.ts; a
 * read of a path without a route is a health check, as in Patroni (unrouted_reads.ts).
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../lib/logger.js";
import { authHook, type Credentials, FailedLoginLog } from "./auth.js";
import { type ApiContext, type ApiTiming, DEFAULT_TIMING } from "./context.js";
import { API_REQUEST_RECEIVE_MS_MAX, clientErrorHandler, errorHandler, frameworkErrors, serverErrorLog } from "./edge.js";
import type { NodeApi } from "./node_api.js";
import { RestartSchedule } from "./restart_schedule.js";
import { registerActionRoutes, restartNow } from "./routes_actions.js";
import { registerConfigRoutes } from "./routes_config.js";
import { registerHealthRoutes, unroutedRequest } from "./routes_health.js";
import { registerMaintenanceRoutes } from "./routes_maintenance.js";
import { registerRaftRoutes } from "./routes_raft.js";
import { registerRemoveRoutes } from "./routes_remove.js";
import { registerStatusRoutes } from "./routes_status.js";
import { registerSwitchoverRoutes } from "./routes_switchover.js";

/** Request bodies of the API: a config is at most 256 KiB in canonical form (DEFAULT_LIMITS). */
export const API_BODY_BYTES_MAX = 1024 * 1024;

export interface ApiServerOptions {
  readonly node: NodeApi;
  readonly logger: Logger;
  /** Basic credentials required on PUT, POST, PATCH and DELETE (and on reads, if asked). */
  readonly authentication?: Credentials;
  readonly requireAuthForReads?: boolean;
  /** Serve HTTPS with this certificate chain and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** For tests: the switchover wait and poll interval. */
  readonly timing?: Partial<ApiTiming>;
  /** For tests: the wall clock (epoch ms); Date.now by default. */
  readonly clock?: () => number;
}

function createFastify(tls: ApiServerOptions["tls"]): FastifyInstance {
  const common = { logger: false, bodyLimit: API_BODY_BYTES_MAX, requestTimeout: API_REQUEST_RECEIVE_MS_MAX, clientErrorHandler, frameworkErrors } as const;
  if (tls === undefined) return Fastify(common);
  // An HTTPS instance has other server types in fastify's generics; routes and inject are the same.
  return Fastify({ ...common, https: { cert: tls.cert, key: tls.key } }) as unknown as FastifyInstance;
}

export function buildApiServer(options: ApiServerOptions): FastifyInstance {
  const app = createFastify(options.tls);
  const logger = options.logger;
  const timing: ApiTiming = { ...DEFAULT_TIMING, ...options.timing };
  const ctx: ApiContext = {
    node: options.node,
    logger,
    timing,
    clock: options.clock ?? Date.now,
    restarts: new RestartSchedule(async (filters) => {
      const outcome = await restartNow(ctx, filters);
      if ("code" in outcome) logger.warn({ code: outcome.code }, `the scheduled restart did not happen: ${outcome.message}`);
      else logger.info({}, `the scheduled restart: ${outcome.message}`);
    }, logger),
  };
  const failedLogins = new FailedLoginLog(logger);
  const flushTimer = setInterval(() => failedLogins.flush(), failedLogins.intervalMs);
  flushTimer.unref();
  app.addHook("onClose", async () => {
    ctx.restarts.cancel();
    clearInterval(flushTimer);
    failedLogins.flush();
  });
  void app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, body));
    api.addHook("onRequest", authHook(options.authentication, options.requireAuthForReads ?? false, failedLogins));
    api.setErrorHandler(errorHandler(logger, API_BODY_BYTES_MAX));
    api.addHook("onSend", serverErrorLog(logger));
    api.setNotFoundHandler(unroutedRequest(ctx));
    registerHealthRoutes(api, ctx);
    registerStatusRoutes(api, ctx);
    registerConfigRoutes(api, ctx);
    registerSwitchoverRoutes(api, ctx);
    registerActionRoutes(api, ctx);
    registerRaftRoutes(api, ctx);
    registerMaintenanceRoutes(api, ctx);
    registerRemoveRoutes(api, ctx);
  });
  return app;
}
