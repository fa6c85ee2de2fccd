/**
 * When a heal is done, judged from PostgreSQL's facts (member samples), not from the agents:
 * - a member is back when its agent answers and its PostgreSQL is the round's primary, or is in
 *   recovery on the primary's timeline with its walreceiver streaming from the primary and the
 *   primary's walsender streaming to it (both ends, so a connection that flaps does not count);
 * - the cluster has converged when every member is back in the same round.
 * Pure.
 */
import type { MemberSample } from "./history.js";

/** One sampling round: a sample per member, all naming the same primary (or none). */
export type Round = readonly MemberSample[];

/** Why `node` is not back in this round, or null when it is. */
export function notBack(round: Round, node: string): string | null {
  const sample = round.find((s) => s.node === node);
  if (sample === undefined) return "not sampled";
  if (sample.replica === null) return "its agent does not answer";
  if (sample.facts === null) return "its PostgreSQL does not answer";
  const primary = sample.primary;
  if (primary === null || sample.primaryTimeline === null) return "no primary is clear";
  if (node === primary) return null;
  const facts = sample.facts;
  if (!facts.inRecovery) return "out of recovery, not the primary";
  if (facts.timeline !== sample.primaryTimeline) return `on timeline ${facts.timeline}, the primary on ${sample.primaryTimeline}`;
  if (facts.receiver === null || facts.receiver.status !== "streaming") return `its walreceiver is ${facts.receiver?.status ?? "absent"}`;
  if (facts.receiver.senderNode !== primary) return `it streams from ${facts.receiver.senderNode ?? "an unknown address"}, not ${primary}`;
  if (facts.receiver.timeline !== sample.primaryTimeline) return `it receives timeline ${facts.receiver.timeline}`;
  const primarySample = round.find((s) => s.node === primary);
  if (primarySample?.facts?.streaming.includes(node) !== true) return `${primary} has no walsender streaming to it`;
  return null;
}

/** Every member back in this round (and there is a primary). */
export function converged(round: Round, nodes: readonly string[]): boolean {
  return nodes.length > 0 && nodes.every((n) => notBack(round, n) === null);
}
