/**
 * What every route file receives: the node, the logger, the timings of the switchover poll and
 * the restart schedule.
 */
import type { FastifyRequest } from "fastify";
import type { Logger } from "../lib/logger.js";
import { requestUser } from "./auth.js";
import type { NodeApi } from "./node_api.js";
import type { RestartSchedule } from "./restart_schedule.js";

export interface ApiTiming {
  /** How long POST /switchover waits for the new primary; null: 2 × max(10, loop_wait) s (Patroni). */
  readonly switchoverWaitMs: number | null;
  /** How often it looks at the cluster state meanwhile. */
  readonly pollIntervalMs: number;
  /** How long POST /raft/members waits for a new learner to catch up before promoting it. */
  readonly raftCatchUpWaitMs: number;
  /** How long POST /raft/transfer waits for the Raft leadership to move. */
  readonly raftTransferWaitMs: number;
}

export const DEFAULT_TIMING: ApiTiming = { switchoverWaitMs: null, pollIntervalMs: 250, raftCatchUpWaitMs: 30_000, raftTransferWaitMs: 10_000 };

export interface ApiContext {
  readonly node: NodeApi;
  readonly logger: Logger;
  readonly timing: ApiTiming;
  readonly restarts: RestartSchedule;
}

/** The author recorded with a command: "api:<user>" when the request authenticated, else "api". */
export function authorOf(request: FastifyRequest): string {
  const user = requestUser(request);
  return user === null || user === "" ? "api" : `api:${user}`;
}
