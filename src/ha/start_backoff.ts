/**
 * Starts of PostgreSQL that fail back off. A start fails in a fraction of a second when the
 * server refuses its configuration, and every cycle used to decide a new one — cycles run on
 * every change, so a member retried 5–16 times a second (issue 12). The failures are facts in
 * the HA memory (how many in a row, when the last one was, PostgreSQL's own reason), and the
 * rules decide on them: the next start waits START_BACKOFF_FIRST_MS, doubling with each failure
 * up to START_BACKOFF_MAX_MS; a start that has run START_LASTED_MS clears them. Pure.
 */
import { assert } from "../lib/assert.js";
import type { Action, PostgresAction } from "./actions.js";
import { decision } from "./facts.js";
import type { HaDecision, HaInput, StartFailure } from "./input.js";

export type { StartFailure };

export const START_BACKOFF_FIRST_MS = 1_000;
export const START_BACKOFF_MAX_MS = 60_000;
/** A start that ran this long without exiting clears the failures before it. */
export const START_LASTED_MS = 30_000;
/** The reason kept (PostgreSQL's FATAL lines): enough for a sentence, bounded. */
export const START_REASON_CHARS_MAX = 2_000;

assert(START_BACKOFF_FIRST_MS <= START_BACKOFF_MAX_MS, "the first wait is the shortest");
assert(START_LASTED_MS >= START_BACKOFF_MAX_MS / 2, "a start lasts longer than a flapping one");

/** How long the start after `failures` failures in a row waits: 1 s, 2 s, 4 s … 60 s. */
export function startBackoffMs(failures: number): number {
  assert(Number.isInteger(failures) && failures >= 1, () => `a backoff follows a failure, got ${failures}`);
  return Math.min(START_BACKOFF_MAX_MS, START_BACKOFF_FIRST_MS * 2 ** Math.min(failures - 1, 30));
}

/** Milliseconds before a start may begin; 0 when nothing holds it back. */
export function startWaitLeftMs(failure: StartFailure | null, nowMs: number): number {
  if (failure === null || failure.runningSinceMs !== null) return 0;
  return Math.max(0, failure.atMs + startBackoffMs(failure.failures) - nowMs);
}

/** PostgreSQL is down after failed starts: the member's state is "start failed". */
export function startFailed(failure: StartFailure | null): boolean {
  return failure !== null && failure.runningSinceMs === null;
}

/** A failed start as the REST API shows it; null when the last start succeeded. */
export function startFailureOf(failure: StartFailure | null, nowMs: number): { reason: string; failures: number; nextStartInMs: number } | null {
  if (failure === null || !startFailed(failure)) return null;
  return { reason: failure.reason, failures: failure.failures, nextStartInMs: startWaitLeftMs(failure, nowMs) };
}

/** The memory after a failed start (or an exit soon after a start). */
export function afterStartFailure(previous: StartFailure | null, reason: string, nowMs: number): StartFailure {
  assert(reason.length > 0, "a failed start says why");
  assert(previous === null || previous.atMs <= nowMs, "failures come in time order");
  const kept = reason.length > START_REASON_CHARS_MAX ? `${reason.slice(0, START_REASON_CHARS_MAX - 1)}…` : reason;
  return { failures: (previous?.failures ?? 0) + 1, atMs: nowMs, reason: kept, runningSinceMs: null };
}

/** The memory after an observation: running marks the recovery, running long enough clears it. */
export function afterObservation(failure: StartFailure | null, running: boolean, nowMs: number): StartFailure | null {
  if (failure === null || !running) return failure;
  if (failure.runningSinceMs === null) return { ...failure, runningSinceMs: nowMs };
  return nowMs - failure.runningSinceMs >= START_LASTED_MS ? null : failure;
}

/** An unexpected exit this soon after a start that followed failures counts as one more. */
export function exitedTooSoon(failure: StartFailure | null, nowMs: number): boolean {
  return failure !== null && failure.runningSinceMs !== null && nowMs - failure.runningSinceMs < START_LASTED_MS;
}

/**
 * `start` with `also`, or — while the last starts failed and their backoff runs — only `also`
 * and a sentence saying how long and why. The sentence changes with each failure, not with
 * each second (the countdown is in the detail), so it is logged once per failure.
 */
export function startOrWait(input: HaInput, start: Extract<PostgresAction, { kind: "start" }>, reason: string, detail = "", also: readonly Action[] = []): HaDecision {
  assert(also.every((a) => a.kind === "dcs"), "only cluster-state commands go with a start");
  const failure = input.memory.startFailure;
  const leftMs = startWaitLeftMs(failure, input.nowMs);
  if (failure === null || leftMs === 0) return decision([...also, start], reason, detail);
  const times = failure.failures === 1 ? "once" : `${failure.failures} times in a row`;
  const waitS = Math.round(startBackoffMs(failure.failures) / 1000);
  return decision(also, `PostgreSQL failed to start ${times}: waiting ${waitS} s before starting it again`, `${failure.reason} (next start in ${Math.ceil(leftMs / 1000)} s)`);
}
