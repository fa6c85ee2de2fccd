/**
 * The dynamic configuration (patroni-behaviour.md §1.4): GET /config; PATCH /config, a JSON merge
 * patch (RFC 7396) applied with compare-and-set on the version just read, so a concurrent change
 * answers 409 and changes nothing; PUT /config, the whole config.
 *
 * GET /config carries the version as its ETag; PATCH and PUT honour If-Match with it, so an
 * editor's read-modify-write loses to a concurrent change instead of overwriting it.
 *
 * `pause` is not stored in the config: the cluster state has its own pause (setPause). As with
 * patronictl, clients write it through the config (`{"pause": true}`) and read it back there; the
 * config change and the pause change are two commands, the config first.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as E from "fp-ts/lib/Either.js";
import type { JsonObject } from "../dcs/json.js";
import type { ScopeView } from "../dcs/views.js";
import { type BodySchema, readBody, shown } from "./body.js";
import { checkConfigChange } from "./config_check.js";
import { authorOf, type ApiContext } from "./context.js";
import { apiError, type ApiError, fromDcsFailure, sendError } from "./errors.js";
import type { NodeApi } from "./node_api.js";
import { readUnder } from "./unrouted_reads.js";

/** The config as clients see it: the stored value, with `pause` when the cluster is paused. */
export function visibleConfig(view: ScopeView): JsonObject {
  return view.paused ? { ...view.config.value, pause: true } : { ...view.config.value };
}

/** The version an If-Match header names ("7", W/"7" or 7), null for none or "*". */
function ifMatchVersion(request: FastifyRequest): E.Either<ApiError, number | null> {
  const header = request.headers["if-match"];
  if (header === undefined || header.trim() === "*") return E.right(null);
  const match = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (match === null || match[1]!.length > 15) return E.left(apiError("badRequest", `If-Match ${shown(header)} is not a config version (use the ETag of GET /config)`));
  return E.right(Number(match[1]));
}

/** Splits `pause` off a body; its new value (undefined: unchanged), or a refusal. */
function splitPause(body: JsonObject, replace: boolean): E.Either<ApiError, { config: JsonObject; pause: boolean | undefined }> {
  const { pause, ...config } = body;
  if (pause !== undefined && pause !== null && typeof pause !== "boolean") {
    return E.left(apiError("badRequest", `pause must be true, false or null, not ${shown(pause)}`));
  }
  // In a merge patch null deletes the key (resume); a replacement without it resumes too.
  const value = pause === undefined ? (replace ? false : undefined) : pause === true;
  return E.right({ config, pause: value });
}

async function applyPause(ctx: ApiContext, request: FastifyRequest, view: ScopeView | null, paused: boolean | undefined): Promise<ApiError | null> {
  if (paused === undefined || view?.paused === paused) return null;
  const done = await ctx.node.execute({ kind: "setPause", paused }, authorOf(request));
  return E.isLeft(done) ? fromDcsFailure(done.left, `the config was written but ${paused ? "pause" : "resume"} was not`) : null;
}

const CONFIG_BODY = (mode: "patch" | "replace"): BodySchema => ({ route: `${mode === "patch" ? "PATCH" : "PUT"} /config`, optional: false, fields: "open" });

/** The change's problems (config_check.ts) as one answer: 413 over the size, else 400 with all of them. */
function configProblem(view: ScopeView, change: JsonObject, mode: "patch" | "replace", node: NodeApi): ApiError | null {
  const verdict = checkConfigChange(view.config.value, change, mode, (parameters) => node.postgresParameterProblems(parameters));
  if (verdict.ok) return null;
  const message = `the config was not changed: ${verdict.problems.join("; ")}`;
  return apiError(verdict.tooLarge ? "payloadTooLarge" : "badRequest", message);
}

async function writeConfig(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, mode: "patch" | "replace"): Promise<FastifyReply> {
  const { node } = ctx;
  const body = readBody(request.body, CONFIG_BODY(mode));
  if (E.isLeft(body)) return sendError(reply, body.left);
  const split = splitPause(body.right, mode === "replace");
  if (E.isLeft(split)) return sendError(reply, split.left);
  const ifMatch = ifMatchVersion(request);
  if (E.isLeft(ifMatch)) return sendError(reply, ifMatch.left);
  const read = await node.readView();
  if (E.isLeft(read)) return sendError(reply, apiError("dcsUnavailable", `cannot read the config to change it: ${read.left.message}`));
  const view = read.right;
  if (view === null) return sendError(reply, apiError(mode === "patch" ? "dcsUnavailable" : "noClusterState", `the cluster state holds no config for scope ${node.scope}: it was never initialized`));
  const problem = configProblem(view, split.right.config, mode, node);
  if (problem !== null) return sendError(reply, problem);
  // PATCH is always conditional (on the version just read, or the client's); PUT only when asked.
  const expectedVersion = ifMatch.right ?? (mode === "patch" ? view.config.version : null);
  const changesConfig = mode === "replace" || Object.keys(split.right.config).length > 0;
  if (changesConfig) {
    const done = await node.execute({ kind: "setConfig", expectedVersion, mode, value: split.right.config }, authorOf(request));
    if (E.isLeft(done)) {
      const error = fromDcsFailure(done.left, `the config was not changed (read at version ${view.config.version})`);
      // Patroni answers 502 when a PUT's write itself fails.
      return sendError(reply, mode === "replace" && error.code === "dcsUnavailable" ? { ...error, status: 502 } : error);
    }
  } else if (expectedVersion !== null && expectedVersion !== view.config.version) {
    return sendError(reply, apiError("conflict", `the config of ${node.scope} is at version ${view.config.version}, not ${expectedVersion}: reload it and apply the change again`));
  }
  const paused = await applyPause(ctx, request, view, split.right.pause);
  if (paused !== null) return sendError(reply, paused);
  node.wake();
  ctx.logger.info({ mode, change: body.right, author: authorOf(request) }, mode === "patch" ? "the config was patched" : "the config was replaced");
  const after = node.view();
  if (after !== null) void reply.header("etag", `"${after.config.version}"`);
  return reply.code(200).send(after === null ? body.right : visibleConfig(after));
}

export function registerConfigRoutes(app: FastifyInstance, ctx: ApiContext): void {
  // ?consistent=true reads through the Raft leader (ReadIndex): never older than a change that was
  // acknowledged before the request; without it, this node's copy, as fast as it is stale.
  readUnder(app, "/config", async (request, reply) => {
    const consistent = (request.query as Record<string, unknown>)["consistent"];
    let view = ctx.node.view();
    if (consistent === "true" || consistent === "1") {
      const read = await ctx.node.readView();
      if (E.isLeft(read)) return sendError(reply, apiError("dcsUnavailable", `cannot read the config consistently: ${read.left.message}`));
      view = read.right;
    }
    if (view === null) return sendError(reply, apiError("noClusterState", `the cluster state holds no config for scope ${ctx.node.scope}: it was never initialized`));
    return reply.code(200).header("etag", `"${view.config.version}"`).send(visibleConfig(view));
  });
  app.patch("/config", async (request, reply) => writeConfig(ctx, request, reply, "patch"));
  app.put("/config", async (request, reply) => writeConfig(ctx, request, reply, "replace"));
}
