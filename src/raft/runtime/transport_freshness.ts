/**
 * Which queued message is still worth sending to a peer (issue 14). While a peer's connection
 * does not drain — a black-holed TCP connection does not close, and a partition makes every
 * redial hang until its timeout — the core keeps sending: a heartbeat every interval, a vote
 * every election. Replayed on the heal, that backlog is a burst the peer must answer and the
 * leader must then digest (one snapshot resend per ten answers, before issue 14). So the oldest
 * queued message is dropped rather than sent when
 * - it waited longer than queueMessageAgeMaxMs: Raft no longer needs it (the runtime sets the
 *   bound to the election timeout; a heartbeat, a vote, an append that old has been superseded
 *   or will be probed again), or
 * - only the newest message of its type matters and a newer one waits behind it: heartbeats and
 *   their answers (the newer carries a commit index and read round at least as high), vote and
 *   pre-vote requests (only the latest campaign counts), snapshots (the leader waits for one).
 * Appends beyond a small number are refused when queued (transport_outbound.ts enqueue); the
 * core learns of every dropped append or snapshot and probes again.
 */
import type { MessageType } from "../types.js";
import type { MessageQueue } from "./transport_queue.js";

export const LATEST_ONLY_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(["heartbeat", "heartbeatResponse", "preVote", "vote", "snapshot"]);

export type HeadVerdict = "send" | "expired" | "superseded";

/** What to do with the oldest queued message at `nowMs` (monotonic, as the queue's stamps). */
export function headVerdict(queue: MessageQueue, nowMs: number, ageMaxMs: number): HeadVerdict {
  const head = queue.peek();
  if (head === undefined) return "send";
  if (nowMs - queue.peekQueuedAtMs() > ageMaxMs) return "expired";
  if (LATEST_ONLY_TYPES.has(head.type) && queue.countOf(head.type) > 1) return "superseded";
  return "send";
}
