/**
 * Status and monitoring (patroni-behaviour.md §1.3): GET /patroni, /cluster, /history, /metrics,
 * /failsafe (always 502: failsafe mode is off).
 * /cluster reads the cluster state linearizably; when the Raft group cannot be reached it shows
 * this node's applied state, marked stale, because an operator needs the picture most then.
 * This node's own row carries its pending and scheduled restart (cluster_json.ts SelfFacts).
 */
import type { FastifyInstance } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import { clusterJson, historyJson } from "./cluster_json.js";
import type { ApiContext } from "./context.js";
import { apiError, sendError } from "./errors.js";
import { METRICS_CONTENT_TYPE, metricsText } from "./metrics.js";
import { patroniStatus } from "./patroni_json.js";
import { readUnder } from "./unrouted_reads.js";

export function registerStatusRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { node } = ctx;
  readUnder(app, "/patroni", async (_request, reply) => reply.code(200).send(patroniStatus(node, node.local(), node.view(), ctx.restarts.view())));

  readUnder(app, "/cluster", async (_request, reply) => {
    const read = await node.readView();
    const view = E.isRight(read) ? read.right : node.view();
    if (view === null) return sendError(reply, apiError("noClusterState", `the cluster state holds nothing for scope ${node.scope} yet: no member has reported`));
    // A stale copy stopped at its last applied entry: judged at the wall clock, a member not heard
    // from for a ttl is shown as unknown rather than as it was when this node last heard of it.
    const nowMs = E.isRight(read) ? view.nowMs : Math.max(view.nowMs, ctx.clock());
    const self = { name: node.name, pendingRestart: node.local().pendingRestart, scheduledRestart: ctx.restarts.view() };
    const body = clusterJson(view, { nowMs, self });
    if (E.isLeft(read)) {
      body["raftgres"] = { ...(body["raftgres"] as object), stale: true, stale_reason: read.left.message };
    }
    return reply.code(200).send(body);
  });

  readUnder(app, "/history", async (_request, reply) => reply.code(200).send(historyJson(node.view()?.primaryHistory ?? [])));

  readUnder(app, "/metrics", async (_request, reply) => reply.code(200).header("content-type", METRICS_CONTENT_TYPE).send(metricsText(node, node.local(), node.view())));

  // raftgres has no failsafe mode: while the Raft group has a majority it is the only source of
  // the lease, and without one no member may hold it. Patroni answers 502 while failsafe is off.
  readUnder(app, "/failsafe", async (_request, reply) => sendError(reply, apiError("failsafeOff", "failsafe mode is off: raftgres has none, the lease is held only through a majority of the Raft group (failsafe_mode in the config is accepted and ignored)")));
}
