/**
 * HTTP Basic authentication (RFC 7617) of the REST API: on every request that changes something
 * (PUT, POST, PATCH, DELETE) when credentials are configured, and on reads too when asked
 * (Patroni authenticates only the unsafe methods; patroni-behaviour.md §1.1). The comparison takes
 * the same time whatever the guess: both sides are hashed to equal length and compared with
 * timingSafeEqual, user and password together.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../lib/logger.js";
import { apiError, type ApiError, sendError } from "./errors.js";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const UNSAFE_METHODS: ReadonlySet<string> = new Set(["PUT", "POST", "PATCH", "DELETE"]);

export const REALM = "raftgres";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Null when `header` carries `expected`; otherwise why not. */
export function checkBasicAuth(header: string | undefined, expected: Credentials): ApiError | null {
  if (header === undefined) return apiError("unauthorized", "no Authorization header: this request needs HTTP Basic credentials");
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return apiError("unauthorized", "the Authorization header is not HTTP Basic credentials");
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? "" : decoded.slice(colon + 1);
  const userOk = timingSafeEqual(digest(username), digest(expected.username));
  const passwordOk = timingSafeEqual(digest(password), digest(expected.password));
  return userOk && passwordOk ? null : apiError("unauthorized", "not authenticated: wrong user name or password");
}

/** The user a request authenticated as (for the author of commands), or null. */
export function requestUser(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

/** An onRequest hook: refuses with 401 and a WWW-Authenticate challenge what needs credentials. */
export function authHook(credentials: Credentials | undefined, requireAuthForReads: boolean, logger: Logger) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (credentials === undefined) return undefined;
    if (!requireAuthForReads && !UNSAFE_METHODS.has(request.method)) return undefined;
    const problem = checkBasicAuth(request.headers.authorization, credentials);
    if (problem === null) return undefined;
    logger.warn({ method: request.method, url: request.url, from: request.ip }, `refused a request: ${problem.message}`);
    return sendError(reply.header("www-authenticate", `Basic realm="${REALM}"`), problem);
  };
}
