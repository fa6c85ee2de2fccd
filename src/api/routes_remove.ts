/**
 * DELETE /cluster: `raftgres remove`, patronictl's remove — the whole cluster state of a scope
 * goes (members, lease, dynamic config, histories, initialization). Patroni has no REST route for
 * it (patronictl deletes the keys from the DCS itself); here the DCS is the Raft log the agents
 * share, so any agent of the Raft group carries the request, for its own scope or another the
 * group serves. The body names the cluster, `{"cluster": "<scope>"}`, so that a request sent to
 * the wrong node or with the wrong name removes nothing by accident.
 *
 * The cluster state refuses it while the scope's lease is valid or any of its members reported
 * within the ttl (src/dcs/decide.ts decideRemoveScope): every agent of the scope must be stopped
 * first, so the scope of the answering node itself is always refused.
 */
import type { FastifyInstance } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import { isValidName, type Scope } from "../dcs/model.js";
import { type BodySchema, type FieldRule, readBody, shown } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, fromDcsFailure, sendError, sendMessage } from "./errors.js";

const clusterName: FieldRule = (value, key) => {
  if (typeof value !== "string") return `${key} must be the cluster's name (its scope, a string), not ${shown(value)}`;
  return isValidName(value) ? null : `${key} ${shown(value)} is not a valid cluster name (letters, digits, '_', '.', '-', at most 63)`;
};

const REMOVE_SCHEMA: BodySchema = { route: "DELETE /cluster", optional: false, fields: { cluster: clusterName } };

export function registerRemoveRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.delete("/cluster", async (request, reply) => {
    const body = readBody(request.body, REMOVE_SCHEMA);
    if (E.isLeft(body)) return sendError(reply, body.left);
    const scope = body.right["cluster"];
    if (typeof scope !== "string") return sendError(reply, apiError("badRequest", `DELETE /cluster refused: the body must name the cluster to remove, {"cluster": "<scope>"} (this node serves ${ctx.node.scope})`));
    const author = authorOf(request);
    const done = await ctx.node.executeIn(scope as Scope, { kind: "removeScope" }, author);
    if (E.isLeft(done)) return sendError(reply, fromDcsFailure(done.left, `the cluster state of ${scope} was not removed`));
    ctx.logger.warn({ scope, author }, `the cluster state of ${scope} was removed by ${author}`);
    return sendMessage(reply, 200, `the cluster state of ${scope} was removed: its members, lease, config and histories are gone; an agent started for ${scope} forms a new cluster, from its data directory if it has one`);
  });
}
