/**
 * What every route file receives: the node, the logger, the timings of the switchover poll,
 * the restart schedule and the wall clock.
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
  /** Wall-clock epoch ms: what this node's stale copy of the cluster state is judged at. */
  readonly clock: () => number;
}

/** A user name the cluster state may record: one line, at most 64 characters. */
const RECORDABLE_USER = /^[^\u0000-\u001f\u007f]{1,64}$/u;

/**
 * The author recorded with a command: "api:<user>" when the request names a user, else "api".
 * Without configured credentials the name is whatever the client sent: one that is not a short
 * line is not recorded (the Raft log keeps it forever, and the cluster state refuses it).
 */
export function authorOf(request: FastifyRequest): string {
  const user = requestUser(request);
  return user === null || !RECORDABLE_USER.test(user) ? "api" : `api:${user}`;
}
