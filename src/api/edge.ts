/**
 * What fastify and Node's HTTP server answer on their own — before or around the API's routes —
 * in the API's shape (`{error, message}`, errors.ts) with a sentence, instead of their defaults
 * ("Client Error", "Route GET:/x not found", "Unsupported Media Type"):
 *
 * - bytes that are not HTTP, headers over Node's limit, a request not received in time
 *   (Node's clientError: the socket gets one raw answer and is closed);
 * - a path with a malformed %-escape, a path parameter over fastify's length limit;
 * - no route for the method and path;
 * - errors of the body parser (over the size limit, a Content-Type that is not a media type, a
 *   Content-Length that does not match), and anything else a route throws, which is a bug.
 *
 * Only a bug is a 5xx here: whatever a client sends is a 4xx that says what to fix.
 */
import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../lib/logger.js";
import { shown } from "./body.js";
import { apiError, type ApiError, sendError } from "./errors.js";

/** A request must arrive whole (headers and body) within this; the answer may take longer. */
export const API_REQUEST_RECEIVE_MS_MAX = 30_000;

function clientErrorAnswer(code: string | undefined): ApiError {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return apiError("requestTimeout", `the request was not received whole within ${API_REQUEST_RECEIVE_MS_MAX / 1000} s`);
  if (code === "HPE_HEADER_OVERFLOW") return apiError("headersTooLarge", `the request line and headers are over ${maxHeaderSize} bytes, the limit`);
  return apiError("badRequest", `the request is not valid HTTP/1.1 (${code ?? "unreadable"}): check the request line, the headers and Content-Length`);
}

/** Node's clientError: answers once on the raw socket, then closes it (as fastify's default does). */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const answer = clientErrorAnswer(error.code);
  const body = JSON.stringify({ error: answer.code, message: answer.message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ""}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** The path of a request as sentences show it, cut. */
function pathOf(url: string): string {
  const path = url.split("?")[0] ?? url;
  return path.length > 100 ? `${path.slice(0, 100)}…` : path;
}

/** fastify's frameworkErrors: a path it cannot route. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = shown(pathOf(request.raw.url ?? ""));
  if (error.code === "FST_ERR_BAD_URL") return sendError(reply, apiError("badRequest", `the path ${path} is not a valid URL: a %-escape is malformed`));
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") return sendError(reply, apiError("uriTooLong", `a name in the path ${path} is over 100 characters, the limit`));
  return sendError(reply, apiError("badRequest", `the request for ${path} was refused: ${error.message}`));
}

export function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const where = `${request.method} ${pathOf(request.url)}`;
  return sendError(reply, apiError("notFound", `there is no route ${shown(where)}: the REST API's routes are listed in the README (GET /patroni, /cluster, /config; PATCH /config; POST /switchover …)`));
}

/** How much of a refused request's body is read and dropped before its connection is closed. */
export const REFUSED_BODY_DRAIN_BYTES_MAX = 16 * 1024 * 1024;

/**
 * A body refused before it was read whole (over the limit, unparseable) is read to its end and
 * dropped, and the connection kept, instead of fastify's Connection: close. Closing a socket with
 * unread bytes makes the kernel reset it, and a client still sending its body then loses the
 * answer ("fetch failed" instead of 413). A body declared or found to be over
 * REFUSED_BODY_DRAIN_BYTES_MAX is not worth reading: that connection is closed at once; the
 * server's request timeout bounds a client that sends slowly.
 */
function lingerOnRefusedBody(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (raw.complete || raw.destroyed) return;
  const declared = Number(request.headers["content-length"] ?? 0);
  if (!(declared <= REFUSED_BODY_DRAIN_BYTES_MAX)) return;
  reply.removeHeader("connection");
  let dropped = 0;
  raw.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > REFUSED_BODY_DRAIN_BYTES_MAX) raw.socket.destroy();
  });
  raw.on("error", () => {});
  raw.resume();
}

/** The API plugin's error handler: the body parser's refusals in sentences; anything else is a bug. */
export function errorHandler(logger: Logger, bodyBytesMax: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    lingerOnRefusedBody(request, reply);
    const status = error.statusCode ?? 500;
    if (status === 413 || error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return sendError(reply, apiError("payloadTooLarge", `the request body is over ${bodyBytesMax} bytes, the limit`));
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || status === 415) {
      return sendError(reply, apiError("unsupportedMediaType", `the Content-Type header ${shown(request.headers["content-type"] ?? "")} is not a media type: send application/json`));
    }
    if (error.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH") return sendError(reply, apiError("badRequest", "the Content-Length header does not match the body that was sent"));
    if (status >= 400 && status < 500) return sendError(reply, { ...apiError("badRequest", `the request was refused before it reached its route: ${error.message}`), status });
    logger.error({ method: request.method, url: pathOf(request.url), error: error.stack ?? error.message }, "a REST API request failed: this is a bug");
    return sendError(reply, apiError("internal", `the request failed inside raftgres (a bug, logged): ${error.message}`));
  };
}

const READS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * An onSend hook: a change the API answered with a 5xx (the Raft group unreachable, an action
 * that failed) is logged with its sentence, so an outage seen by clients is seen in the log too.
 * Reads are not (a health check answers 503 by design); bugs are logged by the error handler.
 */
export function serverErrorLog(logger: Logger) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (reply.statusCode < 500 || READS.has(request.method) || typeof payload !== "string") return payload;
    let body: { error?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      // Not the API's shape (a forwarded answer): logged with its status only.
    }
    if (body.error === "internal") return payload;
    logger.warn({ method: request.method, url: pathOf(request.url), status: reply.statusCode, error: body.error }, `answered ${reply.statusCode}: ${typeof body.message === "string" ? body.message : "(no message)"}`);
    return payload;
  };
}
