/**
 * What a failed pg_rewind means for the next step (issue 14): a rewind that was merely
 * interrupted — its source went away or stopped being the primary, as in a second failover — is
 * tried again against the primary of the moment and never counts toward wiping the data
 * directory; only a rewind that cannot work (pg_rewind says so) or that keeps failing against the
 * same healthy primary leads to a reinit (when allowed), with the reason. Pure.
 */
import type { MemberName } from "../dcs/model.js";
import type { PgFailure } from "./ports.js";

/** pg_rewind failures in a row against the same healthy primary before the data directory may be wiped. */
export const REWIND_ATTEMPTS_MAX = 2;

export type RewindVerdict =
  /** Rewind again (against whoever is the primary then); `failures` is the new count. */
  | { readonly kind: "retry"; readonly failures: number; readonly why: string }
  /** Rewinding will not work: decide() may reinit (rewindFailure). */
  | { readonly kind: "giveUp"; readonly why: string };

/**
 * `source`: the member the rewind ran against; `primaryNow`: the member that holds the lease and
 * runs as the primary now, or null; `failures`: failures in a row before this one.
 */
export function rewindVerdict(failure: PgFailure, source: MemberName, primaryNow: MemberName | null, failures: number): RewindVerdict {
  if (failure.code === "rewindImpossible") return { kind: "giveUp", why: failure.message };
  const moved = primaryNow !== source;
  if (failure.code === "sourceLost" || moved) {
    const now = primaryNow === null ? "no member is the primary yet" : `${primaryNow} is the primary now`;
    return { kind: "retry", failures, why: `pg_rewind against ${source} was interrupted (${now}); rewinding again against the primary of the moment, the data directory is kept` };
  }
  const count = failures + 1;
  if (count >= REWIND_ATTEMPTS_MAX) return { kind: "giveUp", why: failure.message };
  return { kind: "retry", failures: count, why: `pg_rewind against ${source} failed (${count} of ${REWIND_ATTEMPTS_MAX} before giving up): ${failure.message.split("\n", 1)[0] ?? ""}` };
}
