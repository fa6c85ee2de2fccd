/**
 * The dynamic configuration (patroni-behaviour.md §1.4): GET /config; PATCH /config, a JSON merge
 * patch (RFC 7396) applied with compare-and-set on the version just read, so a concurrent change
 * answers 409 and changes nothing; PUT /config, the whole config, unconditionally.
 */
import type { FastifyInstance } from "fastify";
import { either as E } from "fp-ts";
import { isJsonObject } from "../dcs/json.js";
import { mergePatch } from "../dcs/merge_patch.js";
import { readJsonObject } from "./body.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, fromDcsFailure, sendError } from "./errors.js";

export function registerConfigRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { node } = ctx;
  app.get("/config", async (_request, reply) => {
    const view = node.view();
    if (view === null) return sendError(reply, apiError("noClusterState", `the cluster state holds no config for scope ${node.scope}: it was never initialized`));
    return reply.code(200).send(view.config.value);
  });

  app.patch("/config", async (request, reply) => {
    const patch = readJsonObject(request.body, false);
    if (E.isLeft(patch)) return sendError(reply, patch.left);
    const read = await node.readView();
    if (E.isLeft(read)) return sendError(reply, apiError("dcsUnavailable", `cannot read the config to patch it: ${read.left.message}`));
    const view = read.right;
    if (view === null) return sendError(reply, apiError("dcsUnavailable", `the cluster state holds no config for scope ${node.scope} to patch`));
    const merged = mergePatch(view.config.value, patch.right);
    const done = await node.execute({ kind: "setConfig", expectedVersion: view.config.version, mode: "patch", value: patch.right }, authorOf(request));
    if (E.isLeft(done)) return sendError(reply, fromDcsFailure(done.left, `the config was not changed (read at version ${view.config.version})`));
    node.wake();
    const applied = node.view()?.config.value;
    ctx.logger.info({ patch: patch.right, author: authorOf(request) }, "the config was patched");
    return reply.code(200).send(applied ?? (isJsonObject(merged) ? merged : {}));
  });

  app.put("/config", async (request, reply) => {
    const config = readJsonObject(request.body, false);
    if (E.isLeft(config)) return sendError(reply, config.left);
    const done = await node.execute({ kind: "setConfig", expectedVersion: null, mode: "replace", value: config.right }, authorOf(request));
    if (E.isLeft(done)) {
      const error = fromDcsFailure(done.left, "the config was not replaced");
      // Patroni answers 502 when the write itself fails.
      return sendError(reply, error.code === "dcsUnavailable" ? { ...error, status: 502 } : error);
    }
    node.wake();
    ctx.logger.info({ author: authorOf(request) }, "the config was replaced");
    return reply.code(200).send(config.right);
  });
}
