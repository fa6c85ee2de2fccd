/**
 * Membership changes must be proposed on the Raft leader (src/raft Raft.proposeConfChange). A
 * request that reaches another node is forwarded to the leader's REST API — its api_url in the
 * leader's member record, since a Raft node id is its member name — with the caller's
 * credentials, and the leader's answer is passed back as it is. A forwarded request is never
 * forwarded again: if the leadership moved meanwhile, the caller is told to retry.
 *
 * The leader's certificate is verified as any HTTPS client would; a leader without a member
 * record (a witness runs no REST API) or that cannot be reached gets a 503 naming where to go.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiContext } from "./context.js";
import { apiError, sendError } from "./errors.js";

/** Set on a forwarded request to the name of the node that forwarded it. */
export const FORWARDED_BY_HEADER = "x-raftgres-forwarded-by";

/**
 * null when this node is the Raft leader and must run the request itself; otherwise the reply
 * already sent (the leader's answer, or why it could not be reached).
 */
export async function forwardToLeader(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, timeoutMs: number): Promise<FastifyReply | null> {
  const raft = ctx.node.raftMembers();
  if (raft.role === "leader") return null;
  const self = ctx.node.name;
  if (raft.leader === null) return sendError(reply, apiError("dcsUnavailable", `no Raft leader is known on ${self} right now (an election may be in progress); retry shortly`));
  const forwardedBy = request.headers[FORWARDED_BY_HEADER];
  if (forwardedBy !== undefined) {
    return sendError(reply, apiError("dcsUnavailable", `${self} received this request from ${String(forwardedBy)} as the Raft leader, but the leader is now ${raft.leader}: retry`));
  }
  const leaderUrl = ctx.node.view()?.members.find((m) => m.name === raft.leader)?.apiUrl ?? "";
  if (leaderUrl === "") {
    return sendError(reply, apiError("dcsUnavailable", `membership changes run on the Raft leader, ${raft.leader}, and it publishes no REST API (a witness?): transfer the Raft leadership to a database node first (POST /raft/transfer)`));
  }
  const url = new URL(request.url, leaderUrl.endsWith("/") ? leaderUrl : `${leaderUrl}/`);
  const headers: Record<string, string> = { [FORWARDED_BY_HEADER]: self, accept: "application/json" };
  if (request.headers.authorization !== undefined) headers["authorization"] = request.headers.authorization;
  const body = typeof request.body === "string" && request.body !== "" ? request.body : undefined;
  if (body !== undefined) headers["content-type"] = "application/json";
  ctx.logger.info({ method: request.method, url: request.url, leader: raft.leader, to: url.origin }, "forwarding a Raft membership request to the Raft leader");
  try {
    const answer = await fetch(url, { method: request.method, headers, signal: AbortSignal.timeout(timeoutMs), ...(body === undefined ? {} : { body }) });
    const text = await answer.text();
    return reply.code(answer.status).header("content-type", answer.headers.get("content-type") ?? "application/json").send(text);
  } catch (error: unknown) {
    const why = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError") ? `no answer within ${timeoutMs} ms` : describe(error);
    return sendError(reply, apiError("dcsUnavailable", `membership changes run on the Raft leader, ${raft.leader}, and ${self} cannot forward this request to it at ${url.origin} (${why}): send it there`));
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}
