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

/** One line per source and interval: a client retrying a wrong password must not flood the log. */
export const FAILED_LOGIN_LOG_INTERVAL_MS = 60_000;
/** Sources remembered at once; beyond it, refusals are counted together under "other sources". */
export const FAILED_LOGIN_SOURCES_MAX = 1024;
const OTHER_SOURCES = "other sources";

interface SourceCount {
  /** When this source's last line was written. */
  loggedAtMs: number;
  /** Refusals since then that were not logged. */
  suppressed: number;
  /** The last refusal's reason, for the summary line. */
  lastReason: string;
}

/**
 * Failed logins, logged once per source address and interval: the first refusal from a source at
 * once, then at most one line per FAILED_LOGIN_LOG_INTERVAL_MS with how many were not logged
 * (written by `flush`, which the server runs every interval, or by the next refusal). At most
 * FAILED_LOGIN_SOURCES_MAX sources are remembered; beyond that they share one count.
 */
export class FailedLoginLog {
  private readonly sources = new Map<string, SourceCount>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    readonly intervalMs = FAILED_LOGIN_LOG_INTERVAL_MS,
    private readonly sourcesMax = FAILED_LOGIN_SOURCES_MAX,
  ) {}

  /** A refusal of a request from `source`. */
  refused(source: string, request: { readonly method: string; readonly url: string }, reason: string): void {
    const nowMs = this.clock();
    let key = source;
    if (!this.sources.has(key) && this.sources.size >= this.sourcesMax) {
      this.flush();
      if (this.sources.size >= this.sourcesMax) key = OTHER_SOURCES;
    }
    const count = this.sources.get(key);
    if (count === undefined) {
      this.sources.set(key, { loggedAtMs: nowMs, suppressed: 0, lastReason: reason });
      const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
      const from = key === source ? source : `${OTHER_SOURCES} (the first: ${source}; over ${this.sourcesMax} sources refused at once)`;
      this.logger.warn({ from: source, method: request.method, url }, `refused a request from ${from}: ${reason} (further refusals are counted, one line per ${this.intervalMs / 1000} s)`);
      return;
    }
    count.suppressed += 1;
    count.lastReason = reason;
    if (nowMs - count.loggedAtMs >= this.intervalMs) this.report(key, count, nowMs);
  }

  /** Writes the counts whose interval is over, and forgets sources that went quiet. */
  flush(): void {
    const nowMs = this.clock();
    for (const [source, count] of this.sources) {
      if (nowMs - count.loggedAtMs < this.intervalMs) continue;
      if (count.suppressed > 0) this.report(source, count, nowMs);
      else this.sources.delete(source);
    }
  }

  /** Sources remembered now (for tests of the bound). */
  get size(): number {
    return this.sources.size;
  }

  private report(source: string, count: SourceCount, nowMs: number): void {
    const seconds = Math.round((nowMs - count.loggedAtMs) / 1000);
    this.logger.warn({ from: source, refused: count.suppressed }, `refused ${count.suppressed} more request${count.suppressed === 1 ? "" : "s"} from ${source} in the last ${seconds} s (the last: ${count.lastReason})`);
    count.loggedAtMs = nowMs;
    count.suppressed = 0;
  }
}

/** An onRequest hook: refuses with 401 and a WWW-Authenticate challenge what needs credentials. */
export function authHook(credentials: Credentials | undefined, requireAuthForReads: boolean, failures: FailedLoginLog) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (credentials === undefined) return undefined;
    if (!requireAuthForReads && !UNSAFE_METHODS.has(request.method)) return undefined;
    const problem = checkBasicAuth(request.headers.authorization, credentials);
    if (problem === null) return undefined;
    failures.refused(request.ip, request, problem.message);
    return sendError(reply.header("www-authenticate", `Basic realm="${REALM}"`), problem);
  };
}
