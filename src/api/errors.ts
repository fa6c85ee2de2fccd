/**
 * The REST API's error catalogue (shared/STYLE.md, "Errors" 3): every refusal has a code for
 * programs, Patroni's HTTP status for its clients, and a sentence that names what failed and the
 * current state. Bodies are JSON, always `{error, message, candidates?}`.
 */
import type { FastifyReply } from "fastify";
import type { DcsFailure } from "../dcs/client.js";
import type { CandidateProblem } from "../dcs/rejection.js";
import { assertNever } from "../lib/assert.js";

const STATUS = {
  /** Malformed JSON, a wrong type, an unknown filter, a same-node switchover … (Patroni: 400). */
  badRequest: 400,
  /** Missing or wrong Basic credentials. */
  unauthorized: 401,
  /** Nothing to delete (no scheduled switchover or restart), no such member, no such route. */
  notFound: 404,
  /** The request was not received whole in time. */
  requestTimeout: 408,
  /**
   * A compare-and-set lost to a concurrent change, something of the kind is already pending, or
   * the node's state refuses the action now (busy, the primary asked to reinitialize, a restart
   * scheduled in pause: Patroni answers 503 or 500 there, but no 5xx is the client's doing).
   */
  conflict: 409,
  /** The request body is over the limit. */
  payloadTooLarge: 413,
  /** A path or query over the limit. */
  uriTooLong: 414,
  /** A Content-Type header that is not a media type. */
  unsupportedMediaType: 415,
  /** The request's headers are over the limit. */
  headersTooLarge: 431,
  /**
   * A switchover or failover nobody can carry out (Patroni: 412 "no good candidates"), or a
   * restart whose conditions this node does not meet (Patroni answers 503 there; a request the
   * state refuses is not an outage).
   */
  notPossible: 412,
  /** A schedule in the past or not a time (Patroni: 422). */
  badSchedule: 422,
  /** A bug in raftgres (logged). */
  internal: 500,
  /** The cluster state holds nothing for this scope yet (Patroni: 502 for GET /config). */
  noClusterState: 502,
  /** GET /failsafe: raftgres has no failsafe mode (Patroni: 502 while failsafe_mode is off). */
  failsafeOff: 502,
  /** The Raft log could not carry the request, or its outcome is unknown. */
  dcsUnavailable: 503,
  /** The node failed an action it started (restart, …), or it did not finish in time. */
  actionFailed: 503,
} as const;

export type ApiErrorCode = keyof typeof STATUS;

export interface ApiError {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly message: string;
  readonly candidates?: readonly CandidateProblem[];
}

export function apiError(code: ApiErrorCode, message: string, candidates?: readonly CandidateProblem[]): ApiError {
  const status = STATUS[code];
  return candidates === undefined ? { code, status, message } : { code, status, message, candidates };
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  const body = error.candidates === undefined
    ? { error: error.code, message: error.message }
    : { error: error.code, message: error.message, candidates: error.candidates };
  return reply.code(error.status).send(body);
}

/** Success bodies are JSON too: `{message}`. */
export function sendMessage(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ message });
}

/** A refusal of the cluster state, as the API answers it; `action` says what was asked. */
export function fromDcsFailure(failure: DcsFailure, action: string): ApiError {
  const message = `${action}: ${failure.message}`;
  const code = failure.code;
  switch (code) {
    case "unavailable":
    case "outcomeUnknown":
      return apiError("dcsUnavailable", message);
    case "versionConflict":
    case "switchoverPending":
    case "leaseHeld":
    case "membersReporting":
      return apiError("conflict", message);
    case "limitReached":
      return apiError("payloadTooLarge", message);
    case "noPrimary":
    case "notPrimary":
    case "alreadyPrimary":
    case "noCandidate":
    case "offHistory":
      return apiError("notPossible", message, failure.candidates);
    case "noSwitchoverPending":
    case "unknownScope":
      return apiError("notFound", message);
    case "notInitialized":
      return apiError("noClusterState", message);
    case "internal":
      return apiError("internal", message);
    case "invalid":
    case "alreadyInitialized":
    case "unknownMember":
    case "notAuthor":
    case "notLeaseHolder":
    case "staleGeneration":
    case "leaseExpired":
    case "timelineNotNewer":
      return apiError("badRequest", message);
    default:
      return assertNever(code, "rejection code");
  }
}
